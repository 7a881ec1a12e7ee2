"""Deciding again the events a batch's joins released (:mod:`pipeline.stores.joins`).

A proposal decided before its job post arrived, a job post before its client's signup, a
signup counted before an earlier-dated signup of its device came in on another partition:
when the partner arrives, the held event is decided again with it, its flags marked as raised
late (``evidence.decided_late``). Flag ids are the event's and the detector's, so a flag the
first decision raised already comes back as a duplicate: only what the partner changed is new.

A re-decision can release others (a job post decided again once its client signed up releases
the proposals held for it): up to ``rounds`` rounds, each event once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from detectors.results import Decision
from pipeline.stores.joins import Released
from pipeline.stores.state import Loaded
from pipeline.worker.processor import Processor
from schemas.decode import decode_event
from schemas.errors import InvalidEvent
from schemas.events import Envelope

log = logging.getLogger("vigil.worker")


class RedoState(Protocol):
    """A state (:class:`~pipeline.stores.state.RedisState` or ``MemoryState``) that loads
    re-decisions: their writes again (idempotent), releasing nothing counted late."""

    async def load(self, events: Sequence[Envelope], *, redo: bool = False) -> list[Loaded]: ...


@dataclass(frozen=True)
class Redecided:
    event: Envelope
    decision: Decision
    released: Released
    #: The event that released it was a redelivery: this re-decision may have been written
    #: before and its flags never published.
    redelivered: bool = False

    @property
    def why(self) -> str:
        """What ``evidence.decided_late`` says: the reason and the join book."""
        return f"{self.released.reason}:{self.released.book}"


async def redecide(state: RedoState, processor: Processor, loaded: Sequence[Loaded], *,
                   rounds: int = 3) -> list[Redecided]:
    """Decide again every event released in ``loaded`` (and those their re-decisions release)."""
    out: list[Redecided] = []
    seen: set[str] = set()
    pending = [(r, item.redelivered) for item in loaded for r in item.released]
    for _ in range(rounds):
        events, why = [], []
        for released, redelivered in pending:
            try:
                event = decode_event(released.raw)
            except InvalidEvent:  # it was valid when held: a bug, not the event's
                log.exception("a held event no longer decodes; not decided again")
                continue
            if event.id not in seen:
                seen.add(event.id)
                events.append(event)
                why.append((released, redelivered))
        if not events:
            break
        again = await state.load(events, redo=True)
        decisions = processor.decide(events, again)
        out += [Redecided(e, d, r, redo) for e, d, (r, redo) in zip(events, decisions, why)]
        # A re-decision's own load sees its event's digest (it is always "seen"): what it
        # releases is a redelivery's only if it is.
        pending = [(r, redo) for item, (_, redo) in zip(again, why) for r in item.released]
    return out
