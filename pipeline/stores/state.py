"""The state detection reads before deciding, loaded for a batch of events at once.

:class:`RedisState` puts every command of a batch into one Lua script call, in event order, so
a consent change or a feature write of event *i* is seen by the reads of event *i+1* exactly as
if they ran one by one, for the price of one round trip; the batches' scripts are pipelined
in order (:mod:`pipeline.stores.script_channel`), so a batch also reads what the batches submitted
before it wrote. No write trims a feature window past the reader's clock plus ``max_ahead`` (the
worker dead-letters events dated later, :mod:`schemas.clock`; this holds whoever calls). :class:`MemoryState` gives the same answers from process memory
(``vigil replay``, backtests).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis

from detectors.consent import ConsentRecord
from detectors.features import plan_batch
from pipeline.stores.consent import MemoryConsentStore, RedisConsentStore
from pipeline.stores.features import MemoryFeatureStore, RedisFeatureStore, script_header
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


@dataclass(frozen=True)
class PreparedLoad:
    """A batch's state script, built and not yet run: its arguments, and how to read replies."""

    args: list[Any]
    #: Per event: how to read its feature replies (two consent replies follow each).
    spans: list[list[tuple[str, str]]]


class RedisState:
    """Loads through the feature store's :class:`~pipeline.stores.script_channel.ScriptChannel`:
    every batch's script runs in the order the batches were submitted (so each reads what the
    batches before it wrote), with no batch waiting for the reply to the one before it to be
    sent."""

    def __init__(self, redis: Redis, *, max_ahead: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.features = RedisFeatureStore(redis)
        self.consent = RedisConsentStore(redis)
        self.redis = redis
        self.max_ahead = max_ahead
        self.clock = clock

    async def load(self, events: Sequence[Envelope]) -> list[Loaded]:
        return await self.submit(self.prepare(events))

    def submit(self, prepared: PreparedLoad) -> asyncio.Future[list[Loaded]]:
        """Send a prepared script behind those submitted before; its future gets the loads."""
        reply = self.features.call(prepared.args)

        async def read() -> list[Loaded]:
            return self.read(prepared, orjson.loads(await reply))

        return asyncio.ensure_future(read())

    async def close(self) -> None:
        await self.features.close()

    def prepare(self, events: Sequence[Envelope]) -> PreparedLoad:
        """Build the batch's script (pure CPU: the worker does it while Redis runs the scripts
        of the batches before)."""
        args = script_header(self.clock() + self.max_ahead)
        spans = []
        for event, plan in zip(events, plan_batch(events)):
            if isinstance(event, ConsentChanged):
                self.consent.queue_record(args, event)
            readers = self.features.queue(args, plan)
            self.consent.queue_lookup(args, event.subject_id, event.occurred_at)
            self.consent.queue_latest(args, event.subject_id)
            spans.append(readers)
        return PreparedLoad(args, spans)

    def read(self, prepared: PreparedLoad, replies: list[Any]) -> list[Loaded]:
        """What a prepared script's ``replies`` say about each of its events."""
        out, i = [], 0
        parse_features, parse_consent = self.features.parse, self.consent.parse
        for readers in prepared.spans:
            raw = parse_features(readers, replies[i:i + len(readers)])
            i += len(readers)
            out.append(Loaded(raw, parse_consent(replies[i]), parse_consent(replies[i + 1])))
            i += 2
        return out


class MemoryState:
    def __init__(self, *, max_ahead: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.features = MemoryFeatureStore()
        self.consent = MemoryConsentStore()
        self.max_ahead = max_ahead
        self.clock = clock

    async def load(self, events: Sequence[Envelope]) -> list[Loaded]:
        out = []
        ceiling = self.clock() + self.max_ahead
        for event, plan in zip(events, plan_batch(events)):
            if isinstance(event, ConsentChanged):
                await self.consent.record(event)
            raw = self.features.execute_sync(plan, ceiling)
            out.append(Loaded(raw, await self.consent.as_of(event.subject_id, event.occurred_at),
                              await self.consent.latest(event.subject_id)))
        return out
