"""Dead letters read back from ``tns.dead_letters``, and replayed once their cause is fixed.

A worker parks what it cannot process with the reason and the original bytes
(:func:`pipeline.worker.dead_letters.dead_letter`). Once the cause is fixed (a producer's bug, a
schema change, a Vigil bug behind a ``processing_error``), ``vigil dead-letters replay``
publishes the originals again through the :class:`~pipeline.kafka.publisher.Publisher`: each is
validated first, and sent to the topic its type belongs on. A letter whose original was too
large to keep whole (``truncated``: larger than any valid event) is not replayed: the report
says where the original was read from, to fetch while the topic retains it. Processing is
idempotent per event id, so replaying an event that was processed meanwhile, or replaying twice, changes nothing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from pipeline.kafka.publisher import Publisher
from pipeline.kafka.topic_reader import read_topic
from schemas.decode import decode_event
from schemas.errors import InvalidEvent
from schemas.outputs import DeadLetter
from schemas.topics import Topics


def origin(letter: DeadLetter) -> tuple[str, int, int]:
    """Where a dead letter's original was read from: an input dead-lettered twice (a worker
    redelivered it after a crash) has the same origin in both letters."""
    return letter.topic, letter.partition, letter.offset


def read_dead_letters(bootstrap: str, *, since: datetime | None = None, idle: float = 1.5,
                      timeout: float = 120.0) -> tuple[list[DeadLetter], list[str]]:
    """Every dead letter in the topic (with ``since``, those produced from then on), oldest
    first per partition, and a line for each record there that is not a dead letter (so
    nothing in the topic goes unmentioned). Raises :class:`TimeoutError` rather than return
    part of the topic."""
    letters, unreadable = [], []
    # A letter is produced after its received_at is taken, so seeking to ``since`` by produce
    # time skips no letter received since.
    for record in read_topic(bootstrap, Topics.DEAD_LETTERS, idle=idle, timeout=timeout,
                             group="vigil-dead-letters-reader", since=since):
        try:
            letters.append(DeadLetter.model_validate_json(record.value))
        except ValidationError as exc:
            unreadable.append(f"partition {record.partition} offset {record.offset}: not a dead "
                              f"letter ({exc.error_count()} problem(s): {exc.errors()[0]['msg']})")
    return letters, unreadable


def matching(letters: Iterable[DeadLetter], *, kinds: Sequence[str] = (),
             topics: Sequence[str] = (), since: datetime | None = None) -> list[DeadLetter]:
    """The dead letters of any of ``kinds`` from any of ``topics`` (all when empty) received
    at or after ``since``.

    >>> from pipeline.worker.dead_letters import dead_letter
    >>> def at(kind, topic):
    ...     return dead_letter(kind=kind, reason="r", topic=topic, partition=0, offset=0,
    ...                        key=None, value=b"{}")
    >>> letters = [at("bad_json", "tns.messages"), at("invalid_field", "tns.signups")]
    >>> [letter.kind for letter in matching(letters, kinds=["invalid_field"])]
    ['invalid_field']
    >>> len(matching(letters, topics=["tns.messages", "tns.signups"]))
    2
    """
    return [letter for letter in letters
            if (not kinds or letter.kind in kinds) and (not topics or letter.topic in topics)
            and (since is None or letter.received_at >= since)]


@dataclass
class ReplayReport:
    """What a replay did with each dead letter it was given."""

    #: (dead letter, event id) of each original published again (or, dry, that would be).
    sent: list[tuple[DeadLetter, str]] = field(default_factory=list)
    #: (dead letter, why) of each original that is still not a valid event: not sent.
    still_invalid: list[tuple[DeadLetter, str]] = field(default_factory=list)
    #: Dead letters of an original already replayed in this run (dead-lettered twice).
    repeats: list[DeadLetter] = field(default_factory=list)


def not_replayable(letter: DeadLetter) -> str:
    """Why a truncated letter is not replayed: only a prefix of its original is in it, and an
    original that large was never a valid event. Where to find the whole one, while retained.

    >>> from pipeline.worker.dead_letters import dead_letter
    >>> not_replayable(dead_letter(kind="oversized", reason="r", topic="tns.reports",
    ...     partition=1, offset=9, key=None, value=b"x" * 70_000, minimal=True))[:59]
    "truncated: the letter keeps 0 of the original's 70000 bytes"
    """
    kept = len(base64.b64decode(letter.original_b64))
    return (f"truncated: the letter keeps {kept} of the original's {letter.original_size} bytes "
            f"(SHA-256 {letter.original_sha256}), so it cannot be replayed; the original is "
            f"{letter.topic}/{letter.partition}@{letter.offset} while the topic retains it")


def replay(letters: Iterable[DeadLetter], publisher: Publisher | None) -> ReplayReport:
    """Publish the originals of ``letters`` again, each once, if it now decodes as a valid
    event; ``publisher`` None only checks (a dry run). Raises
    :class:`~pipeline.kafka.publisher.PublishError` if Kafka did not take every one sent."""
    report = ReplayReport()
    seen: set[tuple[str, int, int]] = set()
    for letter in letters:
        if origin(letter) in seen:
            report.repeats.append(letter)
            continue
        seen.add(origin(letter))
        if letter.truncated:
            report.still_invalid.append((letter, not_replayable(letter)))
            continue
        try:
            raw = base64.b64decode(letter.original_b64, validate=True)
            # No topic check: an event sent to the wrong topic goes to its own one now.
            event = decode_event(raw)
        except binascii.Error as exc:
            report.still_invalid.append((letter, f"original_b64 is not base64: {exc}"))
            continue
        except InvalidEvent as exc:
            report.still_invalid.append((letter, f"{exc.kind}: {exc.reason}"))
            continue
        if publisher is not None:
            publisher.publish(event)
        report.sent.append((letter, str(event.event_id)))
    if publisher is not None:
        publisher.flush()
    return report
