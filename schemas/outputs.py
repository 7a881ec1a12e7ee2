"""What Vigil itself publishes: flags (to ``tns.flags``) and dead letters (to ``tns.dead_letters``)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.decode import MAX_EVENT_BYTES, MAX_KEY_BYTES

#: The most a dead letter may take on ``tns.dead_letters``, its Kafka key and value together: a
#: quarter of the producer's 1 MiB request limit, so a letter is always sent, whatever the input.
MAX_DEAD_LETTER_BYTES = 256 * 1024
#: How much of an input a dead letter keeps: the whole value up to twice the largest event the
#: decoder accepts (the letter of any possibly valid event can be replayed, and a producer's
#: event just over the limit is there to read), the whole key up to the longest accepted,
#: reasons up to 2,000 characters.
KEPT_VALUE_BYTES = 2 * MAX_EVENT_BYTES
KEPT_KEY_BYTES = MAX_KEY_BYTES
MAX_REASON_CHARS = 2000


class Output(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


EntityType = Literal["user", "job_post", "message", "proposal"]
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
    """An input that could not be processed, with everything needed to find and replay it.

    A letter always fits on ``tns.dead_letters`` (:data:`MAX_DEAD_LETTER_BYTES`, key and value
    together), whatever the input: the original value is kept whole up to
    :data:`KEPT_VALUE_BYTES` (twice the largest valid event), the key up to
    :data:`KEPT_KEY_BYTES`, the reason up to :data:`MAX_REASON_CHARS`; beyond that only a
    prefix is kept, and the letter says so. Letters written before these limits carry none of
    the fields after ``received_at`` (their defaults say: nothing was cut).
    """

    # Each field's docstring is its description in the JSON Schema (use_attribute_docstrings).
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    kind: str
    """A short, stable code: bad_json, invalid_field, oversized, clock_skew,
    conflicting_duplicate, processing_error, ..."""
    reason: str
    """Why, in words an engineer can act on (2,000 characters at most)."""
    topic: str
    """The topic the original was read from."""
    partition: int
    """The partition the original was read from."""
    offset: int
    """The original's offset in its partition."""
    key: str | None
    """The original's Kafka key as UTF-8 text (undecodable bytes replaced); only its first
    1,024 bytes when key_truncated."""
    original_b64: str
    """The original value, base64; only its first 131,072 bytes when truncated (empty in a
    minimal letter, sent when a fuller one was refused)."""
    received_at: AwareDatetime
    """When the worker dead-lettered it."""
    truncated: bool = False
    """original_b64 holds only a prefix of the value (or nothing): it cannot be replayed from
    this letter (vigil dead-letters replay says so, and where the original was read from)."""
    original_size: int | None = None
    """The whole value's size in bytes, whether or not it was cut (absent in older letters)."""
    original_sha256: str | None = None
    """The SHA-256 (hex) of the whole value, whether or not it was cut."""
    key_truncated: bool = False
    """key holds only a prefix of the original key."""
    key_size: int | None = None
    """The whole key's size in bytes (absent without a key)."""
    key_sha256: str | None = None
    """The SHA-256 (hex) of the whole key (absent without a key)."""
