"""Review tests' clock and users, and running the async review code from synchronous tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from redis.asyncio import Redis

from pipeline.review.web.auth import UserStore
from pipeline.settings import Settings

T = TypeVar("T")


def service_settings(redis_url: str, **kwargs: Any) -> Settings:
    """Settings for a review service on the embedded Redis with no broker behind it (the tests
    hand in a fake publisher), and a hash key as production must set one."""
    kwargs.setdefault("kafka_bootstrap", "127.0.0.1:9")
    return Settings(redis_url=redis_url, model_hash_key=SERVICE_HASH_KEY, **kwargs)


#: The hash key of :func:`service_settings` (what :func:`tests.support.flags.seed` indexes
#: the search digests under, so such a service finds what it seeds).
SERVICE_HASH_KEY = "test-hash-key-0123456789abcdef"


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


class FakePublisher:
    """Our :class:`pipeline.kafka.publisher.Publisher` port without Kafka, for API tests about
    what is refused before anything is published: it validates and keeps what it was given."""

    def __init__(self) -> None:
        self.published: list[Any] = []

    def publish(self, event: Any, **_: Any) -> str:
        from schemas.decode import decode_event_obj

        model = event if hasattr(event, "event_id") else decode_event_obj(event)
        self.published.append(model)
        return str(model.event_id)

    def flush(self, timeout: float = 0) -> None:
        pass


def add_service(redis_url: str, name: str, *, event_types: list[str] | None = None,
                producers: list[str] | None = None) -> str:
    """Create a service token scoped to ``event_types`` and ``producers``; returns the token."""
    async def run() -> str:
        redis = Redis.from_url(redis_url)
        try:
            return await UserStore(redis).add_user(name, "service", event_types=event_types,
                                                   producers=producers)
        finally:
            await redis.aclose()
    return run_sync(run)
