"""Turn what the worker did into Prometheus metrics (label values carry no personal data)."""

from __future__ import annotations

from datetime import datetime, timezone

from detectors.results import Decision
from pipeline import metrics

_CONSENT_REASONS = {
    "never asked": "never_asked",
    "opted out": "opted_out",
    "consent state unavailable": "unavailable",
    "consent given after the event": "after_event",
}


def consent_reason_code(skipped: str) -> str:
    """A low-cardinality code for a consent-gate refusal.

    >>> consent_reason_code("no_consent: consent under policy 2025-06, current is 2026-01")
    'outdated_policy'
    """
    detail = skipped.removeprefix("no_consent:").strip()
    return _CONSENT_REASONS.get(detail, "outdated_policy" if detail.startswith("consent under") else "other")


def record_decision(topic: str, decision: Decision) -> None:
    metrics.EVENTS.labels(topic, decision.event_type).inc()
    for result in decision.results:
        if result.fired:
            metrics.DETECTOR_HITS.labels(result.detector_id, result.mode).inc()
        elif result.skipped:
            if result.skipped.startswith("error"):
                metrics.DETECTOR_ERRORS.labels(result.detector_id).inc()
            elif result.skipped.startswith("no_consent"):
                metrics.AI_SKIPPED.labels(result.detector_id,
                                          consent_reason_code(result.skipped)).inc()


def seconds_since(moment: datetime) -> float:
    return max(0.0, (datetime.now(timezone.utc) - moment).total_seconds())
