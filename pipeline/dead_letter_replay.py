"""Dead letters read back from ``tns.dead_letters``, and replayed once their cause is fixed.

A worker parks what it cannot process with the reason and the original bytes
(:func:`pipeline.dead_letters.dead_letter`). Once the cause is fixed (a producer's bug, a
schema change, a Vigil bug behind a ``processing_error``), ``vigil dead-letters replay``
publishes the originals again through the :class:`~pipeline.publisher.Publisher`: each is
validated first, and sent to the topic its type belongs on. Processing is idempotent per event
id, so replaying an event that was processed meanwhile, or replaying twice, changes nothing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from pipeline.publisher import Publisher
from pipeline.topic_reader import read_topic
from schemas.decode import decode_event
from schemas.errors import InvalidEvent
from schemas.outputs import DeadLetter
from schemas.topics import Topics


@dataclass(frozen=True)
class Parked:
    """A dead letter as read back, with where it sits in ``tns.dead_letters``."""

    letter: DeadLetter
    partition: int
    offset: int

    @property
    def original(self) -> tuple[str, int, int]:
        """Where the original was read from: the same input dead-lettered twice (a worker
        redelivered it after a crash) has the same origin."""
        return self.letter.topic, self.letter.partition, self.letter.offset


def read_dead_letters(bootstrap: str, *, since: datetime | None = None, idle: float = 1.5,
                      timeout: float = 120.0) -> tuple[list[Parked], list[str]]:
    """Every dead letter in the topic (with ``since``, those produced from then on), oldest
    first per partition, and a line for each record there that is not a dead letter (so
    nothing in the topic goes unmentioned). Raises :class:`TimeoutError` rather than return
    part of the topic."""
    parked, unreadable = [], []
    # A letter is produced after its received_at is taken, so seeking to ``since`` by produce
    # time skips no letter received since.
    for record in read_topic(bootstrap, Topics.DEAD_LETTERS, idle=idle, timeout=timeout,
                             group="vigil-dead-letters-reader", since=since):
        try:
            parked.append(Parked(DeadLetter.model_validate_json(record.value), record.partition,
                                 record.offset))
        except ValidationError as exc:
            unreadable.append(f"partition {record.partition} offset {record.offset}: not a dead "
                              f"letter ({exc.error_count()} problem(s): {exc.errors()[0]['msg']})")
    return parked, unreadable


def matching(parked: Iterable[Parked], *, kinds: Sequence[str] = (), topics: Sequence[str] = (),
             since: datetime | None = None) -> list[Parked]:
    """The dead letters of any of ``kinds`` from any of ``topics`` (all when empty) received
    at or after ``since``.

    >>> from pipeline.dead_letters import dead_letter
    >>> def at(kind, topic):
    ...     return Parked(dead_letter(kind=kind, reason="r", topic=topic, partition=0, offset=0,
    ...                               key=None, value=b"{}"), 0, 0)
    >>> letters = [at("bad_json", "tns.messages"), at("invalid_field", "tns.signups")]
    >>> [p.letter.kind for p in matching(letters, kinds=["invalid_field"])]
    ['invalid_field']
    >>> len(matching(letters, topics=["tns.messages", "tns.signups"]))
    2
    """
    return [p for p in parked
            if (not kinds or p.letter.kind in kinds) and (not topics or p.letter.topic in topics)
            and (since is None or p.letter.received_at >= since)]


@dataclass
class ReplayReport:
    """What a replay did with each dead letter it was given."""

    #: (dead letter, event id) of each original published again (or, dry, that would be).
    sent: list[tuple[Parked, str]] = field(default_factory=list)
    #: (dead letter, why) of each original that is still not a valid event: not sent.
    still_invalid: list[tuple[Parked, str]] = field(default_factory=list)
    #: Dead letters of an original already replayed in this run (dead-lettered twice).
    repeats: list[Parked] = field(default_factory=list)


def replay(parked: Iterable[Parked], publisher: Publisher | None) -> ReplayReport:
    """Publish the originals of ``parked`` again, each once, if it now decodes as a valid
    event; ``publisher`` None only checks (a dry run). Raises
    :class:`~pipeline.publisher.PublishError` if Kafka did not take every one sent."""
    report = ReplayReport()
    seen: set[tuple[str, int, int]] = set()
    for item in parked:
        if item.original in seen:
            report.repeats.append(item)
            continue
        seen.add(item.original)
        try:
            raw = base64.b64decode(item.letter.original_b64, validate=True)
            # No topic check: an event sent to the wrong topic goes to its own one now.
            event = decode_event(raw)
        except binascii.Error as exc:
            report.still_invalid.append((item, f"original_b64 is not base64: {exc}"))
            continue
        except InvalidEvent as exc:
            report.still_invalid.append((item, f"{exc.kind}: {exc.reason}"))
            continue
        if publisher is not None:
            publisher.publish(event)
        report.sent.append((item, str(event.event_id)))
    if publisher is not None:
        publisher.flush()
    return report
