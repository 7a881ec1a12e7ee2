"""Turn what the worker did into Prometheus metrics (label values carry no personal data)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
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


def record_decisions(decisions: Iterable[tuple[str, Decision]]) -> None:
    """Count a batch of ``(topic, decision)`` pairs: events in, hits, errors, consent skips.

    Counted per batch, then added once per label set: a labelled child costs a lock and a
    lookup, which per event and per result would be a real share of the worker's time.
    """
    events: Counter[tuple[str, str]] = Counter()
    hits: Counter[tuple[str, str]] = Counter()
    errors: Counter[str] = Counter()
    skipped: Counter[tuple[str, str]] = Counter()
    for topic, decision in decisions:
        events[topic, decision.event_type] += 1
        for result in decision.results:
            if result.fired:
                hits[result.detector_id, result.mode] += 1
            elif result.skipped:
                if result.skipped.startswith("error"):
                    errors[result.detector_id] += 1
                elif result.skipped.startswith("no_consent"):
                    skipped[result.detector_id, consent_reason_code(result.skipped)] += 1
    for labels, n in events.items():
        metrics.EVENTS.labels(*labels).inc(n)
    for labels, n in hits.items():
        metrics.DETECTOR_HITS.labels(*labels).inc(n)
    for detector, n in errors.items():
        metrics.DETECTOR_ERRORS.labels(detector).inc(n)
    for labels, n in skipped.items():
        metrics.AI_SKIPPED.labels(*labels).inc(n)


def seconds_since(moment: datetime) -> float:
    return max(0.0, (datetime.now(timezone.utc) - moment).total_seconds())


def round_trip_timer(step: str) -> Callable[..., None]:
    """Call the result (as is, or as a future's done callback) when the reply is read."""
    histogram, started = metrics.REDIS_ROUND_TRIP.labels(step), time.perf_counter()
    return lambda *_: histogram.observe(time.perf_counter() - started)
