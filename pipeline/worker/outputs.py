"""The write stage's round trip: a batch's flags and finished events, written in one go.

:class:`OutputStore` is the port the :class:`~pipeline.worker.writer.BatchWriter` writes through
(its failure policy lives there, not here); :class:`RedisOutputs` is the Redis implementation:
one pipelined round trip that adds the flags to the review queue (each opens or joins its
entity's case), keeps what the models saw, and marks the events processed in the ledger.

Cases are written here, not by a consumer of ``tns.flags``: that second Kafka hop was most of
the time from event to case. Every write is idempotent (flags by flag id, the rest by event id),
so a batch redelivered after a crash, or retried event by event, writes nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from pipeline.models.scorer import Scorer
from pipeline.review.queue import AddResult, ReviewQueue
from pipeline.stores import ledger
from pipeline.stores.outages import is_outage
from pipeline.worker.batches import Done, flagged
from pipeline.worker.observe import round_trip_timer
from schemas.events import Envelope
from schemas.outputs import Flag

R = TypeVar("R")


@dataclass
class Written:
    """What one round trip did. ``added`` holds a result per flag, in order (a flag Redis
    refused has its ``error``), unless the flags' call failed as a whole: ``flag_error``.
    ``finish_errors`` are the errors of the rest (model inputs, ledger)."""

    added: list[AddResult] = field(default_factory=list)
    flag_error: Exception | None = None
    finish_errors: list[Exception] = field(default_factory=list)


class OutputStore(Protocol):
    async def write(self, flags: Sequence[Flag], done: Sequence[Done]) -> Written:
        """Add ``flags`` (those of ``done``, in order: :func:`~pipeline.worker.batches.flagged`)
        and finish ``done`` in one round trip. An outage of the round trip
        (:func:`~pipeline.stores.outages.is_outage`) is raised, to be retried as a whole;
        every other error is returned in :class:`Written`."""
        ...

    async def add_flags(self, flags: Sequence[Flag], events: Sequence[Envelope]) -> list[AddResult]:
        """Add ``flags`` on their own (``events``: each one's envelope); a result per flag,
        errors included."""
        ...

    async def finish(self, done: Sequence[Done]) -> None:
        """Finish ``done`` on their own (model inputs, ledger); raises the first error."""
        ...


class RedisOutputs:
    """:class:`OutputStore` on Redis: the review queue's script, the scorer's model inputs and
    the ledger's script, pipelined (not a transaction: each write is idempotent on its own)."""

    def __init__(self, redis: Redis, queue: ReviewQueue, scorer: Scorer, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.queue = queue
        self.scorer = scorer
        self.clock = clock

    async def write(self, flags: Sequence[Flag], done: Sequence[Done]) -> Written:
        events = flagged(done)[1]  # the envelope each flag's case keeps

        def build(pipe: Any) -> Callable[[Any], list[AddResult]] | None:
            read = self.queue.add_flags_to(pipe, flags, events) if flags else None
            self._queue_finish(pipe, done)
            return read

        done_writing = round_trip_timer("write")
        replies, read = await self._run(build)
        done_writing()
        if read is None:
            return Written(finish_errors=_errors(replies))
        if isinstance(replies[0], Exception):
            return Written(flag_error=replies[0], finish_errors=_errors(replies[1:]))
        return Written(read(replies[0]), finish_errors=_errors(replies[1:]))

    async def add_flags(self, flags: Sequence[Flag], events: Sequence[Envelope]) -> list[AddResult]:
        return await self.queue.add_flags(flags, events)

    async def finish(self, done: Sequence[Done]) -> None:
        replies, _ = await self._run(lambda pipe: self._queue_finish(pipe, done))
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply

    def _queue_finish(self, pipe: Any, done: Sequence[Done]) -> None:
        scorer = self.scorer
        for one in done:
            if one.keep_input:
                scorer.queue_inputs(pipe, one.event, one.decision)
            if scorer.observers:
                scorer.queue_unlabelled(pipe, one.event, one.decision)
        ledger.queue_mark(pipe, (one.event.id for one in done), self.clock())

    async def _run(self, build: Callable[[Any], R]) -> tuple[list[Any], R]:
        """Run the commands ``build`` queues in one round trip; the replies, errors included,
        and what ``build`` returned. Outage errors are raised (every write here is idempotent:
        the caller retries); scripts Redis lost (a restart) are loaded again and the round
        trip repeated."""
        pipe = self.redis.pipeline(transaction=False)
        built = build(pipe)
        replies = await pipe.execute(raise_on_error=False)
        if any(isinstance(reply, NoScriptError) for reply in replies):
            await self.queue.load_scripts()
            await ledger.load_script(self.redis)
            pipe = self.redis.pipeline(transaction=False)
            built = build(pipe)
            replies = await pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception) and is_outage(reply):
                raise reply
        return replies, built


def _errors(replies: list[Any]) -> list[Exception]:
    return [reply for reply in replies if isinstance(reply, Exception)]
