"""Vigil's event contracts: the envelope, every event type's payload, flags and dead letters.

Everything here is plain data and validation (pydantic); no I/O. Producers in other languages
use the JSON Schema files under ``schemas/json/``, generated from these models by
``vigil schemas export``.
"""

from __future__ import annotations

from schemas.decode import MAX_EVENT_BYTES, decode_event, decode_event_obj
from schemas.errors import InvalidEvent, VigilError
from schemas.events import (
    EVENT_MODELS,
    ConsentChanged,
    Event,
    JobPostCreated,
    MessageSent,
    ProfileUpdated,
    ProposalSubmitted,
    ReviewDecided,
    UserReportFiled,
    UserSignedUp,
)
from schemas.outputs import DeadLetter, Flag
from schemas.topics import INPUT_TOPICS, TOPIC_BY_TYPE, Topics

__all__ = [
    "EVENT_MODELS",
    "INPUT_TOPICS",
    "MAX_EVENT_BYTES",
    "TOPIC_BY_TYPE",
    "ConsentChanged",
    "DeadLetter",
    "Event",
    "Flag",
    "InvalidEvent",
    "JobPostCreated",
    "MessageSent",
    "ProfileUpdated",
    "ProposalSubmitted",
    "ReviewDecided",
    "Topics",
    "UserReportFiled",
    "UserSignedUp",
    "VigilError",
    "decode_event",
    "decode_event_obj",
]
