"""The publisher refuses what the workers would dead-letter as ``clock_skew``, before the consent
registry or Kafka sees it: a consent record dated in the future would outrank every real change
made before that date."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import redis

from detectors.examples import example_event
from pipeline.kafka.publisher import Publisher
from pipeline.settings import Settings
from schemas.errors import InvalidEvent

NOW = datetime(2026, 12, 2, 12, tzinfo=timezone.utc)
#: Nothing listens there: a refused event must never get as far as a connection attempt.
NO_BROKER = "127.0.0.1:9"


def consent(at: datetime, changed_at: datetime | None = None) -> dict:
    return example_event("consent.changed", {
        "user_id": "u_clock", "ai_features": "opted_in",
        "changed_at": (changed_at or at).isoformat()}) | {
        "subject_id": "u_clock", "occurred_at": at.isoformat()}


def publisher(redis_url: str, skew: float = 300) -> Publisher:
    bound = Settings(embedded=True, max_clock_skew=skew).clock_bound()
    return Publisher(NO_BROKER, consent_registry=redis_url, clock_bound=bound,
                     clock=NOW.timestamp)


def test_a_consent_change_dated_past_the_bound_is_refused_before_the_registry(
        redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    sender = publisher(redis_url)
    with pytest.raises(InvalidEvent) as refused:
        sender.publish(consent(datetime(9999, 1, 1, tzinfo=timezone.utc)))
    assert refused.value.kind == "clock_skew" and "at most 300 s ahead" in str(refused.value)
    assert client.keys("*") == []


def test_the_bound_is_the_workers_setting(redis_url: str) -> None:
    ten_minutes_on = NOW + timedelta(minutes=10)
    with pytest.raises(InvalidEvent):
        publisher(redis_url).publish(consent(ten_minutes_on))
    client = redis.Redis.from_url(redis_url)
    client.delete("vigil:consent:u_clock")
    lenient = publisher(redis_url, skew=3600)
    lenient.publish(consent(ten_minutes_on))
    assert client.zcard("vigil:consent:u_clock") == 1  # written through


def test_a_change_dated_after_its_own_event_is_no_valid_event(redis_url: str) -> None:
    # Inside the bound, but the change claims to come after the event that reports it.
    with pytest.raises(InvalidEvent) as refused:
        publisher(redis_url).publish(consent(NOW, changed_at=NOW + timedelta(minutes=1)))
    assert refused.value.kind == "invalid_field" and "after the event's occurred_at" in str(
        refused.value)
