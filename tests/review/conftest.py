"""Fixtures for the review queue and service: a real embedded Redis (one per module, flushed
before each test), a settable clock, and a queue on that Redis. Tests that need Kafka use the
``stack`` fixture (tests/support/fixtures.py); helpers are in tests/support/review.py and
tests/support/flags.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from redis.asyncio import Redis

from pipeline.local.embedded import ServerProcess, start_redis
from pipeline.review.queue import ReviewQueue
from pipeline.settings import QueueSettings
from tests.support.review import FakeClock


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_redis(Path(tmp_path_factory.mktemp("review-redis")), appendfsync="no")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: ServerProcess) -> str:
    client = redis_lib.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


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
