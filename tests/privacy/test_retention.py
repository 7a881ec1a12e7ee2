"""Retention on the embedded Redis: moving the queue's clock past a closed case's retention
leaves nothing of it in any key (its flags, events, samples, notes, decisions, actions, search
entries, status sets), and nothing of any case before; open and recent cases stay whole; the
audit log loses the entries past its own retention."""

from __future__ import annotations

import time

import pytest
import redis as redis_lib
from redis.asyncio import Redis

from pipeline.review.queue import ReviewQueue
from pipeline.review.queue.retention import DAY
from pipeline.settings import QueueSettings
from tests.support.flags import flag
from tests.support.person import dump
from tests.support.review import FakeClock

pytestmark = pytest.mark.integration
SETTINGS = QueueSettings()
KEY = "retention-test-key-0123456789"


async def a_decided_case(queue: ReviewQueue, user: str) -> dict[str, str]:
    f, event = flag(user)
    case_id = (await queue.add_flag(f, event)).case_id
    await queue.claim(case_id, "ana")
    await queue.add_note(case_id, "ana", f"{user} asked for gift cards again")
    decision = (await queue.decide(case_id, "ana", "confirmed_fraud",
                                   policy_reason="payment_fraud",
                                   actions=[("suspend_account", 30)])).decision
    return {"user": user, "case": case_id, "flag": f.flag_id, "event": event["event_id"],
            "decision": decision["decision_id"], "action": decision["actions"][0]["action_id"]}


def traces(client: redis_lib.Redis, ids: dict[str, str]) -> dict[str, list[str]]:
    """Key -> the ids of ``ids`` its name or value holds, the outboxes aside (relayed
    decisions and actions leave them; they are not the case's)."""
    found = {}
    for key, text in dump(client).items():
        if key.startswith("vigil:outbox"):
            continue
        hits = [name for name, value in ids.items() if value in key or value in text]
        if hits:
            found[key] = hits
    return found


async def test_a_closed_case_past_its_retention_leaves_nothing_behind(redis_url: str) -> None:
    clock = FakeClock(time.time())
    redis = Redis.from_url(redis_url)
    queue = ReviewQueue(redis, SETTINGS, clock)
    old = await a_decided_case(queue, "u_old_case")
    clock.advance(400 * DAY)
    recent = await a_decided_case(queue, "u_recent_case")
    f, event = flag("u_open_case")
    still_open = (await queue.add_flag(f, event)).case_id
    client = redis_lib.Redis.from_url(redis_url)
    assert traces(client, old) and traces(client, recent)

    # Not yet: 729 days after the old decision nothing goes.
    clock.advance(329 * DAY)
    assert await queue.enforce_retention() == {"cases": 0, "audit_entries": 0}
    clock.advance(2 * DAY)
    gone = await queue.enforce_retention()
    assert gone["cases"] == 1 and gone["audit_entries"] > 0
    assert traces(client, old) == {}
    for kept in (recent["case"], still_open):
        detail = await queue.case_detail(kept)
        assert detail is not None and detail["flags"] and detail["events"]
    assert set(traces(client, recent)) >= {f"vigil:case:{recent['case']}",
                                           f"vigil:decision:{recent['decision']}",
                                           f"vigil:action:{recent['action']}"}
    found = await queue.search(recent["user"], "user")
    assert [c["case_id"] for c in found] == [recent["case"]]
    assert await queue.search(old["user"], "user") == []
    # The audit log keeps what is younger than its retention: the recent case's entries.
    actions = [f[b"case_id"].decode() for _, f in client.xrange("vigil:audit")]
    assert recent["case"] in actions and old["case"] not in actions

    clock.advance(SETTINGS.case_retention_days * DAY)
    assert (await queue.enforce_retention())["cases"] == 1
    assert traces(client, recent) == {}
    assert await queue.case_detail(still_open) is not None  # open cases are live work
    await redis.aclose()


def test_retention_shorter_than_the_appeal_window_is_refused() -> None:
    with pytest.raises(ValueError, match="a case must outlive its appeals"):
        QueueSettings(case_retention_days=30)
    assert QueueSettings(case_retention_days=0).case_retention_days == 0  # for ever


def test_the_command_applies_retention_now(redis_url: str, tmp_path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from pipeline.cli.main import app
    from tests.support.review import run_sync

    async def an_old_case() -> dict[str, str]:
        redis = Redis.from_url(redis_url)
        try:
            queue = ReviewQueue(redis, SETTINGS, FakeClock(time.time() - 800 * DAY),
                                search_key=KEY.encode())
            return await a_decided_case(queue, "u_old")
        finally:
            await redis.aclose()
    old = run_sync(an_old_case)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VIGIL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("VIGIL_MODEL_HASH_KEY", KEY)
    result = CliRunner().invoke(app, ["privacy", "retention"])
    assert result.exit_code == 0, result.output
    assert "1 closed cases" in result.output
    assert traces(redis_lib.Redis.from_url(redis_url), old) == {}
