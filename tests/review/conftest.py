"""Fixtures for the review queue and service: a settable clock and a queue on the embedded Redis
(``redis_url``, tests/support/fixtures.py). Tests that need Kafka use the
``stack`` fixture (tests/support/fixtures.py); helpers are in tests/support/review.py and
tests/support/flags.py."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from pipeline.review.queue import ReviewQueue
from pipeline.settings import QueueSettings
from tests.support.review import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def queue(redis_url: str, clock: FakeClock) -> AsyncIterator[ReviewQueue]:
    redis = Redis.from_url(redis_url)
    try:
        yield ReviewQueue(redis, QueueSettings(), clock)
    finally:
        await redis.aclose()
