"""Turn what the worker did into Prometheus metrics (label values carry no personal data)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from detectors.base import Detector
from detectors.ordering import lateness
from detectors.results import Decision
from detectors.ruleset import RuleSet
from pipeline import metrics
from schemas.outputs import DEAD_LETTER_KINDS
from schemas.topics import INPUT_TOPICS, TOPIC_BY_TYPE

_CONSENT_REASONS = {
    "never asked": "never_asked",
    "opted out": "opted_out",
    "consent state unavailable": "unavailable",
    "current consent state unavailable": "unavailable",
    "consent given after the event": "after_event",
}
#: What vigil_ai_skipped_total{reason} can say (consent_reason_code's codes).
CONSENT_REASON_CODES = ("never_asked", "opted_out", "unavailable", "after_event",
                        "outdated_policy", "other")
#: vigil_queue_flags_total{result} (pipeline.review.queue.intake).
QUEUE_RESULTS = ("created", "duplicate", "suppressed_dedup", "suppressed_snoozed", "failed")


def consent_reason_code(skipped: str) -> str:
    """A low-cardinality code for a consent-gate refusal.

    >>> consent_reason_code("no_consent: consent under policy 2025-06, current is 2026-01")
    'outdated_policy'
    """
    detail = skipped.removeprefix("no_consent:").strip()
    return _CONSENT_REASONS.get(detail, "outdated_policy" if detail.startswith("consent under") else "other")


def start_series(rules: RuleSet, models: Sequence[Detector]) -> None:
    """Create the series of every label value known now, at 0: a labelled counter otherwise
    appears on its first increment, and ``increase()`` over it reads 0 until the second (a
    dashboard showed no dead letters after the first one). Cheap and idempotent: the worker
    calls it at start and on every heartbeat, so a rule deployed since gets its series too."""
    for event_type, topic in TOPIC_BY_TYPE.items():
        metrics.EVENTS.labels(topic, event_type)
    for topic in INPUT_TOPICS:
        metrics.EVENTS_REDELIVERED.labels(topic)
        for kind in DEAD_LETTER_KINDS:
            metrics.DEAD_LETTERS.labels(topic, kind)
    detectors = [(rule.id, rule.spec.mode) for rule in rules.rules if rule.spec.mode != "off"]
    detectors += [(model.id, getattr(model, "mode", "enforce")) for model in models]
    for detector, mode in detectors:
        metrics.DETECTOR_HITS.labels(detector, mode)
        metrics.DETECTOR_ERRORS.labels(detector)
        if mode == "enforce":  # shadow hits make no flags
            metrics.FLAGS_PUBLISHED.labels(detector)
            for result in QUEUE_RESULTS:
                metrics.QUEUE_FLAGS.labels(detector, result)
    for model in models:
        if getattr(model, "is_ai", False):
            for reason in CONSENT_REASON_CODES:
                metrics.AI_SKIPPED.labels(model.id, reason)
    for result in ("switched", "refused"):
        metrics.RULES_RELOADS.labels(result)


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


def record_redeliveries(topics: Iterable[str]) -> None:
    """Count the events Kafka delivered again (decided again, out of ``vigil_events_total``)."""
    for topic, n in Counter(topics).items():
        metrics.EVENTS_REDELIVERED.labels(topic).inc(n)


def record_late_hits(detectors: Iterable[str]) -> None:
    """Count the flags a re-decision (:mod:`pipeline.worker.late`) newly raised as hits."""
    for detector, n in Counter(detectors).items():
        metrics.DETECTOR_HITS.labels(detector, "enforce").inc(n)


def seconds_since(moment: datetime) -> float:
    return max(0.0, (datetime.now(timezone.utc) - moment).total_seconds())


def stage_observer(names: Sequence[str]) -> Callable[[int, float, float], None]:
    """The :class:`pipeline.worker.stages.Stages` hook exporting ``vigil_stage_seconds`` for the
    stages ``names`` (in order)."""
    children = [(metrics.STAGE_SECONDS.labels(name, "waited"),
                 metrics.STAGE_SECONDS.labels(name, "ran")) for name in names]

    def observe(index: int, waited: float, ran: float) -> None:
        waiting, running = children[index]
        waiting.observe(waited)
        running.observe(ran)
    return observe


def round_trip_timer(step: str) -> Callable[..., None]:
    """Call the result (as is, or as a future's done callback) when the reply is read."""
    histogram, started = metrics.REDIS_ROUND_TRIP.labels(step), time.perf_counter()
    return lambda *_: histogram.observe(time.perf_counter() - started)


def count_lateness(events: Sequence[Any], low_watermarks: dict[str, float],
                   allowed: float) -> None:
    """Count the events dated behind their topic's low watermark (:func:`lateness`): late
    (still counted in their windows) or too late (decided, counted in no window)."""
    if not low_watermarks:
        return
    for event in events:
        low = low_watermarks.get(TOPIC_BY_TYPE[event.type])
        if low is None:
            continue
        kind = lateness(at=event.occurred_at.timestamp(), watermark=low, allowed=allowed)
        if kind != "on_time":
            metrics.LATE_EVENTS.labels(kind).inc()


def count_joins(joins: Any) -> None:
    """A batch's joins (:class:`pipeline.stores.joins.BatchJoins`): events held, and entries
    let go when their window ended or the books were full."""
    if joins is None:
        return
    if joins.held:
        metrics.JOINS_HELD.inc(joins.held)
    if joins.ended:
        metrics.JOINS_UNMATCHED.labels("window_ended").inc(joins.ended)
    if joins.full:
        metrics.JOINS_UNMATCHED.labels("book_full").inc(joins.full)
