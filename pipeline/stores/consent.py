"""The consent registry, fed by ``consent.changed`` events and read before any AI scoring.

Each user's consent history is kept (a sorted set of changes by ``changed_at``), so the gate can
ask what applied when an event happened, and a redelivered or out-of-order change is harmless.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable
from datetime import datetime
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from detectors.consent import CONSENT_UNAVAILABLE, ConsentRecord, ConsentUnavailable
from pipeline.stores.outages import is_outage
from schemas.events import ConsentChanged

log = logging.getLogger("vigil.consent")

PREFIX = "vigil:consent:"


def consent_member(event: ConsentChanged) -> str:
    """The canonical registry entry of a change (identical for a redelivered event)."""
    p = event.payload
    return json.dumps({"state": p.ai_features, "policy_version": p.policy_version,
                       "changed_at": p.changed_at.isoformat(), "event_id": str(event.event_id)},
                      sort_keys=True)


@functools.lru_cache(maxsize=4096)
def _record(member: str | bytes) -> ConsentRecord:
    # Cached: every event of a user reads the same one or two entries, and a ConsentRecord
    # is immutable, so parsing each once is enough.
    data = json.loads(member)
    return ConsentRecord(data["state"], data["policy_version"],
                         datetime.fromisoformat(data["changed_at"]), data["event_id"])


class ConsentHistory(Protocol):
    """What the gate asks of the registry outside a batch script (the learner asks it again
    before a model learns: an opt-out since scoring wins)."""

    async def as_of(self, user_id: str, at: datetime) -> ConsentRecord | ConsentUnavailable | None: ...

    async def latest(self, user_id: str) -> ConsentRecord | ConsentUnavailable | None: ...


class RedisConsentStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @staticmethod
    def queue_record(args: list[Any], event: ConsentChanged) -> None:
        """Append the recording of a change to a feature-store batch script's ``args``."""
        args += ["Z", PREFIX + event.subject_id, consent_member(event),
                 event.payload.changed_at.timestamp()]

    @staticmethod
    def queue_lookup(args: list[Any], user_id: str, at: datetime) -> None:
        """Append the lookup of the change in force at ``at`` (one reply)."""
        args += ["A", PREFIX + user_id, at.timestamp()]

    @staticmethod
    def queue_latest(args: list[Any], user_id: str) -> None:
        """Append the lookup of the user's latest change, whenever it happened (one reply)."""
        args += ["L", PREFIX + user_id]

    async def record(self, event: ConsentChanged) -> None:
        await self.redis.zadd(PREFIX + event.subject_id,
                              {consent_member(event): event.payload.changed_at.timestamp()})

    @staticmethod
    def parse(reply: Any) -> ConsentRecord | ConsentUnavailable | None:
        """A lookup's reply: the record, None (never asked), or :data:`CONSENT_UNAVAILABLE`
        when it cannot be read (an error reply, such as a key of the wrong type, or an entry
        that does not parse): the gate then fails closed for that subject and counts it,
        rather than the event failing (a processing error) and its rules not running."""
        if not reply:
            return None
        try:
            return _record(reply[0]) if isinstance(reply, list) else CONSENT_UNAVAILABLE
        except (ValueError, KeyError, TypeError):
            log.warning("a consent entry does not parse; treating consent as unavailable")
            return CONSENT_UNAVAILABLE

    async def latest(self, user_id: str) -> ConsentRecord | ConsentUnavailable | None:
        return await self._read(self.redis.zrevrange(PREFIX + user_id, 0, 0))

    async def as_of(self, user_id: str, at: datetime) -> ConsentRecord | ConsentUnavailable | None:
        return await self._read(self.redis.zrevrangebyscore(
            PREFIX + user_id, at.timestamp(), "-inf", start=0, num=1))

    async def _read(self, reply: Awaitable[Any]) -> ConsentRecord | ConsentUnavailable | None:
        try:
            return self.parse(await reply)
        except ResponseError as exc:
            if is_outage(exc):  # Redis cannot answer now: waited out by the caller
                raise
            return CONSENT_UNAVAILABLE  # a key of the wrong type: unreadable, fail closed


class MemoryConsentStore:
    def __init__(self) -> None:
        self.history: dict[str, dict[str, float]] = {}

    async def record(self, event: ConsentChanged) -> None:
        self.history.setdefault(event.subject_id, {})[consent_member(event)] = (
            event.payload.changed_at.timestamp())

    async def as_of(self, user_id: str, at: datetime) -> ConsentRecord | None:
        changes = self.history.get(user_id, {})
        valid = [(t, m) for m, t in changes.items() if t <= at.timestamp()]
        return _record(max(valid)[1]) if valid else None

    async def latest(self, user_id: str) -> ConsentRecord | None:
        changes = self.history.get(user_id, {})
        return _record(max((t, m) for m, t in changes.items())[1]) if changes else None
