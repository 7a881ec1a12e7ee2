"""Which event types have a ready-made valid example (:func:`detectors.examples.example_event`)."""

from __future__ import annotations

from detectors.examples import example_event
from schemas.events import EVENT_MODELS


def has_example(event_type: str) -> bool:
    try:
        example_event(event_type)
    except KeyError:
        return False
    return True


#: Every event type that :func:`example_event` can build, sorted.
EXAMPLE_TYPES = sorted(t for t in EVENT_MODELS if has_example(t))
