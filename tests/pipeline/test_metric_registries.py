"""Each process exports its own metrics only: every collector of pipeline/metrics.py belongs to
exactly one process's registry (the worker's or the review service's), none to
prometheus_client's global one, and the series a dashboard's increase() needs exist from the
start (a labelled counter that appears on its first increment reads as 0 until the second)."""

from __future__ import annotations

import re

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase

import pipeline.metrics as metrics
from detectors.models import default_models
from detectors.ruleset import load_rules
from pipeline.worker.observe import consent_reason_code, start_series
from schemas.outputs import DEAD_LETTER_KINDS
from schemas.topics import INPUT_TOPICS, TOPIC_BY_TYPE
from tests.support.paths import REPO


def _collectors() -> dict[str, MetricWrapperBase]:
    return {name: obj for name, obj in vars(metrics).items() if isinstance(obj, MetricWrapperBase)}


def _registered(registry: CollectorRegistry) -> set[int]:
    return {id(collector) for collector in registry._collector_to_names}


def test_every_metric_is_in_exactly_one_process_registry() -> None:
    worker, review, default = (_registered(r) for r in (metrics.WORKER, metrics.REVIEW, REGISTRY))
    problems = []
    for name, collector in _collectors().items():
        owners = [label for label, ids in (("WORKER", worker), ("REVIEW", review)) if id(collector) in ids]
        if len(owners) != 1:
            problems.append(f"{name} is registered in {owners or 'no process registry'} "
                            "(pass registry=WORKER or registry=REVIEW)")
        if id(collector) in default:
            problems.append(f"{name} is in prometheus_client's global REGISTRY")
    assert not problems, "\n".join(problems)


def test_the_review_service_does_not_export_the_workers_metrics() -> None:
    text = generate_latest(metrics.REVIEW).decode()
    for worker_metric in ("vigil_rules_version", "vigil_consumer_lag{", "vigil_events_total",
                          "vigil_queue_flags_total", "vigil_model_version"):
        assert worker_metric not in text, worker_metric
    worker_text = generate_latest(metrics.WORKER).decode()
    assert "vigil_rules_version" in worker_text and "vigil_queue_depth" not in worker_text


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in registry.collect() for s in family.samples}


def test_start_series_creates_the_known_label_values_of_the_worker() -> None:
    rules = load_rules()
    models = default_models(b"k" * 32)
    start_series(rules, models)
    samples = _samples(metrics.WORKER)
    for event_type, topic in TOPIC_BY_TYPE.items():
        assert ("vigil_events_total", (("topic", topic), ("type", event_type))) in samples
    for topic in INPUT_TOPICS:
        for kind in DEAD_LETTER_KINDS:
            assert ("vigil_dead_letters_total", (("kind", kind), ("topic", topic))) in samples
    for rule in rules.rules:
        if rule.spec.mode == "off":
            continue
        key = ("vigil_detector_hits_total", (("detector", rule.id), ("mode", rule.spec.mode)))
        assert key in samples, key
        if rule.spec.mode == "enforce":  # shadow hits make no flags
            assert ("vigil_queue_flags_total",
                    (("detector", rule.id), ("result", "created"))) in samples
    for model in models:
        for reason in ("never_asked", "opted_out", "unavailable", "after_event", "outdated_policy"):
            assert ("vigil_ai_skipped_total", (("detector", model.id), ("reason", reason))) in samples


def test_every_dead_letter_kind_the_code_raises_is_known() -> None:
    """A kind missing from DEAD_LETTER_KINDS would get its series only on its first letter."""
    raised = set()
    for path in [*(REPO / "schemas").rglob("*.py"), *(REPO / "pipeline").rglob("*.py")]:
        text = path.read_text()
        raised |= set(re.findall(r'InvalidEvent\(\s*"([a-z_]+)"', text))
        raised |= set(re.findall(r'dead_letters\.send\([^,]+,\s*"([a-z_]+)"', text))
    assert raised, "the scan found no kinds"
    assert raised <= set(DEAD_LETTER_KINDS), f"not in DEAD_LETTER_KINDS: {raised - set(DEAD_LETTER_KINDS)}"


def test_consent_reason_codes_cover_what_the_gate_says() -> None:
    assert consent_reason_code("no_consent: consent state unavailable") == "unavailable"
    assert consent_reason_code("no_consent: current consent state unavailable") == "unavailable"


def test_the_review_service_creates_every_decision_outcome_at_start() -> None:
    from pipeline.review.queue.policy import OUTCOMES
    from pipeline.review.web.sampler import start_series

    start_series()
    samples = _samples(metrics.REVIEW)
    for outcome in OUTCOMES:
        assert ("vigil_decisions_total", (("outcome", outcome),)) in samples


def test_group_lag_series_follow_the_partitions_and_vanish_when_the_broker_cannot_be_read() -> None:
    from pipeline.kafka.group_lag import PartitionLag
    from pipeline.review.web.sampler import export_group_lag

    def lag_series() -> dict[tuple, float]:
        return {labels: v for (name, labels), v in _samples(metrics.REVIEW).items()
                if name == "vigil_consumer_group_lag"}

    export_group_lag("g", [PartitionLag("t", 0, 10, 4, 6), PartitionLag("t", 1, 3, None, 3)])
    assert lag_series() == {(("group", "g"), ("partition", "0"), ("topic", "t")): 6,
                            (("group", "g"), ("partition", "1"), ("topic", "t")): 3}
    export_group_lag("g", [PartitionLag("t", 0, 10, 10, 0)])
    assert lag_series() == {(("group", "g"), ("partition", "0"), ("topic", "t")): 0}
    export_group_lag("g", None)  # no stale figure for an alert to act on
    assert lag_series() == {}
