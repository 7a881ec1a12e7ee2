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
from dataclasses import dataclass

from redis.exceptions import ResponseError

from pipeline.stores.outages import is_outage, retrying
from pipeline.worker.batches import Done, flagged
from pipeline.worker.outputs import OutputStore, Written
from pipeline.worker.parking import PARKED, Parking
from pipeline.worker.stats import WorkerStats
from schemas.outputs import Flag

log = logging.getLogger("vigil.worker")


@dataclass(frozen=True)
class Sending:
    """A write sent (:meth:`BatchWriter.send`) and not yet confirmed."""

    done: list[Done]
    flags: list[Flag]
    reply: Awaitable[Written] | None


class BatchWriter:
    def __init__(self, store: OutputStore, parking: Parking, stats: WorkerStats) -> None:
        self.store = store
        self.parking = parking
        self.stats = stats

    async def write(self, done: list[Done]) -> list[Done]:
        """Write ``done`` (flags, model inputs, ledger) in one round trip; returns the events
        written, having parked any that could not be."""
        return await self.confirm(self.send(done))

    def send(self, done: list[Done]) -> Sending:
        """Send ``done``'s write now, behind the writes sent before (:meth:`OutputStore.send`);
        :meth:`confirm` then waits for it and applies the failure policy. Writes are sent in
        the order their batches are acknowledged, so more than one can be in flight."""
        flags, _ = flagged(done)
        return Sending(done, flags, self.store.send(flags, done) if done else None)

    async def confirm(self, sending: Sending) -> list[Done]:
        """The events of a sent write that were written, having parked any that could not be.
        A write that did not simply land (an outage, a flag refused for one) is done again as
        a round trip of its own, retried until it lands."""
        done, flags = sending.done, sending.flags
        if sending.reply is None:
            return done
        try:
            written = self._checked(await sending.reply)
        except Exception as exc:
            if not is_outage(exc):
                log.warning("a sent write failed (%r); writing it again on its own", exc)
            written = await retrying(f"{len(flags)} flags and {len(done)} events",
                                     lambda: self._round_trip(flags, done))
        return await self._settle(done, flags, written)

    async def _settle(self, done: list[Done], flags: list[Flag], written: Written) -> list[Done]:
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
        return self._checked(await self.store.write(flags, done))

    @staticmethod
    def _checked(written: Written) -> Written:
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
