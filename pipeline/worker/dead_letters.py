"""Dead letters: the record of an input that could not be processed, and sending it to
``tns.dead_letters`` (reading dead letters back and replaying them is
:mod:`pipeline.offline.dead_letters`)."""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timezone
from typing import Any

from pipeline import metrics
from pipeline.worker.stats import WorkerStats
from schemas.outputs import DeadLetter

log = logging.getLogger("vigil.worker")


def dead_letter(*, kind: str, reason: str, topic: str, partition: int, offset: int,
                key: bytes | None, value: bytes | None) -> DeadLetter:
    return DeadLetter(
        kind=kind, reason=reason, topic=topic, partition=partition, offset=offset,
        key=key.decode("utf-8", "replace") if key is not None else None,
        original_b64=base64.b64encode(value or b"").decode(),
        received_at=datetime.now(timezone.utc),
    )


class DeadLetters:
    """Sends a consumed record's dead letter to ``topic`` (faust's ``tns.dead_letters`` topic,
    or anything with its ``send``), and counts it."""

    def __init__(self, topic: Any, stats: WorkerStats) -> None:
        self.topic = topic
        self.stats = stats

    async def send(self, message: Any, kind: str, reason: str) -> None:
        letter = dead_letter(kind=kind, reason=reason, topic=message.topic,
                             partition=message.partition, offset=message.offset,
                             key=message.key, value=message.value)
        log.info("dead letter %s/%s@%s: %s", message.topic, message.partition, message.offset,
                 reason)
        await self.topic.send(key=message.key, value=letter.model_dump_json().encode())
        metrics.DEAD_LETTERS.labels(message.topic, kind).inc()
        self.stats.dead_letters += 1
