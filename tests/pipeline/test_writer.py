"""The write stage's failure policy, against a hand-written store: what a refused flag, a failed
round trip and an outage each cost (the drills in tests/integration/test_failures.py show the
same on the real servers, through a worker process)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from detectors.examples import example_event
from pipeline.review.queue import AddResult
from pipeline.worker.batches import Done
from pipeline.worker.outputs import Written
from pipeline.worker.parking import Parking
from pipeline.worker.stats import WorkerStats
from pipeline.worker.writer import BatchWriter
from schemas.decode import decode_event_obj

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
OOM = "OOM command not allowed when used memory > 'maxmemory'."


def done(n: int) -> Done:
    """An event decided with one flag (flags are stand-ins: the policy only passes them on)."""
    event = decode_event_obj(example_event("message.sent", event_id=str(uuid.uuid4())))
    message = SimpleNamespace(topic="tns.messages", partition=0, offset=n, key=None, value=b"")
    return Done(message, event, decision=None, flags=[SimpleNamespace(flag_id=f"f{n}")],
                keep_input=False)


@dataclass
class FakeStore:
    """An :class:`~pipeline.worker.outputs.OutputStore` in dicts. ``refuse``: flag id -> the
    error Redis refuses it with (as many times as listed); ``fail``: how the next pipelined
    round trips fail as a whole (an outage raised, or an error returned)."""

    refuse: dict[str, list[str]] = field(default_factory=dict)
    fail: list[Exception | Written] = field(default_factory=list)
    refuse_finish: set[str] = field(default_factory=set)
    created: dict[str, int] = field(default_factory=dict)
    finished: list[str] = field(default_factory=list)
    round_trips: int = 0

    def _add(self, flags: Sequence[Any]) -> list[AddResult]:
        results = []
        for flag in flags:
            errors = self.refuse.get(flag.flag_id)
            if errors:
                results.append(AddResult(False, "", error=errors.pop(0)))
                continue
            fresh = flag.flag_id not in self.created
            self.created[flag.flag_id] = self.created.get(flag.flag_id, 0) + 1
            results.append(AddResult(fresh, f"case_{flag.flag_id}"))
        return results

    async def write(self, flags: Sequence[Any], done: Sequence[Done]) -> Written:
        self.round_trips += 1
        if self.fail:
            failure = self.fail.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        written = Written(self._add(flags))
        self.finished += [one.event.id for one in done]
        return written

    def send(self, flags: Sequence[Any], done: Sequence[Done]) -> Awaitable[Written]:
        return asyncio.ensure_future(self.write(flags, done))

    async def add_flags(self, flags: Sequence[Any], events: Sequence[Any]) -> list[AddResult]:
        return self._add(flags)

    async def finish(self, done: Sequence[Done]) -> None:
        for one in done:
            if one.event.id in self.refuse_finish:
                raise ResponseError(WRONGTYPE)
            self.finished.append(one.event.id)


class Letters:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, str, str]] = []

    async def send(self, message: Any, kind: str, reason: str) -> None:
        self.sent.append((message, kind, reason))


def writer_for(store: FakeStore) -> tuple[BatchWriter, Letters, list[str], WorkerStats]:
    letters, forgotten, stats = Letters(), [], WorkerStats()

    async def forget(event_id: str) -> None:
        forgotten.append(event_id)

    return BatchWriter(store, Parking(letters, forget), stats), letters, forgotten, stats


async def test_a_refused_flag_parks_only_its_event_and_the_others_are_written_once() -> None:
    batch = [done(n) for n in range(3)]
    store = FakeStore(refuse={"f1": [WRONGTYPE]})
    writer, letters, forgotten, stats = writer_for(store)

    kept = await writer.write(batch)

    assert kept == [batch[0], batch[2]]
    assert [(m.offset, kind) for m, kind, _ in letters.sent] == [(1, "processing_error")]
    assert letters.sent[0][2] == f"ResponseError: {WRONGTYPE}"
    assert forgotten == [batch[1].event.id]  # its batch had marked it processed
    assert store.created == {"f0": 1, "f2": 1}
    assert stats.flags == 2 and stats.dead_letters == 0  # the sink counts its own letters
    assert store.round_trips == 1  # no second write of the others


async def test_a_failed_round_trip_falls_back_to_one_event_at_a_time() -> None:
    batch = [done(n) for n in range(4)]
    # The flags' script call fails as a whole (a bug); on its own, f2's flag is refused.
    store = FakeStore(fail=[Written(flag_error=ResponseError("ERR a script bug"))],
                      refuse={"f2": [WRONGTYPE]})
    writer, letters, forgotten, stats = writer_for(store)

    kept = await writer.write(batch)

    assert kept == [batch[0], batch[1], batch[3]]
    assert [m.offset for m, _, _ in letters.sent] == [2]
    assert forgotten == [batch[2].event.id]
    assert store.created == {"f0": 1, "f1": 1, "f3": 1}
    assert stats.flags == 3


async def test_a_failed_finish_parks_only_the_events_it_fails_for() -> None:
    batch = [done(n) for n in range(3)]
    store = FakeStore(fail=[Written([AddResult(True, "c0"), AddResult(True, "c1"),
                                     AddResult(True, "c2")],
                                    finish_errors=[ResponseError(WRONGTYPE)])],
                      refuse_finish={batch[1].event.id})
    writer, letters, forgotten, stats = writer_for(store)

    kept = await writer.write(batch)

    assert kept == [batch[0], batch[2]]
    assert [m.offset for m, _, _ in letters.sent] == [1]
    assert forgotten == [batch[1].event.id]
    assert store.finished == [batch[0].event.id, batch[2].event.id]
    assert stats.flags == 3  # counted from the round trip, not again


async def test_an_outage_is_retried_and_nothing_is_parked() -> None:
    batch = [done(n) for n in range(3)]
    store = FakeStore(fail=[RedisConnectionError("Redis is down"), RedisConnectionError("still")])
    writer, letters, forgotten, stats = writer_for(store)

    kept = await writer.write(batch)

    assert kept == batch
    assert letters.sent == [] and forgotten == []
    assert store.round_trips == 3
    assert store.created == {"f0": 1, "f1": 1, "f2": 1} and stats.flags == 3


async def test_a_flag_refused_for_an_outage_is_retried_not_parked() -> None:
    batch = [done(n) for n in range(3)]
    store = FakeStore(refuse={"f1": [OOM]})  # Redis out of memory, once
    writer, letters, forgotten, stats = writer_for(store)

    kept = await writer.write(batch)

    assert kept == batch
    assert letters.sent == []
    assert store.round_trips == 2
    # The retried round trip adds f0 and f2 again: duplicates, which change nothing.
    assert store.created == {"f0": 2, "f1": 1, "f2": 2}
    assert forgotten == []
