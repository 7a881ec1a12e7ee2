"""Dead letters: the record of an input that could not be processed, and sending it to
``tns.dead_letters`` (reading dead letters back and replaying them is
:mod:`pipeline.offline.dead_letters`).

A letter always fits: whatever the input's size, it keeps a bounded prefix of value, key and
reason with the whole value's size and SHA-256 (:class:`~schemas.outputs.DeadLetter`). And
sending one never crashes the worker nor skips the record: a send that fails for a while (the
producer's buffer full, the broker away) is retried with back-off, and a letter the producer
refuses for its size or content is replaced by a minimal one (no original, the digest and
size kept); both are counted (``vigil_dead_letter_send_failures_total``, alert
``VigilDeadLetterSendFailing``). :meth:`DeadLetters.send` returns only once the producer has
taken a letter, and the record's fetch is acknowledged only after that.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from datetime import datetime, timezone
from typing import Any

from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordTooLargeError

from pipeline import metrics
from pipeline.worker.stats import WorkerStats
from schemas.outputs import (
    KEPT_KEY_BYTES,
    KEPT_VALUE_BYTES,
    MAX_REASON_CHARS,
    DeadLetter,
)

log = logging.getLogger("vigil.worker")

#: Back-off between attempts at a send that failed for a while: from this, doubling, capped.
FIRST_DELAY, MAX_DELAY = 0.1, 5.0


def dead_letter(*, kind: str, reason: str, topic: str, partition: int, offset: int,
                key: bytes | None, value: bytes | None, minimal: bool = False) -> DeadLetter:
    """The letter of one consumed record, within the size limits whatever the record's size;
    ``minimal``: keep none of the original (only its size and digest) and a short reason.

    >>> letter = dead_letter(kind="oversized", reason="too big", topic="t", partition=0,
    ...                      offset=7, key=b"u1", value=b"x" * 800_000)
    >>> letter.truncated, letter.original_size, len(base64.b64decode(letter.original_b64))
    (True, 800000, 131072)
    >>> dead_letter(kind="bad_json", reason="r", topic="t", partition=0, offset=0, key=None,
    ...             value=b"{").truncated
    False
    """
    value = value or b""
    kept_value = b"" if minimal else value[:KEPT_VALUE_BYTES]
    kept_key = None if key is None else (b"" if minimal else key[:KEPT_KEY_BYTES])
    limit = 200 if minimal else MAX_REASON_CHARS
    return DeadLetter(
        kind=kind, reason=reason if len(reason) <= limit else reason[:limit - 1] + "…",
        topic=topic, partition=partition, offset=offset,
        key=kept_key.decode("utf-8", "replace") if kept_key is not None else None,
        original_b64=base64.b64encode(kept_value).decode(),
        received_at=datetime.now(timezone.utc),
        truncated=len(kept_value) < len(value),
        original_size=len(value), original_sha256=hashlib.sha256(value).hexdigest(),
        key_truncated=key is not None and len(kept_key or b"") < len(key),
        key_size=len(key) if key is not None else None,
        key_sha256=hashlib.sha256(key).hexdigest() if key is not None else None,
    )


def refused(exc: BaseException) -> bool:
    """Whether the producer refused the letter itself (its size or content), so sending it
    again cannot help; anything else (a full buffer, the broker away) may pass.

    >>> refused(MessageSizeTooLargeError()), refused(TypeError("bad value")), refused(
    ...     asyncio.TimeoutError())
    (True, True, False)
    """
    cause = exc.__cause__ if exc.__cause__ is not None else exc  # faust's ProducerSendError
    if isinstance(cause, (MessageSizeTooLargeError, RecordTooLargeError)):
        return True
    # Not the transport's (a serialiser or encoding error): the letter, not the broker.
    return not isinstance(cause, (KafkaError, OSError, asyncio.TimeoutError))


class DeadLetters:
    """Sends a consumed record's dead letter to ``topic`` (faust's ``tns.dead_letters`` topic,
    or anything with its ``send``), and counts it."""

    def __init__(self, topic: Any, stats: WorkerStats, *, first_delay: float = FIRST_DELAY,
                 max_delay: float = MAX_DELAY) -> None:
        self.topic = topic
        self.stats = stats
        self.first_delay = first_delay
        self.max_delay = max_delay

    async def send(self, message: Any, kind: str, reason: str) -> None:
        """Dead-letter ``message``; returns once the producer has taken a letter for it."""
        where = f"{message.topic}/{message.partition}@{message.offset}"
        log.info("dead letter %s: %s", where, reason[:MAX_REASON_CHARS])
        minimal, delay = False, self.first_delay
        while True:
            letter = dead_letter(kind=kind, reason=reason, topic=message.topic,
                                 partition=message.partition, offset=message.offset,
                                 key=message.key, value=message.value, minimal=minimal)
            # The letter's own Kafka key: the original's (one key's letters stay in order),
            # cut to what the letter keeps.
            key = (None if message.key is None
                   else b"" if minimal else message.key[:KEPT_KEY_BYTES])
            try:
                delivery = await self.topic.send(key=key, value=letter.model_dump_json().encode())
            except Exception as exc:
                if refused(exc) and not minimal:
                    log.error("the dead letter of %s was refused (%r); sending a minimal one "
                              "(digest and size, no original)", where, exc)
                    metrics.DEAD_LETTER_SEND_FAILURES.labels("minimal").inc()
                    minimal = True
                    continue
                log.error("the dead letter of %s could not be sent (%r); retrying in %.1fs "
                          "(its partition waits)", where, exc, delay)
                metrics.DEAD_LETTER_SEND_FAILURES.labels("retried").inc()
                await asyncio.sleep(delay)
                delay = min(self.max_delay, delay * 2)
                continue
            break
        if isinstance(delivery, asyncio.Future):
            delivery.add_done_callback(lambda done: _delivered(done, where))
        metrics.DEAD_LETTERS.labels(message.topic, kind).inc()
        self.stats.dead_letters += 1


def _delivered(delivery: asyncio.Future[Any], where: str) -> None:
    # Taken by the producer, then not delivered (its own retries ran out): say so loudly.
    if not delivery.cancelled() and delivery.exception() is not None:
        log.error("the dead letter of %s was not delivered to tns.dead_letters: %r", where,
                  delivery.exception())
        metrics.DEAD_LETTER_SEND_FAILURES.labels("undelivered").inc()
