"""The platform's answers on the embedded stack: a worker takes ``action.failed`` /
``action.applied`` from ``tns.action_results`` and ``appeal.filed`` from ``tns.appeals`` to the
review queue, idempotently; a forged appeal and an acknowledgement of an unknown action are
dead-lettered as ``refused`` with the reason; the failed action shows on the case and in the
review service's ``vigil_actions_failed`` gauge (what the alert reads)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from redis.asyncio import Redis

from pipeline import metrics
from pipeline.review.queue import ReviewQueue
from schemas.topics import Topics
from tests.support.enforcement import ack, appeal
from tests.support.flags import flag
from tests.support.kafka import read_topic
from tests.support.labelling import publish
from tests.support.review import run_sync
from tests.support.stack import Stack
from tests.support.traffic import wait_processed
from tests.support.waiting import wait_until


def in_queue(stack: Stack, make):  # noqa: ANN001, ANN201 - a coroutine on a fresh client
    async def run():  # noqa: ANN202
        redis = Redis.from_url(stack.settings.redis_url)
        try:
            return await make(ReviewQueue(redis))
        finally:
            await redis.aclose()
    return run_sync(run)


async def decide_with_suspension(queue: ReviewQueue) -> tuple[str, dict]:
    f, event = flag("u1")
    case_id = (await queue.add_flag(f, event)).case_id
    await queue.claim(case_id, "ana")
    decision = (await queue.decide(case_id, "ana", "confirmed_fraud", policy_reason="spam",
                                   decision_id="dec-p1",
                                   actions=[("suspend_account", 7)])).decision
    return case_id, decision


def refused_letters(stack: Stack) -> list[dict]:
    return [json.loads(r.value) for r in
            read_topic(stack.settings.kafka_bootstrap, Topics.DEAD_LETTERS, idle=0.6)
            if json.loads(r.value)["kind"] == "refused"]


def test_acknowledgements_and_appeals_reach_the_case_once(stack: Stack) -> None:
    case_id, decision = in_queue(stack, decide_with_suspension)
    [action] = decision["actions"]
    record = {**action, "subject_id": "u1"}
    now = datetime.now(timezone.utc).replace(microsecond=0)
    failed = ack(record, failed="accounts service: user locked by another job",
                 at=now - timedelta(minutes=2))
    stack.start_worker()
    events = [failed.model_dump(mode="json")]
    publish(stack, events)
    publish(stack, events)  # redelivered
    wait_processed(stack, {str(failed.event_id)})
    actions = in_queue(stack, lambda q: q.case_actions(case_id))
    assert [(a["state"], a["reason"]) for a in actions] == [
        ("failed", "accounts service: user locked by another job")]
    assert len(actions[0]["acks"]) == 1
    in_queue(stack, lambda q: q.export_enforcement())
    assert metrics.REVIEW.get_sample_value("vigil_actions_failed") == 1.0

    applied = ack(record, at=now - timedelta(minutes=1))
    stranger = ack({**record, "action_id": str(uuid.uuid4())}, at=now)
    forged = appeal(decision["decision_id"], "u2", at=now)
    own = appeal(decision["decision_id"], "u1", at=now)
    publish(stack, [e.model_dump(mode="json") for e in (applied, stranger, forged, own)])
    wait_processed(stack, {str(applied.event_id), str(own.event_id)})
    wait_until(lambda: len(refused_letters(stack)) == 2, 60, message="two refused letters")
    reasons = sorted(letter["reason"] for letter in refused_letters(stack))
    assert "no action" in reasons[0]
    assert "user u2 is not the subject of decision dec-p1" in reasons[1]
    assert in_queue(stack, lambda q: q.case_actions(case_id))[0]["state"] == "applied"
    in_queue(stack, lambda q: q.export_enforcement())
    assert metrics.REVIEW.get_sample_value("vigil_actions_failed") == 0.0
    appeals, total = in_queue(stack, lambda q: q.list_cases(kind="appeal"))
    assert total == 1 and appeals[0]["appeal_of"] == "dec-p1"
    assert appeals[0]["original_decider"] == "ana" and appeals[0]["subject_id"] == "u1"
    # The same appeal sent again by the platform (a retry: a new event id): no second case.
    again = appeal(decision["decision_id"], "u1", appeal_id=own.payload.appeal_id, at=now)
    publish(stack, [again.model_dump(mode="json")])
    wait_processed(stack, {str(again.event_id)})
    assert in_queue(stack, lambda q: q.list_cases(kind="appeal"))[1] == 1
    assert stack.client.get("vigil:stats:appeals_filed") == b"1"
