"""Flags and events for review tests, valid against the real contracts."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from redis.asyncio import Redis

from detectors.examples import example_event
from pipeline.review.queue import ReviewQueue
from pipeline.settings import QueueSettings
from schemas.outputs import Flag, flag_id_for
from tests.support.review import SERVICE_HASH_KEY, run_sync

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)


def message_event(sender: str = "u1", text: str = "send the deposit to my PayPal",
                  at: datetime = T0, **payload: Any) -> dict[str, Any]:
    event_id = str(uuid.uuid4())
    return example_event("message.sent", {"sender_id": sender, "text": text,
                                          "has_active_contract": False,
                                          "message_id": f"m_{event_id[:8]}", **payload},
                         event_id=event_id, occurred_at=at.isoformat().replace("+00:00", "Z"))


def flag_for(event: dict[str, Any], *, detector: str = "message.off_platform_payment",
             severity: str = "high", score: float = 0.85, dedup_seconds: int = 3600,
             entity_type: str = "user", entity_id: str | None = None,
             reason: str = "Asked to move payment off the platform", **extra: Any) -> Flag:
    at = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
    return Flag(
        flag_id=flag_id_for(event["event_id"], detector, "1"), event_id=event["event_id"],
        event_type=event["type"], subject_id=event["subject_id"], entity_type=entity_type,
        entity_id=entity_id or event["subject_id"], detector_id=detector, detector_version="1",
        is_ai=False, mode="enforce", severity=severity, score=score, reason=reason,
        occurred_at=at, flagged_at=at, dedup_seconds=dedup_seconds, **extra)


def flag(entity_id: str = "u1", *, minutes: float = 0, text: str = "pay me via venmo",
         **kwargs: Any) -> tuple[Flag, dict[str, Any]]:
    event = message_event(entity_id, text, T0 + timedelta(minutes=minutes))
    return flag_for(event, **kwargs), event


def seed(redis_url: str, items: list[tuple[Flag, dict[str, Any]]]) -> list[str]:
    """Add flags (with their events) from synchronous code; returns their case ids."""
    async def run() -> list[str]:
        redis = Redis.from_url(redis_url)
        try:
            queue = ReviewQueue(redis, QueueSettings(), search_key=SERVICE_HASH_KEY.encode())
            return [(await queue.add_flag(f, e)).case_id for f, e in items]
        finally:
            await redis.aclose()
    return run_sync(run)
