"""The review service's settings, from ``VIGIL_REVIEW_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipeline.review.queue import QueueConfig


@dataclass(frozen=True)
class ReviewSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    #: Console sessions end this long after login.
    session_seconds: int = 8 * 3600
    #: Signs session cookies; when unset one random secret is kept in Redis for all instances.
    secret: str | None = None
    #: Force the cookie's Secure attribute on (True) or off (False); None: on when served over https.
    secure_cookies: bool | None = None
    #: How often queue gauges, SLA breaches and the per-minute samples are refreshed.
    sample_interval: float = 15.0
    #: How often the outbox relay looks for decisions to publish (it is also woken by each one).
    relay_interval: float = 1.0
    queue: QueueConfig = field(default_factory=QueueConfig)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReviewSettings:
        """Read ``VIGIL_REVIEW_HOST``, ``_PORT``, ``_SESSION_SECONDS``, ``_SECRET``,
        ``_SECURE_COOKIES``, ``_SAMPLE_INTERVAL`` and the queue's ``VIGIL_REVIEW_*`` settings.

        >>> ReviewSettings.from_env({"VIGIL_REVIEW_PORT": "9000"}).port
        9000
        """
        env = os.environ if env is None else env
        secure = env.get("VIGIL_REVIEW_SECURE_COOKIES")
        return cls(
            host=env.get("VIGIL_REVIEW_HOST") or cls.host,
            port=int(env.get("VIGIL_REVIEW_PORT") or cls.port),
            session_seconds=int(env.get("VIGIL_REVIEW_SESSION_SECONDS") or cls.session_seconds),
            secret=env.get("VIGIL_REVIEW_SECRET") or None,
            secure_cookies=None if not secure else secure.lower() in ("1", "true", "yes"),
            sample_interval=float(env.get("VIGIL_REVIEW_SAMPLE_INTERVAL") or cls.sample_interval),
            queue=QueueConfig.from_env(env),
        )
