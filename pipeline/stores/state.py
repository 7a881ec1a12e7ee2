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
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis

from detectors.consent import ConsentRecord, ConsentUnavailable
from detectors.features import Observe, plan_batch
from detectors.ordering import Wait, Watch, lateness, waits
from pipeline.stores.consent import MemoryConsentStore, RedisConsentStore
from pipeline.stores.features import (
    PREFIX,
    MemoryFeatureStore,
    RedisFeatureStore,
    script_header,
)
from pipeline.stores.joins import (
    BatchJoins,
    JoinSettings,
    MemoryJoins,
    Present,
    Released,
    parse_event,
    parse_expiry,
    queue_expiry,
    queue_waits,
    queue_watermarks,
)
from schemas.events import ConsentChanged, Envelope
from schemas.topics import TOPIC_BY_TYPE

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
    #: Events to decide again now that this one arrived (:mod:`pipeline.stores.joins`).
    released: tuple[Released, ...] = ()
    #: Seen before with the same content (within the digest TTL): a redelivery, whose
    #: re-decisions' flags may have been written and never published.
    redelivered: bool = False

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
    events: Sequence[Envelope] = ()
    #: Per event: how to read its join replies (after its consent replies).
    join_spans: list[list[tuple[str, Any]]] = field(default_factory=list)
    #: What the script said about the batch's joins (filled in when it is read).
    joins: BatchJoins = field(default_factory=BatchJoins)
    expiry: bool = False


class RedisState:
    """Loads through the feature store's :class:`~pipeline.stores.script_channel.ScriptChannel`:
    every batch's script runs in the order the batches were submitted (so each reads what the
    batches before it wrote), with no batch waiting for the reply to the one before it to be
    sent."""

    def __init__(self, redis: Redis, *, max_ahead: float = 300.0,
                 clock: Callable[[], float] = time.time, digest_ttl: float = 900.0,
                 joins: JoinSettings = JoinSettings(),
                 partitions: dict[str, int] | None = None) -> None:
        self.features = RedisFeatureStore(redis)
        self.consent = RedisConsentStore(redis)
        self.redis = redis
        self.max_ahead = max_ahead
        self.clock = clock
        self.digest_ttl = max(1, math.ceil(digest_ttl))
        self.joins = joins
        #: Partitions of each input topic (a topic's low watermark needs all of them).
        self.partitions = partitions or {t: 1 for t in dict.fromkeys(TOPIC_BY_TYPE.values())}
        #: Each input topic's low watermark, as the last script read said.
        self.low_watermarks: dict[str, float] = {}
        self.present = Present()

    async def load(self, events: Sequence[Envelope], *, redo: bool = False) -> list[Loaded]:
        return await self.submit(self.prepare(events, redo=redo))

    def submit(self, prepared: PreparedLoad) -> asyncio.Future[list[Loaded]]:
        """Send a prepared script behind those submitted before; its future gets the loads."""
        reply = self.features.call(prepared.args)

        async def read() -> list[Loaded]:
            return self.read(prepared, orjson.loads(await reply))

        return asyncio.ensure_future(read())

    async def close(self) -> None:
        await self.features.close()

    def prepare(self, events: Sequence[Envelope], *,
                positions: Sequence[tuple[str, int]] | None = None,
                redo: bool = False) -> PreparedLoad:
        """Build the batch's script (pure CPU: the worker does it while Redis runs the scripts
        of the batches before). ``positions``: each event's topic and partition (their
        watermarks rise); ``redo``: these are re-decisions (they release nothing counted late).
        An event too late for its window (:func:`too_late`) is decided without being counted."""
        ceiling = self.clock() + self.max_ahead
        args = script_header(ceiling, self.digest_ttl)
        spans, join_spans = [], []
        join_settings, late = self.joins, too_late(events, self.low_watermarks, self.joins)
        present = self.present
        for n, (event, plan) in enumerate(zip(events, plan_batch(events))):
            if n in late:
                plan.writes = [w for w in plan.writes if type(w) is not Observe]
            # First the digest check, told how many arguments the event's operations take: a
            # conflicting duplicate's are skipped.
            start = len(args)
            args += ["D", DIGEST_PREFIX + event.id, event.digest, 0]
            if isinstance(event, ConsentChanged):
                self.consent.queue_record(args, event)
            readers = self.features.queue(args, plan)
            self.consent.queue_lookup(args, event.subject_id, event.occurred_at)
            self.consent.queue_latest(args, event.subject_id)
            join_spans.append(queue_waits(args, event, present.needed(joined(event, n in late)),
                                          join_settings, redo=redo, records=PREFIX))
            args[start + 3] = len(args) - start - 4
            spans.append(readers)
        if positions is not None:
            marks: dict[tuple[str, int], float] = {}
            for event, position in zip(events, positions):
                at = min(event.occurred_at.timestamp(), ceiling)  # no watermark past the clock
                marks[position] = max(marks.get(position, at), at)
            queue_watermarks(args, marks)
        if not redo:
            queue_expiry(args, self.partitions, join_settings)
        return PreparedLoad(args, spans, events, join_spans, expiry=not redo)

    def read(self, prepared: PreparedLoad, replies: list[Any]) -> list[Loaded]:
        """What a prepared script's ``replies`` say about each of its events."""
        out, i = [], 0
        parse_features, parse_consent = self.features.parse, self.consent.parse
        joins = prepared.joins
        for readers, event, join_readers in zip(prepared.spans, prepared.events,
                                                 prepared.join_spans):
            digest = replies[i]
            if digest and digest not in ("=", b"="):  # a conflicting duplicate: nothing else
                out.append(replace(_CONFLICT, conflict=digest))
                i += 1
                continue
            i += 1
            raw = parse_features(readers, replies[i:i + len(readers)])
            i += len(readers)
            consent = parse_consent(replies[i]), parse_consent(replies[i + 1])
            i += 2
            released = parse_event(join_readers, replies[i:i + len(join_readers)], event, joins,
                                   records=PREFIX, present=self.present)
            i += len(join_readers)
            out.append(Loaded(raw, *consent, released=tuple(released),
                              redelivered=bool(digest)))
        if prepared.expiry:
            parse_expiry(replies[i], list(self.partitions), joins)
            self.low_watermarks = joins.low_watermarks
        return out


class MemoryState:
    """:class:`RedisState`'s answers from process memory, joins included (the file is one
    partition per topic)."""

    def __init__(self, *, max_ahead: float = 300.0, clock: Callable[[], float] = time.time,
                 joins: JoinSettings = JoinSettings(), partitions: int = 1) -> None:
        self.features = MemoryFeatureStore()
        self.consent = MemoryConsentStore()
        self.max_ahead = max_ahead
        self.clock = clock
        self.digests: dict[str, str] = {}  # no TTL: a replay is bounded
        self.join_settings = joins
        self.joins = MemoryJoins(joins, self.features.records, partitions=partitions)
        #: What the joins did so far (counts), as a worker's batches say.
        self.join_counts = BatchJoins()

    async def load(self, events: Sequence[Envelope], *, redo: bool = False) -> list[Loaded]:
        out = []
        ceiling = self.clock() + self.max_ahead
        counts, joins = self.join_counts, self.joins
        for event, plan in zip(events, plan_batch(events)):
            redelivered = event.id in self.digests
            seen = self.digests.setdefault(event.id, event.digest)
            if seen != event.digest:
                out.append(replace(_CONFLICT, conflict=seen))
                continue
            late = bool(too_late([event], counts.low_watermarks, self.join_settings))
            if late:
                plan.writes = [w for w in plan.writes if type(w) is not Observe]
            if isinstance(event, ConsentChanged):
                await self.consent.record(event)
            raw = self.features.execute_sync(plan, ceiling)
            released = joins.apply(event, joined(event, late), counts, redo=redo)
            out.append(Loaded(raw, await self.consent.as_of(event.subject_id, event.occurred_at),
                              await self.consent.latest(event.subject_id),
                              released=tuple(released), redelivered=redelivered))
            if not redo:
                joins.advance(event, counts, ceiling)
        return out


def joined(event: Envelope, too_late: bool) -> list[Wait]:
    """The event's joins: all of them, but a too-late event is counted in no counter's book
    (it still waits for its partner, and releases what waits for it)."""
    found = waits(event)
    return [w for w in found if type(w) is not Watch] if too_late else found


def too_late(events: Sequence[Envelope], low_watermarks: dict[str, float],
             settings: JoinSettings) -> set[int]:
    """The positions of ``events`` dated further behind their topic's low watermark than the
    allowed lateness: decided, but counted in no window (and releasing nothing)."""
    out = set()
    for n, event in enumerate(events):
        low = low_watermarks.get(TOPIC_BY_TYPE[event.type])
        if low is not None and lateness(at=event.occurred_at.timestamp(), watermark=low,
                                        allowed=settings.allowed_lateness) == "too_late":
            out.add(n)
    return out
