"""A decision produces the ``review.decided`` label event on tns.decisions, reliably (outbox)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from redis.asyncio import Redis

from pipeline.kafka.publisher import Publisher
from pipeline.review.queue import ReviewQueue
from pipeline.review.web.app import create_app
from pipeline.review.web.relay import OutboxRelay
from pipeline.settings import QueueSettings, ReviewSettings
from schemas.decode import decode_event
from schemas.topics import Topics
from tests.support.flags import flag, seed
from tests.support.kafka import read_topic
from tests.support.review import add_users
from tests.support.stack import Stack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def decisions(stack: Stack) -> list[dict]:
    return [json.loads(r.value) for r in
            read_topic(stack.settings.kafka_bootstrap, Topics.DECISIONS, idle=0.6)]


def test_a_decision_publishes_the_label_event_with_the_cases_event_ids(stack: Stack) -> None:
    items = [flag("u1", minutes=0), flag("u1", minutes=90), flag("u1", minutes=95,
                                                                 detector="signup.shared_device_ring")]
    case_ids = seed(stack.settings.redis_url, items)
    assert len(set(case_ids)) == 1
    case_id = case_ids[0]
    tokens = add_users(stack.settings.redis_url, {"alice": "analyst"})
    h = {"Authorization": f"Bearer {tokens['alice']}"}
    app = create_app(stack.settings, review=ReviewSettings(relay_interval=0.2, sample_interval=60))
    with TestClient(app) as c:
        assert c.post(f"/api/cases/{case_id}/claim", headers=h).status_code == 200
        decided = c.post(f"/api/cases/{case_id}/decision", headers=h, json={
            "outcome": "confirmed_fraud", "policy_reason": "off_platform_payment"}).json()
        wait_until(lambda: decisions(stack), 20, message="the review.decided event")
        again = c.post(f"/api/cases/{case_id}/decision", headers=h, json={
            "outcome": "confirmed_fraud", "policy_reason": "off_platform_payment",
            "decision_id": decided["decision"]["decision_id"]})
        assert again.json()["replayed"] is True
    published = decisions(stack)
    assert len(published) == 1
    event = decode_event(json.dumps(published[0]).encode(), topic=Topics.DECISIONS)
    assert event.type == "review.decided"
    assert event.subject_id == "u1"
    payload = event.payload
    assert payload.outcome == "confirmed_fraud"  # type: ignore[attr-defined]
    assert payload.policy_reason == "off_platform_payment"  # type: ignore[attr-defined]
    assert payload.case_id == case_id and payload.analyst_id == "alice"  # type: ignore[attr-defined]
    assert payload.entity_type == "user" and payload.entity_id == "u1"  # type: ignore[attr-defined]
    assert {str(e) for e in payload.event_ids} == {e["event_id"] for _, e in items}  # type: ignore[attr-defined]
    assert str(event.event_id) == decided["decision"]["event_id"]


async def test_the_outbox_relay_publishes_exactly_once_after_a_crash(stack: Stack) -> None:
    redis = Redis.from_url(stack.settings.redis_url)
    try:
        queue = ReviewQueue(redis, QueueSettings())
        f, event = flag("u9")
        case_id = (await queue.add_flag(f, event)).case_id
        await queue.claim(case_id, "alice")
        # The service records the decision and dies before any relay runs.
        decision = (await queue.decide(case_id, "alice", "legitimate", decision_id="dec-crash")).decision
        assert list(await queue.outbox_pending()) == ["dec-crash"]
        assert decisions(stack) == []

        def publisher() -> Publisher:
            return Publisher(stack.settings.kafka_bootstrap, client_id="vigil-review-test")

        # The restarted service (two instances of it) relays the backlog; later runs send nothing.
        first, second = OutboxRelay(queue, publisher), OutboxRelay(queue, publisher)
        assert await first.run_once() == 1
        assert await second.run_once() == 0
        assert await first.run_once() == 0
        first.close()
        second.close()
        assert await queue.outbox_pending() == {}
        assert await redis.hexists("vigil:outbox:published", "dec-crash")
    finally:
        await redis.aclose()
    published = decisions(stack)
    assert len(published) == 1
    assert published[0]["event_id"] == decision["event_id"]
    assert published[0]["payload"]["outcome"] == "legitimate"
    assert published[0]["payload"]["event_ids"] == [event["event_id"]]


async def test_an_unreachable_kafka_keeps_the_event_pending(stack: Stack) -> None:
    redis = Redis.from_url(stack.settings.redis_url)
    try:
        queue = ReviewQueue(redis, QueueSettings())
        f, event = flag("u8")
        case_id = (await queue.add_flag(f, event)).case_id
        await queue.claim(case_id, "alice")
        await queue.decide(case_id, "alice", "escalate", decision_id="dec-down")
        relay = OutboxRelay(queue, lambda: Publisher("127.0.0.1:9", delivery_timeout_ms=1500,
                                                     client_id="vigil-review-test"))
        assert await relay.run_once() == 0
        assert list(await queue.outbox_pending()) == ["dec-down"]
    finally:
        await redis.aclose()
