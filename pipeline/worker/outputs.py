"""The write stage's round trip: a batch's flags and finished events, written in one go.

:class:`OutputStore` is the port the :class:`~pipeline.worker.writer.BatchWriter` writes through
(its failure policy lives there, not here); :class:`RedisOutputs` is the Redis implementation:
one pipelined round trip that adds the flags to the review queue (each opens or joins its
entity's case), then the labelling samples (a case of their own, or the flag's case they are
in; a model's pick spends its budget there), keeps what the models saw, and marks the events
processed in the ledger.

Cases are written here, not by a consumer of ``tns.flags``: that second Kafka hop was most of
the time from event to case. Every write is idempotent (flags by flag id, the rest by event id),
so a batch redelivered after a crash, or retried event by event, writes nothing twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis
from redis.client import EMPTY_RESPONSE, NEVER_DECODE
from redis.exceptions import NoScriptError, ResponseError

from detectors.sampling import Sampler
from pipeline.models.scorer import Scorer
from pipeline.models.unlearning import queue_withdrawal
from pipeline.review.queue import AddResult, ReviewQueue, SampleResult
from pipeline.stores import ledger
from pipeline.stores.joins import queue_release
from pipeline.stores.outages import is_outage
from pipeline.stores.script_channel import CommandChannel
from pipeline.worker.batches import Done, flagged
from pipeline.worker.observe import round_trip_timer
from schemas.events import Envelope
from schemas.outputs import Flag

R = TypeVar("R")
#: Options redis-py's parse_response takes off before calling a response callback.
_NOT_FOR_CALLBACKS = frozenset({NEVER_DECODE, EMPTY_RESPONSE, "keys"})


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

    def send(self, flags: Sequence[Flag], done: Sequence[Done]) -> Awaitable[Written]:
        """:meth:`write`, sent now behind the writes sent before and applied in that order,
        without waiting for their replies; awaiting the result gives what :meth:`write` would
        return (or raises what it would raise)."""
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
                 sampler: Sampler | None = None, pseudonym_key: bytes | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        #: Withdrawals that undo past learning are recorded under pseudonyms made with it.
        self.pseudonym_key = pseudonym_key
        self.queue = queue
        self.scorer = scorer
        #: The decide stage's sampler: its budget counts follow what Redis counted.
        self.sampler = sampler
        self.clock = clock
        #: The write channel (:meth:`send`), made on first use: its connection belongs to the
        #: worker's event loop.
        self.channel: CommandChannel | None = None
        self._texts: dict[str, str] | None = None  # script text by sha, for EVAL

    async def write(self, flags: Sequence[Flag], done: Sequence[Done]) -> Written:
        done_writing = round_trip_timer("write")
        replies, (read, finish) = await self._run(lambda pipe: self._build(pipe, flags, done))
        done_writing()
        return self._written(replies, read, finish)

    def send(self, flags: Sequence[Flag], done: Sequence[Done]) -> asyncio.Future[Written]:
        """:meth:`write`'s commands, sent now on the write channel behind the writes sent
        before (Redis runs them in that order, as if each had waited for the one before); the
        future gets what :meth:`write` would return. Scripts go as ``EVAL`` with their text:
        a Redis that restarted without them runs them all the same, in order (an ``EVALSHA``
        refused there would have to be sent again after the writes behind it). An outage is
        waited out by the channel."""
        pipe = self.redis.pipeline(transaction=False)
        read, finish = self._build(pipe, flags, done)
        commands = list(pipe.command_stack)
        done_writing = round_trip_timer("write")
        if self.channel is None:
            self.channel = CommandChannel(self.redis)
        replies = self.channel.send([self._with_text(args) for args, _ in commands])

        async def written() -> Written:
            raw = await replies
            done_writing()
            return self._written(self._parsed(commands, raw), read, finish)

        return asyncio.ensure_future(written())

    def _with_text(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """``EVALSHA sha ...`` as ``EVAL text ...`` (every script a write sends is known here)."""
        if args[0] != "EVALSHA":
            return args
        if self._texts is None:
            self._texts = {script.sha: script.script for script in vars(self.queue.scripts).values()}
            self._texts[ledger.MARK_SHA] = ledger.MARK_SCRIPT
        return ("EVAL", self._texts[args[1]], *args[2:])

    def _build(self, pipe: Any, flags: Sequence[Flag], done: Sequence[Done],
               ) -> tuple[Callable[[Any], list[AddResult]] | None, _Finish]:
        events = flagged(done)[1]  # the envelope each flag's case keeps
        read = self.queue.add_flags_to(pipe, flags, events) if flags else None
        return read, self._queue_finish(pipe, done)

    @staticmethod
    def _written(replies: list[Any], read: Callable[[Any], list[AddResult]] | None,
                 finish: _Finish) -> Written:
        finish_errors = finish.errors(replies)
        if read is None:
            return Written(finish_errors=finish_errors)
        if isinstance(replies[0], Exception):
            return Written(flag_error=replies[0], finish_errors=finish_errors)
        return Written(read(replies[0]), finish_errors=finish_errors)

    def _parsed(self, commands: list[Any], raw: list[Any]) -> list[Any]:
        """Replies as a redis-py pipeline would return them (its response callbacks applied);
        an outage among them is raised, as :meth:`_run` raises it."""
        callbacks = self.redis.response_callbacks
        out = []
        for (args, options), reply in zip(commands, raw):
            if isinstance(reply, Exception):
                if is_outage(reply):
                    raise reply
            elif args[0] in callbacks:
                extra = {k: v for k, v in options.items() if k not in _NOT_FOR_CALLBACKS}
                reply = callbacks[args[0]](reply, **extra)
            out.append(reply)
        return out

    async def add_flags(self, flags: Sequence[Flag], events: Sequence[Envelope]) -> list[AddResult]:
        return await self.queue.add_flags(flags, events)

    async def finish(self, done: Sequence[Done]) -> None:
        replies, finish = await self._run(lambda pipe: self._queue_finish(pipe, done))
        for error in finish.errors(replies):
            raise error

    def _queue_finish(self, pipe: Any, done: Sequence[Done]) -> _Finish:
        scorer = self.scorer
        start = len(pipe.command_stack)
        for one in done:
            scorer.queue_inputs(pipe, one.event, one.decision, keep=one.keep_input)
            if scorer.observers:
                scorer.queue_unlabelled(pipe, one.event, one.decision)
            if self.pseudonym_key is not None:
                queue_withdrawal(pipe, one.event, self.pseudonym_key, self.clock())
        samples = [(one.event, one.sample, [flag.flag_id for flag in one.flags])
                   for one in done if one.sample is not None]
        finish = _Finish(self, start)
        if samples and self.sampler is not None:
            finish.samples_at = len(pipe.command_stack)
            finish.read_samples = self.queue.add_samples_to(
                pipe, samples, self.sampler.policy.daily_budget)
            finish.samples = [sample for _, sample, _ in samples]
        # Every event's history entry, and who wrote each message or proposal (a user report
        # about it joins the author's case): review queue's history, bounded there.
        self.queue.record_to(pipe, (one.event for one in done), self.clock())
        # Re-decided holds are matched once written (a kill before leaves them held).
        queue_release(pipe, [one.release for one in done if one.release is not None])
        ledger.queue_mark(pipe, (one.event.id for one in done), self.clock())
        return finish

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


class _Finish:
    """Reads a round trip's replies to the finishing commands (model inputs, samples, ledger):
    their errors, with any sample Redis refused; the samples' budget counts go to the sampler's
    cache. ``start`` is where those commands begin in the round trip (after the flags')."""

    def __init__(self, outputs: RedisOutputs, start: int) -> None:
        self.outputs = outputs
        self.start = start
        self.samples_at: int | None = None
        self.read_samples: Callable[[Any], list[SampleResult]] | None = None
        self.samples: list[Any] = []

    def errors(self, replies: list[Any]) -> list[Exception]:
        errors = [reply for reply in replies[self.start:] if isinstance(reply, Exception)]
        if self.samples_at is None or self.read_samples is None:
            return errors
        reply = replies[self.samples_at]
        if isinstance(reply, Exception):
            return errors  # counted above
        sampler = self.outputs.sampler
        for sample, result in zip(self.samples, self.read_samples(reply)):
            if result.error is not None:
                error = ResponseError(result.error)
                if is_outage(error):
                    raise error  # Redis refuses writes: the round trip is retried whole
                errors.append(error)
            elif result.spent is not None and sampler is not None and sample.model_id:
                sampler.budget.observe(sample.model_id, sample.day, result.spent)
        return errors
