"""``vigil report transparency`` on simulated traffic: the simulator's events through a worker,
analysts' decisions with actions, appeals upheld and reversed; the report's counts are what the
test did and what the audit log holds, in JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import datetime, timedelta, timezone

from redis.asyncio import Redis
from typer.testing import CliRunner

from detectors.enforcement import vocabulary
from pipeline.cli.main import app
from pipeline.review.queue import ReviewQueue
from tests.support.enforcement import appeal
from tests.support.review import run_sync
from tests.support.stack import Stack
from tests.support.traffic import publish_in_causal_phases, simulated


def first_restrictive(entity_type: str) -> tuple[str, int | None]:
    spec = next(s for s in vocabulary().for_entity(entity_type) if s.restrictive)
    return spec.name, (spec.choices_days[0] if spec.duration == "required" else None)


async def work_the_queue(queue: ReviewQueue) -> dict:
    """Decide the open cases in turn: fraud with an action, legitimate, escalate; then appeal
    two fraud decisions about users, one upheld and one reversed by a second analyst."""
    cases, _ = await queue.list_cases(limit=30)
    chosen: Counter[tuple[str, str, str]] = Counter()
    fraud_on_users: list[dict] = []
    outcomes: Counter[str] = Counter()
    for n, case in enumerate(cases):
        await queue.claim(case["case_id"], "ana")
        outcome = ("confirmed_fraud", "legitimate", "escalate")[n % 3]
        actions = [first_restrictive(case["entity_type"])] if outcome == "confirmed_fraud" else []
        decision = (await queue.decide(case["case_id"], "ana", outcome, policy_reason=(
            "payment_fraud" if outcome == "confirmed_fraud" else ""), actions=actions)).decision
        outcomes[outcome] += 1
        for name, _days in actions:
            chosen[("payment_fraud", case["entity_type"], name)] += 1
        if outcome == "confirmed_fraud" and case["entity_type"] == "user":
            fraud_on_users.append(decision)
    assert len(fraud_on_users) >= 2, "the simulated traffic flagged too few users"
    for decision, outcome in zip(fraud_on_users[:2], ("confirmed_fraud", "legitimate")):
        filed = await queue.file_appeal(appeal(decision["decision_id"], decision["subject_id"]))
        await queue.claim(filed.case_id, "bea")
        await queue.decide(filed.case_id, "bea", outcome)
        outcomes[outcome] += 1
    return {"chosen": chosen, "outcomes": outcomes}


def test_the_report_counts_what_the_audit_log_holds(stack: Stack) -> None:
    stack.start_worker()
    events = simulated(600, seed=5, fraud_rate=0.3)
    publish_in_causal_phases(stack, events)

    async def run() -> dict:
        redis = Redis.from_url(stack.settings.redis_url)
        try:
            return await work_the_queue(ReviewQueue(redis))
        finally:
            await redis.aclose()
    did = run_sync(run)
    now = datetime.now(timezone.utc)
    window = ["--from", (now - timedelta(hours=1)).isoformat(),
              "--to", (now + timedelta(hours=1)).isoformat()]
    env = {"REDIS_URL": stack.settings.redis_url, "VIGIL_REDIS_URL": stack.settings.redis_url}
    out = CliRunner().invoke(app, ["report", "transparency", *window], env=env)
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)

    assert {(a["policy_ground"], a["entity_type"], a["action"]): a["count"]
            for a in report["actions"]} == dict(did["chosen"])
    assert report["actions_total"] == sum(did["chosen"].values())
    assert report["automated_detection"] == report["actions_total"]  # every case was a detection's
    assert report["automated_decision"] == 0
    assert (report["appeals_filed"], report["appeals_upheld"], report["appeals_reversed"]) == (2, 1, 1)
    assert report["reversals"] == 1  # the reversed appeal undid its one action
    assert report["median_hours_to_decision"] is not None
    assert report["decisions"] == dict(did["outcomes"])
    # The audit log itself: every decision, action and appeal the report counted is an entry.
    audit = stack.client.xrange("vigil:audit")
    decides = [json.loads(f[b"details"]) for _, f in audit if f[b"action"] == b"decide"]
    assert len(decides) == sum(report["decisions"].values())
    assert sum(len([a for a in d.get("actions", []) if a["kind"] == "apply"])
               for d in decides) == report["actions_total"]
    assert sum(1 for _, f in audit if f[b"action"] == b"appeal_filed") == report["appeals_filed"]

    as_csv = CliRunner().invoke(app, ["report", "transparency", *window, "--format", "csv"],
                                env=env)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert sum(int(r["value"]) for r in rows if r["metric"] == "actions") == report["actions_total"]
    assert next(r for r in rows if r["metric"] == "appeals_reversed")["value"] == "1"
    empty = CliRunner().invoke(app, ["report", "transparency", "--from", "2020-01-01",
                                     "--to", "2020-01-02"], env=env)
    assert json.loads(empty.stdout)["actions_total"] == 0
    bad = CliRunner().invoke(app, ["report", "transparency", "--from", "yesterday", "--to", "x"],
                             env=env)
    assert bad.exit_code == 2
