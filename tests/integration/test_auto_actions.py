"""Automatic actions on the embedded stack: a worker configured to restrict messaging when the
off-platform-payment rule fires takes the action at once (decided by automated means, on the
flag's case, which stays open for review), once however often the event is delivered; a shadow
or low-score flag takes none. The review service's relay publishes it to tns.actions."""

from __future__ import annotations

import json
from pathlib import Path

from redis.asyncio import Redis

from pipeline.kafka.publisher import Publisher
from pipeline.review.queue import ReviewQueue
from pipeline.review.web.relay import OutboxRelay
from schemas.topics import Topics
from tests.support.flags import message_event
from tests.support.kafka import read_topic
from tests.support.labelling import publish
from tests.support.review import run_sync
from tests.support.stack import Stack, with_settings
from tests.support.traffic import wait_processed

CONFIG = """
version: 1
auto_actions:
  - detector: message.off_platform_payment
    min_score: 0.8
    action: restrict_messaging
    duration_days: 7
    policy_reason: off_platform_payment
"""


def test_a_configured_rule_restricts_messaging_once_and_leaves_the_case_open(
        stack: Stack, tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    config = tmp_path / "auto.yaml"
    config.write_text(CONFIG)
    with_settings(stack, auto_actions=str(config))
    stack.start_worker()
    at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    scam = message_event("u_scam", "send the deposit to my PayPal before we start", at=at)
    fine = message_event("u_fine", "I will send the first draft tomorrow", at=at)
    publish(stack, [scam, fine])
    publish(stack, [scam])  # redelivered
    wait_processed(stack, {scam["event_id"], fine["event_id"]})

    async def run() -> tuple[list, dict, int]:
        redis = Redis.from_url(stack.settings.redis_url)
        try:
            queue = ReviewQueue(redis)
            items, _ = await queue.list_cases(limit=50)
            [case] = [c for c in items if c["entity_id"] == "u_scam"]
            actions = await queue.case_actions(case["case_id"])
            relay = OutboxRelay(queue, lambda: Publisher(stack.settings.kafka_bootstrap))
            sent = await relay.run_once()
            relay.close()
            return actions, case, sent
        finally:
            await redis.aclose()
    actions, case, sent = run_sync(run)
    assert case["status"] == "open"  # for an analyst to review
    assert [(a["action"], a["record"]["duration_days"]) for a in actions] == [("restrict_messaging", 7)]
    record = actions[0]["record"]
    assert record["automated_decision"] and record["decided_by"] == "automatic:message.off_platform_payment"
    assert record["decision_id"].startswith("auto_flg_")
    assert "taken by automated means" in record["statement"]["text"]
    assert sent == 1
    published = [json.loads(r.value) for r in
                 read_topic(stack.settings.kafka_bootstrap, Topics.ACTIONS, idle=0.6)]
    assert [p["action_id"] for p in published] == [record["action_id"]]
    audit = [e for e in stack.client.xrange("vigil:audit") if e[1][b"action"] == b"auto_action"]
    assert len(audit) == 1
