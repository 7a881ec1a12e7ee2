"""The small base every learned detector implements (rules are handled by :mod:`detectors.ruleset`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from detectors.results import DetectorResult
from schemas.events import Envelope


class Detector(ABC):
    """A detector scores one event from plain values and returns a :class:`DetectorResult`.

    ``is_ai`` marks learned models and calls to AI services: the core runs those only for
    subjects whose consent allows it (see :mod:`detectors.consent`).
    """

    id: ClassVar[str]
    version: ClassVar[str]
    is_ai: ClassVar[bool]
    description: ClassVar[str]
    event_types: ClassVar[frozenset[str]]
    #: The free-text payload fields it reads: detection hands it those normalised
    #: (:mod:`detectors.normalize`). None: every free-text field of its event types.
    text_fields: ClassVar[frozenset[str] | None] = None

    @abstractmethod
    def detect(self, event: Envelope, features: Mapping[str, Any]) -> DetectorResult:
        """Score the event; never raise for bad values, report them in the result instead."""
