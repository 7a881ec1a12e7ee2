"""What moves between the worker's stages: a batch, and the events of it being written."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from detectors.sampling import Sample
from pipeline.kafka.transport import Fetched
from pipeline.review.queue import AddResult
from schemas.events import Envelope
from schemas.outputs import Flag


@dataclass
class Batch:
    """A micro-batch between its stages: decoded, its state load under way."""

    fetched: Fetched  # every record of the batch (dead letters too): acked when written
    started: float
    decoded: list[tuple[Any, Envelope]] = field(default_factory=list)
    loading: asyncio.Future[Any] | None = None
    #: What deciding it left to write: the events decided, with their flags.
    done: list[Done] = field(default_factory=list)
    #: The link index's update of ``done`` (:mod:`pipeline.worker.links`), under way.
    linking: asyncio.Future[None] | None = None
    #: What its state script said about its joins (:class:`pipeline.stores.joins.BatchJoins`).
    joins: Any = None


@dataclass
class Done:
    """An event being applied: decided, its flags built; cases, ledger entry and model input to
    write, and the labelling sample it belongs to (if any)."""

    message: Any
    event: Envelope
    decision: Any
    flags: list[Flag]
    keep_input: bool
    sample: Sample | None = None
    #: What the review queue did with each flag (its case), once written.
    added: list[AddResult] = field(default_factory=list)
    #: Why a re-decision (:mod:`pipeline.worker.late`) was made; None for the first decision.
    late: str | None = None
    #: The hold its write releases (a join matched), if any.
    release: tuple[str, str, str] | None = None
    #: Kafka delivered it before (its digest was seen: a restart or rebalance since).
    redelivered: bool = False


def flagged(done: Sequence[Done]) -> tuple[list[Flag], list[Envelope]]:
    """The flags of ``done`` in order, and each one's event (the envelope its case stores)."""
    flags, events = [], []
    for one in done:
        flags += one.flags
        events += [one.event] * len(one.flags)
    return flags, events
