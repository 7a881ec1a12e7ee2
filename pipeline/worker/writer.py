"""The write stage's failure policy: what a refused flag or a failed round trip costs.

:class:`BatchWriter` writes the decided events of every batch gathered into one round trip
through an :class:`~pipeline.worker.outputs.OutputStore`, and decides what happens when that
does not simply work:

* Redis is out (unreachable, loading, out of memory, read-only): the round trip is retried with
  back-off until it lands; nothing is skipped, nothing parked.
* A flag Redis refused (a key of the wrong type): the queue's script wrote nothing of it and
  added the others, so only the events whose flags were refused are parked; the others are
  written, and counted, once.
* The round trip failed otherwise (a bug, unexpected data): the events are written one at a
  time to find the ones it is about, and only those are parked (flags the failed call had
  added come back as duplicates, which change nothing).

Parking goes through the worker's one error hook (:class:`~pipeline.worker.parking.Parking`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from redis.exceptions import ResponseError

from pipeline.stores.outages import retrying
from pipeline.worker.batches import Done, flagged
from pipeline.worker.outputs import OutputStore, Written
from pipeline.worker.parking import PARKED, Parking
from pipeline.worker.stats import WorkerStats
from schemas.outputs import Flag

log = logging.getLogger("vigil.worker")


class BatchWriter:
    def __init__(self, store: OutputStore, parking: Parking, stats: WorkerStats) -> None:
        self.store = store
        self.parking = parking
        self.stats = stats

    async def write(self, done: list[Done]) -> list[Done]:
        """Write ``done`` (flags, model inputs, ledger) in one round trip; returns the events
        written, having parked any that could not be."""
        if not done:
            return done
        flags, _ = flagged(done)
        written = await retrying(f"{len(flags)} flags and {len(done)} events",
                                 lambda: self._round_trip(flags, done))
        kept = done
        if written.flag_error is None:
            self.stats.flags += sum(result.created for result in written.added)
            results = iter(written.added)
            for one in done:  # each flag's case, for the flag log
                one.added = [next(results) for _ in one.flags]
            refused = {id(flag): result.error
                       for flag, result in zip(flags, written.added) if result.error}
            if refused:
                kept = await self._park_refused(done, refused)
        if written.flag_error is None and not written.finish_errors:
            return kept
        # Not an outage (those are retried): a bug or unexpected data. Find the events it is
        # about one by one (flags the failed call had added come back as duplicates).
        log.error("writing a batch of %d events failed (%s); writing them one by one", len(done),
                  written.flag_error or written.finish_errors[0])
        if written.flag_error is not None:
            kept = await self._one_by_one(kept, self._add_flags)
        if written.finish_errors:
            kept = await self._one_by_one(kept, lambda one: self.store.finish([one]))
        return kept  # parking took the others out of the batch's ledger entry

    async def _round_trip(self, flags: Sequence[Flag], done: Sequence[Done]) -> Written:
        written = await self.store.write(flags, done)
        outage = [result.error for result in written.added if result.outage]
        if outage:  # Redis refuses writes (out of memory, read-only): wait it out
            raise ResponseError(outage[0])
        return written

    async def _park_refused(self, done: list[Done], refused: dict[int, str]) -> list[Done]:
        """Park the events a refused flag belongs to; returns the others."""
        kept = []
        for one in done:
            errors = [refused[id(flag)] for flag in one.flags if id(flag) in refused]
            if errors:
                await self.parking.park(one.message, one.event, ResponseError(errors[0]))
            else:
                kept.append(one)
        return kept

    async def _add_flags(self, one: Done) -> None:
        results = await self.store.add_flags(one.flags, [one.event] * len(one.flags))
        self.stats.flags += sum(result.created for result in results)
        for result in results:
            if result.error is not None:  # an outage is retried by the caller, not parked
                raise ResponseError(result.error)
        one.added = results

    async def _one_by_one(self, done: list[Done],
                          action: Callable[[Done], Awaitable[None]]) -> list[Done]:
        """Run ``action`` for each event on its own, parking those it fails for (outages are
        waited out); returns the events it succeeded for."""
        kept = []
        for one in done:
            if await self.parking.attempt(one.message, one.event,
                                          lambda one=one: action(one)) is not PARKED:
                kept.append(one)
        return kept
