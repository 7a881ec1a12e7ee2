"""Review tests' clock and users, and running the async review code from synchronous tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from redis.asyncio import Redis

from pipeline.review.web.auth import UserStore

T = TypeVar("T")

USERS = {"alice": "analyst", "bob": "analyst", "lena": "lead", "eve": "engineer", "svc": "service"}


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = 1_767_600_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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
