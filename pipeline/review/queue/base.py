"""What every part of the queue shares: the Redis client, the settings, the clock, the scripts,
and reading the values Redis returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from pipeline.review.queue.scripts import Scripts
from pipeline.settings import DEVELOPMENT_HASH_KEY, QueueSettings


class QueueBase:
    """Cases in Redis. ``clock`` returns epoch seconds (tests pass a fake one)."""

    def __init__(self, redis: Redis, config: QueueSettings | None = None,
                 clock: Callable[[], float] = time.time, *,
                 search_key: bytes = DEVELOPMENT_HASH_KEY.encode()) -> None:
        self.redis = redis
        self.config = config or QueueSettings()
        self.clock = clock
        #: Keys the search index's digests (the models' hashing key, Settings.model_key():
        #: the worker that writes the index and the service that reads it pass the same).
        self.search_key = search_key
        self.scripts = Scripts.register(redis)


def as_str(value: Any) -> str:
    """A Redis reply as text.

    >>> as_str(b"case_1"), as_str(3)
    ('case_1', '3')
    """
    return value.decode() if isinstance(value, bytes) else str(value)


def as_float(value: Any, default: float = 0.0) -> float:
    """A Redis reply as a number; ``default`` when it is missing, empty or not a number.

    >>> as_float(b"1.5"), as_float(None, 7.0), as_float(b"x")
    (1.5, 7.0, 0.0)
    """
    try:
        return float(as_str(value)) if value not in (None, b"", "") else default
    except ValueError:
        return default
