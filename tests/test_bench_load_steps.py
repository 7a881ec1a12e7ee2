"""bench/load_steps.py: the live-load verdict and the stage profile bench/e2e.py prints."""

from __future__ import annotations

import doctest

from prometheus_client import CollectorRegistry, Histogram, generate_latest

import bench.load_steps
from bench.load_steps import lag_trend, stage_profile


def test_the_doctests_hold() -> None:
    failed, tried = doctest.testmod(bench.load_steps)
    assert tried and not failed


def steady(rate: float, seconds: float) -> dict[str, float]:
    return {f"e{i}": i / rate for i in range(int(rate * seconds))}


def test_a_consumer_that_keeps_pace_with_a_stall_still_kept_up() -> None:
    sent = steady(200, 30)
    # Every event 20 ms after it was sent, but those of second 10 to 11 wait out a 1 s stall.
    done = {e: (11.0 if 10 <= t < 11 else t) + 0.02 for e, t in sent.items()}
    trend = lag_trend(sent, done)
    assert trend.kept_up
    assert trend.max_lag >= 190  # the stall is seen ...
    assert trend.end_lag <= 5  # ... and caught up


def test_one_that_drains_only_after_the_load_did_not_keep_up() -> None:
    sent = steady(200, 30)
    done = {e: 31.0 + i / 1000 for i, e in enumerate(sent)}  # nothing until the load ended
    trend = lag_trend(sent, done)
    assert not trend.kept_up
    assert trend.end_lag > 5000


def test_an_event_never_processed_is_lag_to_the_end() -> None:
    sent = steady(100, 10)
    done = {e: t + 0.01 for e, t in sent.items()}
    lost = {e: t for e, t in done.items() if e != "e0"}
    assert lag_trend(sent, lost).end_lag == lag_trend(sent, done).end_lag + 1


def test_the_profile_reads_a_scrape_of_the_workers_metrics() -> None:
    registry = CollectorRegistry()
    stage = Histogram("vigil_stage_seconds", "", ["stage", "phase"], registry=registry)
    trips = Histogram("vigil_redis_round_trip_seconds", "", ["step"], registry=registry)
    sizes = Histogram("vigil_batch_events", "", registry=registry)
    for seconds in (0.010, 0.030):
        stage.labels("write", "ran").observe(seconds)
        trips.labels("state").observe(seconds / 2)
    stage.labels("decide", "waited").observe(0.004)
    for n in (10, 30):
        sizes.observe(n)
    profile = stage_profile(generate_latest(registry).decode())
    assert profile.batches == 2 and profile.events_per_batch == 20
    assert profile.stages == {("write", "ran"): 20.0, ("decide", "waited"): 4.0}
    assert profile.round_trips == {"state": 10.0}
    assert "write ran 20.0" in profile.line()
