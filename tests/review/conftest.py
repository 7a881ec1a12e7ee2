"""Fixtures for the review queue and service: a real embedded Redis (one per module, flushed
before each test), a settable clock, users and an app on that Redis. Tests that need Kafka use the
``stack`` fixture from tests/conftest.py."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis as redis_lib
from redis.asyncio import Redis

from pipeline.local.embedded import ServerProcess, start_redis
from pipeline.review.queue import ReviewQueue
from pipeline.review.web.auth import UserStore
from pipeline.settings import QueueSettings

T = TypeVar("T")


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = 1_767_600_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to the end from synchronous test code, in its own thread, so it works
    even where the thread already runs an event loop (Playwright's sync API does)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def add_users(redis_url: str, users: dict[str, str]) -> dict[str, str]:
    """Create users {name: role}; returns {name: token}."""
    async def run() -> dict[str, str]:
        redis = Redis.from_url(redis_url)
        try:
            store = UserStore(redis)
            return {name: await store.add_user(name, role) for name, role in users.items()}
        finally:
            await redis.aclose()
    return run_sync(run)


USERS = {"alice": "analyst", "bob": "analyst", "lena": "lead", "eve": "engineer", "svc": "service"}
