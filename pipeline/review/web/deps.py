"""What the routers share: the service's collaborators (:class:`Services`, one per app, on
``app.state``), the error the API answers with, and where templates and static files live.

:mod:`.app` builds the app and imports the routers (:mod:`.api`, :mod:`.console`); they import
this module, never the app, so there is no import cycle.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from redis.asyncio import Redis

from pipeline.kafka.publisher import Publisher
from pipeline.review.queue import ReviewQueue
from pipeline.review.web.auth import SessionStore, UserStore
from pipeline.review.web.ingest_log import IngestLog
from pipeline.review.web.limits import TokenBuckets
from pipeline.review.web.relay import OutboxRelay
from pipeline.settings import ReviewSettings, Settings

log = logging.getLogger("vigil.review")
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"


class ApiError(Exception):
    """An error answered as ``{"error": code, "message": message}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


@dataclass
class Services:
    settings: Settings
    review: ReviewSettings
    redis: Redis
    queue: ReviewQueue
    users: UserStore
    sessions: SessionStore
    relay: OutboxRelay
    make_publisher: Callable[[], Publisher]
    clock: Callable[[], float]
    buckets: TokenBuckets
    ingest_log: IngestLog
    _ingest: Publisher | None = field(default=None, repr=False)

    def ingest_publisher(self) -> Publisher:
        if self._ingest is None:
            self._ingest = self.make_publisher()
        return self._ingest

    async def aclose(self) -> None:
        """Flush and drop the Kafka producers, then close Redis (the background tasks are
        stopped first)."""
        await asyncio.to_thread(self.relay.close)
        ingest, self._ingest = self._ingest, None
        if ingest is not None:
            try:
                await asyncio.to_thread(ingest.flush, 5)
            except Exception:  # undelivered events were already reported to their callers
                log.exception("flushing the ingest publisher failed")
        await self.redis.aclose()


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]
