"""What detection returns: one :class:`DetectorResult` per detector, gathered in a :class:`Decision`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["enforce", "shadow", "off"]
Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_RANK: dict[str, int] = {"low": 1, "medium": 2, "high": 3, "critical": 4}


@dataclass(frozen=True)
class DetectorResult:
    """One detector's verdict on one event.

    ``skipped`` is set (and ``fired`` is False) when the detector did not run, saying why:
    for example ``no_consent: never asked`` for an AI detector, or ``error: ...``.
    """

    detector_id: str
    detector_version: str
    is_ai: bool
    fired: bool
    mode: Mode = "enforce"
    score: float = 0.0
    severity: Severity = "low"
    reason: str = ""
    skipped: str | None = None
    entity_type: str = "user"
    entity_id: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    consent: dict[str, str] | None = None
    #: Repeat hits of this detector on the same entity within this many seconds do not make
    #: new flags (0: every hit flags).
    dedup_seconds: int = 0
    #: What an AI detector's model saw (minimised), kept so a later label can train on exactly it.
    model_input: dict[str, Any] | None = field(default=None, compare=False)

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> DetectorResult:
        """A result from a dict of every field (as another result's ``__dict__`` holds them).

        The same object the constructor makes, without its ``object.__setattr__`` per field
        (the price of ``frozen``): rules make a result per rule and event, so that price was a
        tenth of evaluating the rule library.

        >>> quiet = DetectorResult("r", "1", False, fired=False)
        >>> DetectorResult.from_fields({**quiet.__dict__, "fired": True}) == DetectorResult("r", "1", False, fired=True)
        True
        """
        result = object.__new__(cls)
        result.__dict__.update(fields)
        return result

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "detector_id": self.detector_id,
            "detector_version": self.detector_version,
            "is_ai": self.is_ai,
            "mode": self.mode,
            "fired": self.fired,
            "score": round(self.score, 6),
        }
        if self.fired:
            out.update(severity=self.severity, reason=self.reason,
                       entity=f"{self.entity_type}:{self.entity_id}")
        if self.skipped is not None:
            out["skipped"] = self.skipped
        if self.consent is not None:
            out["consent"] = self.consent
        return out


@dataclass(frozen=True)
class Decision:
    """Every detector's result for one event, in a stable order."""

    event_id: str
    event_type: str
    results: tuple[DetectorResult, ...]

    @property
    def findings(self) -> tuple[DetectorResult, ...]:
        """Results that fired in enforce mode: these become flags and cases."""
        return tuple(r for r in self.results if r.fired and r.mode == "enforce")

    @property
    def shadow_hits(self) -> tuple[DetectorResult, ...]:
        """Results that fired in shadow mode: counted, never turned into cases."""
        return tuple(r for r in self.results if r.fired and r.mode == "shadow")
