"""What Vigil itself publishes: flags (:class:`FlagRecord`, to ``tns.flags``) and dead letters
(:class:`DeadLetter`, to ``tns.dead_letters``); and :class:`Flag`, a finding as the worker hands
it to the review queue (with the reason and evidence the case shows)."""

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

#: Every ``kind`` a dead letter can have: the decoder's (:class:`schemas.errors.InvalidEvent`)
#: and the worker's ``processing_error``. A new kind belongs here too (a test scans the code):
#: the worker creates each kind's metric series at start, so dashboards see it from 0.
DEAD_LETTER_KINDS: tuple[str, ...] = (
    "empty", "oversized", "bad_json", "not_an_object", "unknown_type", "wrong_topic",
    "invalid_field", "clock_skew", "conflicting_duplicate", "processing_error",
    # An acknowledgement of an action nobody published to that user, or an appeal refused
    # (another user's decision, nothing to appeal, past the window): the reason says which.
    "refused",
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


class Finding(Output):
    """What a flag and its record on ``tns.flags`` share: the entity a case is about, and the
    detector's verdict."""

    entity_type: EntityType
    entity_id: str
    detector_id: str
    detector_version: str
    is_ai: bool
    mode: Literal["enforce", "shadow"]
    severity: Severity
    score: Annotated[float, Field(ge=0, le=1)]


class Flag(Finding):
    """A detector's finding about one event, and the entity a case should open for."""

    flag_id: str
    event_id: str
    event_type: str
    subject_id: str
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


class EventRef(Output):
    """The event a flag is about, by reference: enough to find and order it, nothing of its
    content (the review queue keeps the envelope, with the case)."""

    event_id: str
    type: str
    subject_id: str
    occurred_at: AwareDatetime


class FlagRecord(Finding):
    """What ``tns.flags`` carries, keyed by ``<entity_type>:<entity_id>``: a flag whose case was
    written, for services that act on findings (enforcement, analytics, audit).

    Only what such a consumer needs: ids, the detector and its verdict, and the case. No event
    content, no reason text, no evidence: those hold e-mail addresses, IP addresses, message
    text and report details, and the flag log would be a second store of personal data. The
    case (``case_id``, in the review service) holds them, for those allowed to read them.

    >>> FlagRecord.model_json_schema()["properties"]["schema_version"]["const"]
    '1.0'
    """

    schema_version: Literal["1.0"] = "1.0"
    flag_id: str
    #: The review case the flag opened or joined; for a suppressed flag, the case it was
    #: linked to (None if its entity had no open case).
    case_id: str | None
    #: Why the flag did not join its case (``dedup``: a repeat hit within the rule's window;
    #: ``snoozed``: an analyst silenced the detector for the entity), or None.
    suppressed: Literal["dedup", "snoozed"] | None = None
    event: EventRef
    flagged_at: AwareDatetime
    #: The deployed rule-set version (``rules-v<N>``) that produced the flag, if one was.
    source_version: str | None = None
    #: For an AI detector, the consent record that allowed it (state, policy version, time,
    #: consent event id), for audit.
    consent: dict[str, str] | None = None

    @classmethod
    def of(cls, flag: Flag, case_id: str | None, suppressed: str | None = None) -> FlagRecord:
        """The record of ``flag`` once the queue placed it (``case_id`` from its reply)."""
        return cls(
            flag_id=flag.flag_id, case_id=case_id or None, suppressed=suppressed,  # type: ignore[arg-type]
            event=EventRef(event_id=flag.event_id, type=flag.event_type,
                           subject_id=flag.subject_id, occurred_at=flag.occurred_at),
            entity_type=flag.entity_type, entity_id=flag.entity_id,
            detector_id=flag.detector_id, detector_version=flag.detector_version,
            is_ai=flag.is_ai, mode=flag.mode, severity=flag.severity, score=flag.score,
            flagged_at=flag.flagged_at, source_version=flag.source_version, consent=flag.consent)


class DeadLetter(Output):
    """An input that could not be processed, with everything needed to find and replay it.

    A letter always fits on ``tns.dead_letters`` (:data:`MAX_DEAD_LETTER_BYTES`, key and value
    together), whatever the input: the original value is kept whole up to
    :data:`KEPT_VALUE_BYTES` (twice the largest valid event), the key up to
    :data:`KEPT_KEY_BYTES`, the reason up to :data:`MAX_REASON_CHARS`; beyond that only a
    prefix is kept, and the letter says so. ``kind`` is one of :data:`DEAD_LETTER_KINDS`.
    Letters written before these limits carry none of the fields after ``received_at`` (their
    defaults say: nothing was cut).
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
