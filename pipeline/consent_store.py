"""The consent registry, fed by ``consent.changed`` events and read before any AI scoring.

Each user's consent history is kept (a sorted set of changes by ``changed_at``), so the gate can
ask what applied when an event happened, and a redelivered or out-of-order change is harmless.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from detectors.consent import ConsentRecord
from schemas.events import ConsentChanged

PREFIX = "vigil:consent:"


def _member(event: ConsentChanged) -> str:
    p = event.payload
    return json.dumps({"state": p.ai_features, "policy_version": p.policy_version,
                       "changed_at": p.changed_at.isoformat(), "event_id": str(event.event_id)},
                      sort_keys=True)


def _record(member: str | bytes) -> ConsentRecord:
    data = json.loads(member)
    return ConsentRecord(data["state"], data["policy_version"],
                         datetime.fromisoformat(data["changed_at"]), data["event_id"])


class RedisConsentStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def record(self, event: ConsentChanged) -> None:
        await self.redis.zadd(PREFIX + event.subject_id,
                              {_member(event): event.payload.changed_at.timestamp()})

    def queue_lookup(self, pipe: Any, user_id: str, at: datetime) -> None:
        """Queue the lookup of the change in force at ``at`` on a pipeline."""
        pipe.zrevrangebyscore(PREFIX + user_id, at.timestamp(), "-inf", start=0, num=1)

    @staticmethod
    def parse(reply: list[Any]) -> ConsentRecord | None:
        return _record(reply[0]) if reply else None

    async def as_of(self, user_id: str, at: datetime) -> ConsentRecord | None:
        pipe = self.redis.pipeline(transaction=False)
        self.queue_lookup(pipe, user_id, at)
        (reply,) = await pipe.execute()
        return self.parse(reply)


class MemoryConsentStore:
    def __init__(self) -> None:
        self.history: dict[str, dict[str, float]] = {}

    async def record(self, event: ConsentChanged) -> None:
        self.history.setdefault(event.subject_id, {})[_member(event)] = (
            event.payload.changed_at.timestamp())

    async def as_of(self, user_id: str, at: datetime) -> ConsentRecord | None:
        changes = self.history.get(user_id, {})
        valid = [(t, m) for m, t in changes.items() if t <= at.timestamp()]
        return _record(max(valid)[1]) if valid else None
