"""The state detection reads before deciding, loaded for a batch of events at once.

:class:`RedisState` puts every command of a batch into one Lua script call, in event order, so
a consent change or a feature write of event *i* is seen by the reads of event *i+1* exactly as
if they ran one by one, for the price of one round trip. :class:`MemoryState` gives the same
answers from process memory (``vigil replay``, backtests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis.asyncio import Redis

from detectors.consent import ConsentRecord
from detectors.features import plan_batch
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


@dataclass(frozen=True)
class PreparedLoad:
    """A batch's state script, built and not yet run: its arguments, and how to read replies."""

    args: list[Any]
    #: Per event: how to read its feature replies (two consent replies follow each).
    spans: list[list[tuple[str, str]]]

    @classmethod
    def merge(cls, loads: Sequence[PreparedLoad]) -> PreparedLoad:
        """One script for several batches' loads, in their order (each starts with the header).

        >>> a = PreparedLoad(script_header() + ["G", "k1"], [[("f", "json")]])
        >>> b = PreparedLoad(script_header() + ["G", "k2"], [[("f", "json")]])
        >>> merged = PreparedLoad.merge([a, b])
        >>> merged.args[2:], len(merged.spans)
        (['G', 'k1', 'G', 'k2'], 2)
        """
        if len(loads) == 1:
            return loads[0]
        header = len(script_header())
        args = list(loads[0].args)
        spans = list(loads[0].spans)
        for load in loads[1:]:
            args += load.args[header:]
            spans += load.spans
        return cls(args, spans)


class OrderedLoads:
    """Runs batches' state scripts one call at a time, in the order they are submitted, so each
    batch reads what the batches before it wrote; the loads submitted while a call is out go
    together in the next call.

    Chained one call per batch, every batch waited out the round trips of all the batches
    queued before it; gathered, a batch waits for at most the one call in flight, however many
    came in meanwhile.

    >>> async def demo():
    ...     calls = []
    ...     async def run(load):
    ...         calls.append(len(load.spans))
    ...         await asyncio.sleep(0.01)
    ...         return [f"loaded {key}" for key in load.args[3::2]]
    ...     loads = OrderedLoads(run)
    ...     def submit(key): return loads.submit(PreparedLoad(script_header() + ["G", key], [[]]))
    ...     first = submit("a")
    ...     await asyncio.sleep(0)  # its call goes out; b and c wait for it, then go together
    ...     futures = [first, submit("b"), submit("c")]
    ...     return [await f for f in futures], calls
    >>> asyncio.run(demo())
    ([['loaded a'], ['loaded b'], ['loaded c']], [1, 2])
    """

    def __init__(self, run: Callable[[PreparedLoad], Awaitable[list[Any]]]) -> None:
        self._run = run
        self._waiting: list[tuple[PreparedLoad, asyncio.Future[list[Any]]]] = []
        self._calling: asyncio.Task[None] | None = None

    def submit(self, load: PreparedLoad) -> asyncio.Future[list[Any]]:
        """Queue ``load`` behind those submitted before it; its future gets its events' loads."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiting.append((load, future))
        if self._calling is None or self._calling.done():
            self._calling = asyncio.ensure_future(self._call_while_waiting())
        return future

    async def _call_while_waiting(self) -> None:
        while self._waiting:
            taken, self._waiting = self._waiting, []
            try:
                loaded = await self._run(PreparedLoad.merge([load for load, _ in taken]))
            except asyncio.CancelledError:
                for _, future in taken + self._waiting:
                    future.cancel()
                self._waiting = []
                raise
            except Exception as exc:  # every batch of the call sees it (the worker then
                for _, future in taken:  # goes event by event)
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for load, future in taken:
                end = start + len(load.spans)
                if not future.done():
                    future.set_result(loaded[start:end])
                start = end


class RedisState:
    def __init__(self, redis: Redis) -> None:
        self.features = RedisFeatureStore(redis)
        self.consent = RedisConsentStore(redis)
        self.redis = redis

    async def load(self, events: Sequence[Envelope]) -> list[Loaded]:
        return await self.run(self.prepare(events))

    def prepare(self, events: Sequence[Envelope]) -> PreparedLoad:
        """Build the batch's script (pure CPU: the worker does it while Redis runs the script
        of the batch before)."""
        args = script_header()
        spans = []
        for event, plan in zip(events, plan_batch(events)):
            if isinstance(event, ConsentChanged):
                self.consent.queue_record(args, event)
            readers = self.features.queue(args, plan)
            self.consent.queue_lookup(args, event.subject_id, event.occurred_at)
            self.consent.queue_latest(args, event.subject_id)
            spans.append(readers)
        return PreparedLoad(args, spans)

    async def run(self, prepared: PreparedLoad) -> list[Loaded]:
        """Run a prepared script: the batch's writes, then what its events read."""
        replies = await self.features.run(prepared.args)
        out, i = [], 0
        parse_features, parse_consent = self.features.parse, self.consent.parse
        for readers in prepared.spans:
            raw = parse_features(readers, replies[i:i + len(readers)])
            i += len(readers)
            out.append(Loaded(raw, parse_consent(replies[i]), parse_consent(replies[i + 1])))
            i += 2
        return out


class MemoryState:
    def __init__(self) -> None:
        self.features = MemoryFeatureStore()
        self.consent = MemoryConsentStore()

    async def load(self, events: Sequence[Envelope]) -> list[Loaded]:
        out = []
        for event, plan in zip(events, plan_batch(events)):
            if isinstance(event, ConsentChanged):
                await self.consent.record(event)
            raw = self.features.execute_sync(plan)
            out.append(Loaded(raw, await self.consent.as_of(event.subject_id, event.occurred_at),
                              await self.consent.latest(event.subject_id)))
        return out
