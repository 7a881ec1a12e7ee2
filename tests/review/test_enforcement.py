"""Platform actions on a real Redis: chosen with a decision, checked against the vocabulary,
kept once per action id, put in the actions' outbox, acknowledged idempotently."""

from __future__ import annotations

import json

import pytest

from pipeline.review.queue import InvalidDecision, ReviewQueue
from pipeline.review.queue.outbox import ACTIONS_OUTBOX
from schemas.actions import PlatformAction, action_id_for
from tests.support.enforcement import ack
from tests.support.flags import flag
from tests.support.review import FakeClock

pytestmark = pytest.mark.integration


async def decided(queue: ReviewQueue, user: str = "u1", actions=(("suspend_account", 30),),
                  decision_id: str = "dec-1") -> tuple[str, dict]:
    f, event = flag(user)
    case_id = (await queue.add_flag(f, event)).case_id
    await queue.claim(case_id, "ana")
    result = await queue.decide(case_id, "ana", "confirmed_fraud", policy_reason="payment_fraud",
                                decision_id=decision_id, actions=list(actions))
    return case_id, result.decision


async def test_a_decision_puts_each_action_in_the_outbox_once(queue: ReviewQueue) -> None:
    case_id, decision = await decided(queue, actions=[("suspend_account", 30), ("hold_payouts", None)])
    pending = await queue.outbox_pending(ACTIONS_OUTBOX)
    ids = {action_id_for("dec-1", a, "user", "u1") for a in ("suspend_account", "hold_payouts")}
    assert set(pending) == ids
    assert {a["action_id"] for a in decision["actions"]} == ids
    record = PlatformAction.model_validate_json(pending[action_id_for("dec-1", "suspend_account",
                                                                      "user", "u1")])
    assert record.duration_days == 30 and record.restrictive and record.subject_id == "u1"
    statement = record.statement
    assert statement is not None and statement.restriction.ends_at is not None
    assert statement.automated_detection and not statement.automated_decision
    assert "payment_fraud" in statement.text and "appeal" in statement.text
    assert "matched rule message.off_platform_payment" in statement.facts[0]
    # The same decision again (a retried request): nothing new anywhere.
    await queue.decide(case_id, "ana", "confirmed_fraud", policy_reason="payment_fraud",
                       decision_id="dec-1", actions=[("suspend_account", 30)])
    assert set(await queue.outbox_pending(ACTIONS_OUTBOX)) == ids
    assert len(await queue.case_actions(case_id)) == 2
    assert {a["state"] for a in await queue.case_actions(case_id)} == {"pending"}


@pytest.mark.parametrize(("actions", "message"), [
    ([("teleport", None)], "unknown action 'teleport'"),
    ([("remove_job_post", None)], "remove_job_post applies to job_post, not user"),
    ([("suspend_account", None)], "suspend_account needs duration_days"),
    ([("suspend_account", 400)], "suspend_account lasts 1 to 365 days, not 400"),
    ([("ban", 7)], "ban takes no duration"),
])
async def test_wrong_actions_are_refused_and_decide_nothing(queue: ReviewQueue, actions,
                                                            message: str) -> None:
    f, event = flag("u1")
    case_id = (await queue.add_flag(f, event)).case_id
    await queue.claim(case_id, "ana")
    with pytest.raises(InvalidDecision, match=message):
        await queue.decide(case_id, "ana", "confirmed_fraud", policy_reason="spam",
                           decision_id="dec-x", actions=actions)
    assert (await queue.summary(case_id))["status"] == "open"
    assert await queue.outbox_pending(ACTIONS_OUTBOX) == {}


async def test_actions_only_go_with_confirmed_fraud(queue: ReviewQueue) -> None:
    f, event = flag("u1")
    case_id = (await queue.add_flag(f, event)).case_id
    await queue.claim(case_id, "ana")
    with pytest.raises(InvalidDecision, match="actions go with a confirmed_fraud decision"):
        await queue.decide(case_id, "ana", "legitimate", actions=[("warn", None)])


async def test_acknowledgements_update_the_state_once_and_in_order(queue: ReviewQueue,
                                                                   clock: FakeClock) -> None:
    from datetime import datetime, timedelta, timezone

    case_id, decision = await decided(queue)
    action = json.loads(next(iter((await queue.outbox_pending(ACTIONS_OUTBOX)).values())))
    t = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)
    failed = ack(action, failed="account service timed out", at=t)
    assert (await queue.acknowledge(failed)).status == "failed"
    assert (await queue.acknowledge(failed)).status == "duplicate"  # redelivered
    [view] = await queue.case_actions(case_id)
    assert (view["state"], view["reason"]) == ("failed", "account service timed out")
    assert await queue.redis.smembers("vigil:actions:failed") == {action["action_id"].encode()}
    applied = ack(action, at=t + timedelta(minutes=5))
    assert (await queue.acknowledge(applied)).status == "applied"
    # The older failure, delivered late under a new id, does not overwrite the newer state.
    late = ack(action, failed="old", at=t - timedelta(minutes=1))
    assert (await queue.acknowledge(late)).status == "stale"
    [view] = await queue.case_actions(case_id)
    assert view["state"] == "applied" and len(view["acks"]) == 3
    assert await queue.redis.scard("vigil:actions:failed") == 0
    detail = await queue.case_detail(case_id)
    assert detail["actions"][0]["state"] == "applied"


async def test_an_acknowledgement_for_an_unknown_action_or_another_user_is_unknown(
        queue: ReviewQueue) -> None:
    await decided(queue)
    action = json.loads(next(iter((await queue.outbox_pending(ACTIONS_OUTBOX)).values())))
    forged = ack({**action, "subject_id": "u2"})
    assert (await queue.acknowledge(forged)).status == "unknown"
    stranger = ack({**action, "action_id": "00000000-0000-4000-8000-000000000000"})
    result = await queue.acknowledge(stranger)
    assert result.status == "unknown" and "no action" in result.reason
