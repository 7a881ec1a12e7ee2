"""The state detection reads before deciding, loaded for a batch of events at once.

:class:`RedisState` puts every command of a batch into one Lua script call, in event order, so
a consent change or a feature write of event *i* is seen by the reads of event *i+1* exactly as
if they ran one by one, for the price of one round trip; the batches' scripts are pipelined
in order (:mod:`pipeline.stores.script_channel`), so a batch also reads what the batches submitted
before it wrote. :class:`MemoryState` gives the same answers from process memory (``vigil
replay``, backtests).

Each event's content digest is checked under its id first (kept for ``digest_ttl``, the
ledger's retention): another event under an id seen lately writes and reads nothing, and its
:class:`Loaded` says so (``conflict``). No write trims a feature window past the reader's clock
plus ``max_ahead`` (the worker dead-letters events dated later, :mod:`schemas.clock`; this holds
whoever calls).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis

from detectors.consent import ConsentRecord, ConsentUnavailable
from detectors.features import plan_batch
from pipeline.stores.consent import MemoryConsentStore, RedisConsentStore
from pipeline.stores.features import MemoryFeatureStore, RedisFeatureStore, script_header
from schemas.events import ConsentChanged, Envelope

FAR_FUTURE = datetime.max.replace(year=9999)


#: Where an event's content digest is kept under its id (:attr:`Envelope.digest`).
DIGEST_PREFIX = "vigil:digest:"


@dataclass(frozen=True)
class Loaded:
    """What the stores said about one event: raw feature reads and the subject's consent, or
    ``conflict``: the digest another event under the same id was seen with (then the event
    wrote and read nothing, and must not be processed)."""

    raw: dict[str, Any]
    #: The subject's consent as of the event and now; CONSENT_UNAVAILABLE where unreadable.
    consent_at_event: ConsentRecord | ConsentUnavailable | None
    consent_now: ConsentRecord | ConsentUnavailable | None
    conflict: str | None = None

    def conflict_reason(self, event: Envelope) -> str:
        return (f"event_id {event.id} was seen with content digest {self.conflict}; this "
                f"event's is {event.digest}: another event under the same id (the first is "
                f"kept, this one is not processed)")


_CONFLICT = Loaded({}, None, None)


class State(Protocol):
    async def load(self, events: Sequence[Envelope]) -> list[Loaded]: ...


@dataclass(frozen=True)
class PreparedLoad:
    """A batch's state script, built and not yet run: its arguments, and how to read replies."""

    args: list[Any]
    #: Per event: how to read its feature replies (after its digest check's reply; two consent
    #: replies follow them).
    spans: list[list[tuple[str, str]]]


class RedisState:
    """Loads through the feature store's :class:`~pipeline.stores.script_channel.ScriptChannel`:
    every batch's script runs in the order the batches were submitted (so each reads what the
    batches before it wrote), with no batch waiting for the reply to the one before it to be
    sent."""

    def __init__(self, redis: Redis, *, max_ahead: float = 300.0,
                 clock: Callable[[], float] = time.time, digest_ttl: float = 900.0) -> None:
        self.features = RedisFeatureStore(redis)
        self.consent = RedisConsentStore(redis)
        self.redis = redis
        self.max_ahead = max_ahead
        self.clock = clock
        self.digest_ttl = max(1, math.ceil(digest_ttl))

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
        args = script_header(self.clock() + self.max_ahead, self.digest_ttl)
        spans = []
        for event, plan in zip(events, plan_batch(events)):
            # First the digest check, told how many arguments the event's operations take: a
            # conflicting duplicate's are skipped.
            start = len(args)
            args += ["D", DIGEST_PREFIX + event.id, event.digest, 0]
            if isinstance(event, ConsentChanged):
                self.consent.queue_record(args, event)
            readers = self.features.queue(args, plan)
            self.consent.queue_lookup(args, event.subject_id, event.occurred_at)
            self.consent.queue_latest(args, event.subject_id)
            args[start + 3] = len(args) - start - 4
            spans.append(readers)
        return PreparedLoad(args, spans)

    def read(self, prepared: PreparedLoad, replies: list[Any]) -> list[Loaded]:
        """What a prepared script's ``replies`` say about each of its events."""
        out, i = [], 0
        parse_features, parse_consent = self.features.parse, self.consent.parse
        for readers in prepared.spans:
            if replies[i]:  # a conflicting duplicate: its digest check's reply, nothing else
                out.append(replace(_CONFLICT, conflict=replies[i]))
                i += 1
                continue
            i += 1
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
        self.digests: dict[str, str] = {}  # no TTL: a replay is bounded

    async def load(self, events: Sequence[Envelope]) -> list[Loaded]:
        out = []
        ceiling = self.clock() + self.max_ahead
        for event, plan in zip(events, plan_batch(events)):
            seen = self.digests.setdefault(event.id, event.digest)
            if seen != event.digest:
                out.append(replace(_CONFLICT, conflict=seen))
                continue
            if isinstance(event, ConsentChanged):
                await self.consent.record(event)
            raw = self.features.execute_sync(plan, ceiling)
            out.append(Loaded(raw, await self.consent.as_of(event.subject_id, event.occurred_at),
                              await self.consent.latest(event.subject_id)))
        return out
