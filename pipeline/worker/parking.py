"""The one processing-error hook: every event the worker gives up on is parked here.

An error that is not a Redis outage (a bug, or Redis data the worker did not expect, such as a
key of the wrong type) would fail the same way however often it was retried; retrying it would
hold up its partition's offsets for good. So the event is *parked*: dead-lettered as
``processing_error`` with the exception as reason (replayable once the cause is fixed), and taken
out of the processing ledger, where its batch may already have marked it. The rest of its batch
goes on. Outages are never parked: :meth:`Parking.attempt` waits them out.

Every place that gives up on an event comes through :meth:`Parking.park`: a batch that could
not be decided (then each of its events on its own), a flag that could not be built, a flag Redis
refused, a write that failed for one event, a label the models could not learn.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from pipeline.stores.outages import retrying
from schemas.errors import InvalidEvent
from schemas.events import Envelope

log = logging.getLogger("vigil.worker")
T = TypeVar("T")


class Parked:
    """What :meth:`Parking.attempt` returns for an event it parked (:data:`PARKED`)."""

    def __repr__(self) -> str:
        return "PARKED"


PARKED = Parked()


class DeadLetterSink(Protocol):
    async def send(self, message: Any, kind: str, reason: str) -> None: ...


class Parking:
    """Parks events: ``dead_letters`` sends the letter, ``forget`` takes an event id out of the
    processing ledger (both idempotent, so a redelivered event parked again is harmless)."""

    def __init__(self, dead_letters: DeadLetterSink,
                 forget: Callable[[str], Awaitable[Any]]) -> None:
        self.dead_letters = dead_letters
        self.forget = forget

    async def park(self, message: Any, event: Envelope, exc: Exception) -> None:
        """Dead-letter ``event`` (consumed as ``message``) because of ``exc``, so it cannot hold
        up its partition's offsets."""
        if isinstance(exc, InvalidEvent):
            # Found invalid while processing (a conflicting duplicate): its own kind, and the
            # ledger is left alone (an entry under its id is the other event's).
            await self.dead_letters.send(message, exc.kind, exc.reason)
            return
        log.error("processing failed for %s", event.event_id, exc_info=exc)
        await self.dead_letters.send(message, "processing_error", f"{type(exc).__name__}: {exc}")
        # A dead letter is not processed: out of the ledger, if its batch was written there.
        await retrying("ledger", lambda: self.forget(event.id))

    async def attempt(self, message: Any, event: Envelope, action: Callable[[], Awaitable[T]],
                      what: str | None = None) -> T | Parked:
        """Run ``action`` for ``event``, waiting out Redis outages; if it fails otherwise, park
        the event and return :data:`PARKED`."""
        try:
            return await retrying(what or f"event {event.event_id}", action)
        except Exception as exc:  # a bug must not lose the event: park it with the reason
            await self.park(message, event, exc)
            return PARKED
