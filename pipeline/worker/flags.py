"""Turn a decision's findings into flags (for the review queue; the record ``tns.flags`` gets is
:class:`schemas.outputs.FlagRecord`, made once the queue placed the flag)."""

from __future__ import annotations

from datetime import datetime, timezone

from detectors.results import Decision
from schemas.events import Envelope
from schemas.outputs import Flag, flag_id_for


def flags_for(event: Envelope, decision: Decision, now: datetime | None = None,
              source_version: str | None = None, late: str | None = None) -> list[Flag]:
    """``late``: the event is decided again, its join partner arrived (said in the evidence)."""
    flagged_at = now or datetime.now(timezone.utc)
    return [
        Flag(
            flag_id=flag_id_for(event.id, r.detector_id, r.detector_version),
            event_id=event.id, event_type=event.type, subject_id=event.subject_id,
            entity_type=r.entity_type, entity_id=r.entity_id,  # type: ignore[arg-type]
            detector_id=r.detector_id, detector_version=r.detector_version, is_ai=r.is_ai,
            mode="enforce", severity=r.severity, score=r.score, reason=r.reason,
            occurred_at=event.occurred_at, flagged_at=flagged_at, consent=r.consent,
            evidence={**r.evidence, "decided_late": late} if late else r.evidence,
            dedup_seconds=r.dedup_seconds, source_version=source_version,
        )
        for r in decision.findings
    ]
