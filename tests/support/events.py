"""Which event types have a ready-made valid example (:func:`detectors.examples.example_event`)."""

from __future__ import annotations

import uuid

from detectors.examples import example_event
from detectors.features import trims
from schemas.events import EVENT_MODELS


def has_example(event_type: str) -> bool:
    try:
        example_event(event_type)
    except KeyError:
        return False
    return True


#: Every event type that :func:`example_event` can build, sorted.
EXAMPLE_TYPES = sorted(t for t in EVENT_MODELS if has_example(t))


def trimming_id(prefix: str, member: str = "{}") -> str:
    """A (reproducible) event id whose feature write of ``member`` trims its set: the id
    itself, or e.g. ``"{}|4"`` (a proposal's connects). One write in TRIM_EVERY trims, by a
    fixed pick, so a test that needs a trimming write must choose its id."""
    ids = (str(uuid.uuid5(uuid.NAMESPACE_URL, f"{prefix}{i}")) for i in range(1000))
    return next(i for i in ids if trims(member.format(i)))
