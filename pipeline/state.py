"""The state detection reads before deciding, loaded for a batch of events at once.

:class:`RedisState` puts every command of a batch into one Lua script call, in event order, so
a consent change or a feature write of event *i* is seen by the reads of event *i+1* exactly as
if they ran one by one, for the price of one round trip. :class:`MemoryState` gives the same
answers from process memory (``vigil replay``, backtests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis.asyncio import Redis

from detectors.consent import ConsentRecord
from detectors.features import plan_features
from pipeline.consent_store import MemoryConsentStore, RedisConsentStore
from pipeline.feature_store import MemoryFeatureStore, RedisFeatureStore, script_header
from schemas.events import ConsentChanged, Envelope

FAR_FUTURE = datetime.max.replace(year=9999)


@dataclass(frozen=True)
class Loaded:
    """What the stores said about one event: raw feature reads and the subject's consent."""

    raw: dict[str, Any]
    consent_at_event: ConsentRecord | None
    consent_now: ConsentRecord | None


class State(Protocol):
    async def load(self, events: Sequence[Envelope]) -> list[Loaded]: ...


class RedisState:
    def __init__(self, redis: Redis) -> None:
        self.features = RedisFeatureStore(redis)
        self.consent = RedisConsentStore(redis)
        self.redis = redis

    async def load(self, events: Sequence[Envelope]) -> list[Loaded]:
        args = script_header()
        spans = []
        for event in events:
            if isinstance(event, ConsentChanged):
                self.consent.queue_record(args, event)
            readers = self.features.queue(args, plan_features(event))
            self.consent.queue_lookup(args, event.subject_id, event.occurred_at)
            self.consent.queue_latest(args, event.subject_id)
            spans.append(readers)
        replies = await self.features.run(args)
        out, i = [], 0
        for readers in spans:
            raw = self.features.parse(readers, replies[i:i + len(readers)])
            i += len(readers)
            at_event, now = replies[i], replies[i + 1]
            i += 2
            out.append(Loaded(raw, self.consent.parse(at_event), self.consent.parse(now)))
        return out


class MemoryState:
    def __init__(self) -> None:
        self.features = MemoryFeatureStore()
        self.consent = MemoryConsentStore()

    async def load(self, events: Sequence[Envelope]) -> list[Loaded]:
        out = []
        for event in events:
            if isinstance(event, ConsentChanged):
                await self.consent.record(event)
            raw = self.features.execute_sync(plan_features(event))
            out.append(Loaded(raw, await self.consent.as_of(event.subject_id, event.occurred_at),
                              await self.consent.latest(event.subject_id)))
        return out
