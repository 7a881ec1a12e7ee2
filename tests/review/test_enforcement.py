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


async def appealed(queue: ReviewQueue) -> tuple[str, dict, str]:
    from tests.support.enforcement import appeal

    case_id, decision = await decided(queue, actions=[("suspend_account", 30), ("hold_payouts", None)])
    result = await queue.file_appeal(appeal(decision["decision_id"], "u1"))
    assert result.status == "opened"
    return case_id, decision, result.case_id


async def test_an_appeal_is_heard_by_someone_else_and_reversing_undoes_each_action(
        queue: ReviewQueue) -> None:
    from pipeline.review.queue.errors import NotTheOriginalDecider

    case_id, decision, appeal_case = await appealed(queue)
    summary = await queue.summary(appeal_case)
    assert summary["kind"] == "appeal" and summary["appeal_of"] == "dec-1"
    assert summary["due_at"] == queue.clock() + queue.config.appeal_sla_seconds
    assert [c["case_id"] for c in (await queue.list_cases(kind="appeal"))[0]] == [appeal_case]
    assert appeal_case not in [c["case_id"] for c in (await queue.list_cases())[0]]
    with pytest.raises(NotTheOriginalDecider, match="another reviewer must hear the appeal"):
        await queue.claim(appeal_case, "ana")
    with pytest.raises(NotTheOriginalDecider):
        await queue.claim(appeal_case, "ana", lead=True)
    detail = await queue.case_detail(appeal_case)
    assert detail["appeal"]["decision"]["decision_id"] == "dec-1"
    assert len(detail["appeal"]["actions"]) == 2 and detail["appeal"]["flags"]
    await queue.claim(appeal_case, "bea")
    with pytest.raises(InvalidDecision, match="takes no actions of its own"):
        await queue.decide(appeal_case, "bea", "legitimate", actions=[("warn", None)])
    before = set(await queue.outbox_pending(ACTIONS_OUTBOX))
    reversed_ = (await queue.decide(appeal_case, "bea", "legitimate",
                                    decision_id="dec-appeal")).decision
    assert reversed_["appeal"] == "reversed" and reversed_["appeal_of"] == "dec-1"
    reversals = {a["action_id"]: a for a in reversed_["actions"]}
    assert {a["action"] for a in reversals.values()} == {"reinstate_account", "release_payouts"}
    assert {a["reverses"] for a in reversals.values()} == before
    assert set(await queue.outbox_pending(ACTIONS_OUTBOX)) == before | set(reversals)
    originals = await queue.case_actions(case_id)
    assert {a["reversed_by"] for a in originals} == set(reversals)
    # The corrected label: review.decided with the reversed outcome, on the original's events.
    label = json.loads((await queue.outbox_pending())["dec-appeal"])
    assert label["payload"]["outcome"] == "legitimate"
    assert label["payload"]["event_ids"] == decision["event_ids"]
    # A retried appeal decision publishes the same reversal ids again, nothing new.
    await queue.decide(appeal_case, "bea", "legitimate", decision_id="dec-appeal")
    assert set(await queue.outbox_pending(ACTIONS_OUTBOX)) == before | set(reversals)


async def test_upholding_an_appeal_keeps_the_actions_and_teaches_nothing_twice(
        queue: ReviewQueue) -> None:
    _case_id, _decision, appeal_case = await appealed(queue)
    await queue.claim(appeal_case, "bea")
    upheld = (await queue.decide(appeal_case, "bea", "confirmed_fraud",
                                 decision_id="dec-uphold")).decision
    assert upheld["appeal"] == "upheld" and upheld["policy_reason"] == "payment_fraud"
    assert "actions" not in upheld
    assert "dec-uphold" not in await queue.outbox_pending()
    assert len(await queue.outbox_pending(ACTIONS_OUTBOX)) == 2


async def test_appeals_that_are_not_the_subjects_or_restricted_nothing_are_refused(
        queue: ReviewQueue) -> None:
    from tests.support.enforcement import appeal

    _case_id, decision = await decided(queue)
    forged = await queue.file_appeal(appeal(decision["decision_id"], "u2"))
    assert forged.status == "refused" and "u2 is not the subject" in forged.reason
    f, event = flag("u3")
    other = (await queue.add_flag(f, event)).case_id
    await queue.claim(other, "ana")
    await queue.decide(other, "ana", "legitimate", decision_id="dec-legit")
    nothing = await queue.file_appeal(appeal("dec-legit", "u3"))
    assert nothing.status == "refused" and "restricted nothing" in nothing.reason
    first = await queue.file_appeal(appeal(decision["decision_id"], "u1"))
    again = await queue.file_appeal(appeal(decision["decision_id"], "u1"))
    assert (again.status, again.case_id) == ("duplicate", first.case_id)
