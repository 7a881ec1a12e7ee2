"""What Vigil itself publishes: flags (to ``tns.flags``) and dead letters (to ``tns.dead_letters``)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Output(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


EntityType = Literal["user", "job_post", "message", "proposal"]

#: Every ``kind`` a dead letter can have: the decoder's (:class:`schemas.errors.InvalidEvent`)
#: and the worker's ``processing_error``. A new kind belongs here too (a test scans the code):
#: the worker creates each kind's metric series at start, so dashboards see it from 0.
DEAD_LETTER_KINDS: tuple[str, ...] = (
    "empty", "oversized", "bad_json", "not_an_object", "unknown_type", "wrong_topic",
    "invalid_field", "processing_error",
)
Severity = Literal["low", "medium", "high", "critical"]


def flag_id_for(event_id: str, detector_id: str, detector_version: str) -> str:
    """The idempotency key of a flag: a redelivered event maps to the same flag id.

    >>> flag_id_for("e1", "message.off_platform_payment", "1") == flag_id_for(
    ...     "e1", "message.off_platform_payment", "1")
    True
    """
    digest = hashlib.sha256(f"{event_id}|{detector_id}|{detector_version}".encode()).hexdigest()
    return f"flg_{digest[:32]}"


class Flag(Output):
    """A detector's finding about one event, and the entity a case should open for."""

    flag_id: str
    event_id: str
    event_type: str
    subject_id: str
    entity_type: EntityType
    entity_id: str
    detector_id: str
    detector_version: str
    is_ai: bool
    mode: Literal["enforce", "shadow"]
    severity: Severity
    score: Annotated[float, Field(ge=0, le=1)]
    reason: str
    occurred_at: AwareDatetime
    flagged_at: AwareDatetime
    #: Why an AI detector was allowed to score (the consent record), for audit.
    consent: dict[str, str] | None = None
    #: Model explanation or rule features an analyst can read.
    evidence: dict[str, object] = {}
    #: Repeat hits of this detector on the same entity within this window add no new flag.
    dedup_seconds: int = 0
    #: The deployed rule-set version (or model snapshot version) that produced the flag.
    source_version: str | None = None
    #: The flagged event's envelope, so the case shows the evidence without another lookup.
    event: dict[str, object] | None = None


class DeadLetter(Output):
    """An input that could not be processed, with everything needed to find and replay it."""

    kind: str
    reason: str
    topic: str
    partition: int
    offset: int
    key: str | None
    original_b64: str
    received_at: AwareDatetime
