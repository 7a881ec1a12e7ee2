"""Every key a running stack writes belongs to an inventory entry: simulated traffic through
the worker, then an analyst's day through the review service's API (claim, note, decide,
snooze, a saved filter, a published event, a refused login), the decisions relayed and
learned, and a rule deploy. A new key family that reaches Redis without an entry fails here;
so does a key of a family kept by a TTL without one (or a longer one than its period), anything
of a decided case left once the queue's clock has moved past the case retention, and a
per-minute bucket or ledger entry left past theirs."""

from __future__ import annotations

import time

import httpx
import pytest
from redis.asyncio import Redis

from detectors.features import HORIZON, PROFILE_TTL
from detectors.ruleset import default_sources
from pipeline.local.embedded import free_port
from pipeline.models.keys import APPLIED
from pipeline.privacy.inventory import entry_for_key
from pipeline.review.queue import ReviewQueue
from pipeline.review.queue.retention import DAY
from pipeline.rules.store import RuleStore
from pipeline.settings import QueueSettings, ReviewSettings, Settings
from pipeline.stores import ledger
from tests.support.labelling import publish
from tests.support.person import dump
from tests.support.review import add_service, add_users, run_sync
from tests.support.stack import Stack
from tests.support.traffic import simulated, wait_caught_up, wait_processed
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def an_analysts_day(base: str, analyst: str, service: str, event: dict) -> None:
    auth = {"Authorization": f"Bearer {analyst}"}
    with httpx.Client(base_url=base, headers=auth, timeout=30) as api:
        cases = api.get("/api/cases", params={"limit": 5}).json()["items"]
        assert cases, "the traffic opened no case"
        for n, case in enumerate(cases[:3]):
            case_id = case["case_id"]
            assert api.post(f"/api/cases/{case_id}/claim").status_code == 200
            assert api.post(f"/api/cases/{case_id}/notes", json={"text": "seen before"}).status_code == 201
            outcome = "confirmed_fraud" if n else "legitimate"
            body = {"outcome": outcome, "policy_reason": "spam" if n else ""}
            assert api.post(f"/api/cases/{case_id}/decision", json=body).status_code == 200
        snooze = {"entity_type": "user", "entity_id": "usr_x", "detector_id": "proposal.burst",
                  "duration_seconds": 3600, "reason": "travelling"}
        assert api.post("/api/snoozes", json=snooze).status_code == 201
        assert api.put("/api/filters", json={"name": "mine", "query": "status=open"}).status_code == 200
    published = httpx.post(f"{base}/api/events", json=event, timeout=30,
                           headers={"Authorization": f"Bearer {service}"})
    assert published.status_code in (200, 202), published.text
    refused = httpx.get(f"{base}/api/me", headers={"Authorization": "Bearer vgl_forged"})
    assert refused.status_code == 401


def test_every_key_a_running_stack_writes_has_an_inventory_entry(stack: Stack) -> None:
    stack.start_worker()
    events = simulated(1500, seed=5, fraud_rate=0.2)
    publish(stack, events[:-1])
    wait_processed(stack, {e["event_id"] for e in events[:-1]})
    wait_caught_up(stack)
    tokens = add_users(stack.settings.redis_url, {"ana": "analyst"})
    service = add_service(stack.settings.redis_url, "market", event_types=[events[-1]["type"]],
                          producers=[events[-1]["producer"]])
    port = free_port()
    stack.start_review(port)
    an_analysts_day(f"http://127.0.0.1:{port}", tokens["ana"], service, events[-1])
    wait_until(lambda: stack.client.scard(APPLIED) > 0, 90,
               message="the learner to learn a relayed decision")
    RuleStore(stack.client).deploy(default_sources(), author="bo", message="same rules")

    keys = {k.decode() for k in stack.client.scan_iter(count=5000)}
    assert len(keys) > 1000
    families = {entry_for_key(k).family for k in keys if entry_for_key(k)}
    # The traffic reached the stores the inventory is about.
    assert {"case", "case notes", "decision", "snooze", "audit log", "flagged event",
            "consent history", "user feature windows",
            "model inputs awaiting a label", "labelling sample"} <= families
    assert sorted(k for k in keys if entry_for_key(k) is None) == []
    the_retention_periods_are_enforced(stack, keys)


def ttl_bounds() -> dict[str, float]:
    """Each personal TTL family's longest period (seconds), from the defaults it is set by."""
    s, q, r = Settings(), QueueSettings(), ReviewSettings()
    windows = {f: HORIZON for f in ("user feature windows", "cover-letter fingerprints",
                                    "accounts per device", "accounts per /24")}
    profiles = {f: PROFILE_TTL for f in ("user profile features", "public profile features",
                                         "job features")}
    links = {f: s.link_retention for f in ("links of an account", "text links of an account",
                                           "accounts per link key", "accounts per text band",
                                           "confirmed fraud accounts")}
    return {**windows, **profiles, **links, "event digests": s.ledger_retention,
            "snooze": 30 * DAY, "subject history": q.history_retention_seconds,
            "content of a message or proposal": q.report_content_seconds,
            "console sessions": r.session_seconds,
            "join books": 2 * HORIZON, "held events": 2 * HORIZON,  # the stash's TTL
            "model inputs awaiting a label": s.model_input_ttl,
            "scored content awaiting a report": max(s.model_report_window, s.model_input_ttl)}


def the_trimmed_series_and_ledger_are_emptied(stack: Stack) -> None:
    """Past the per-minute series' and the processing ledger's periods (their writers trim):
    not a bucket or an entry is left."""
    series = [k for k in stack.client.scan_iter(match="vigil:ts:*")
              if stack.client.type(k) == b"hash"]
    assert any(stack.client.hlen(k) for k in series)
    later = time.time() + QueueSettings().series_retention_seconds + 120

    async def trim() -> None:
        redis = Redis.from_url(stack.settings.redis_url)
        try:
            await ReviewQueue(redis, QueueSettings(), lambda: later).trim_series()
            await ledger.trim(redis, later - Settings().ledger_retention)
        finally:
            await redis.aclose()
    run_sync(trim)
    assert {k.decode(): stack.client.hlen(k) for k in series if stack.client.hlen(k)} == {}
    assert stack.client.zcard(ledger.KEY) == 0


def the_retention_periods_are_enforced(stack: Stack, keys: set[str]) -> None:
    """Every key of a family kept by a TTL carries one (Redis's clock ends it); moving the
    queue's clock past the case retention takes the decided cases with everything of them
    (their ids are nowhere after), and past the audit retention the audit log's entries."""
    client = stack.client
    without = sorted(k for k in keys if (e := entry_for_key(k)) and e.expiry == "ttl"
                     and client.pttl(k) == -1)
    assert without == []
    # ...and none longer than its family's declared period (the personal ones).
    bounds = ttl_bounds()
    for key in keys:
        entry = entry_for_key(key)
        if entry is None or entry.expiry != "ttl" or not entry.personal:
            continue
        assert entry.family in bounds, f"{entry.family}: state its period in ttl_bounds()"
        assert client.pttl(key) <= bounds[entry.family] * 1000, (key, entry.retention)
    closed = [m.decode() for m in client.zrange("vigil:closed", 0, -1)]
    assert len(closed) == 3
    ids = set(closed) | {f.decode() for c in closed
                         for f in client.lrange(f"vigil:case:{c}:flags", 0, -1)}
    later = time.time() + (QueueSettings().case_retention_days + 1) * DAY

    async def sweep() -> dict[str, int]:
        redis = Redis.from_url(stack.settings.redis_url)
        try:
            return await ReviewQueue(redis, QueueSettings(), lambda: later).enforce_retention()
        finally:
            await redis.aclose()
    gone = run_sync(sweep)
    assert gone["cases"] == 3 and gone["audit_entries"] > 0
    the_trimmed_series_and_ledger_are_emptied(stack)
    left = {k: [i for i in ids if i in k or i in text] for k, text in dump(client).items()
            if not k.startswith("vigil:outbox")}
    assert {k: v for k, v in left.items() if v} == {}
    assert client.xlen("vigil:audit") == 0
    assert client.zcard("vigil:queue") > 0  # the open cases stay
