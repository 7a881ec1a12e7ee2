"""Build the dead letter for an input that could not be processed (reading dead letters back
and replaying them is :mod:`pipeline.offline.dead_letters`)."""

from __future__ import annotations

import base64
from datetime import datetime, timezone

from schemas.outputs import DeadLetter


def dead_letter(*, kind: str, reason: str, topic: str, partition: int, offset: int,
                key: bytes | None, value: bytes | None) -> DeadLetter:
    return DeadLetter(
        kind=kind, reason=reason, topic=topic, partition=partition, offset=offset,
        key=key.decode("utf-8", "replace") if key is not None else None,
        original_b64=base64.b64encode(value or b"").decode(),
        received_at=datetime.now(timezone.utc),
    )
