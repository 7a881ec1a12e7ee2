"""What a live-load step of ``bench/e2e.py`` says: did the consumer keep up, and where a batch's
time went (from the worker's own ``vigil_stage_seconds``). Pure functions over what the run
recorded: send times, processing times and a metrics scrape.

A consumer keeps up with a load when its lag (events sent but not yet processed) stays bounded
over the step. One that falls behind by a share of the rate grows its lag by that share every
second, so the verdict is the lag's trend, not its size at one moment:

>>> sent = {f"e{i}": i / 100 for i in range(3000)}             # 100 events/s for 30 s
>>> kept = {e: t + 0.05 for e, t in sent.items()}              # each 50 ms later: 5-6 in flight
>>> step = lag_trend(sent, kept)
>>> step.kept_up, round(step.slope, 1), step.end_lag
(True, 0.0, 6)
>>> slow = {f"e{i}": i / 90 + 0.05 for i in range(3000)}       # 90 events/s: 10 % short
>>> step = lag_trend(sent, slow)
>>> step.kept_up, round(step.slope)
(False, 10)
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

#: The lag may grow by at most this share of the rate per second over a step (a worker 2 %
#: short of the rate ends a 30 s step 0.6 s of traffic behind; one stall of a second in the
#: middle of the step moves the trend by much less than that) ...
MAX_SLOPE_SHARE = 0.02
#: ... and be at most this many seconds of traffic when the load ends.
MAX_END_LAG_SECONDS = 1.0


@dataclass(frozen=True)
class LagTrend:
    """The lag over a step, sampled every ``every`` seconds from the first send to the last."""

    rate: float  # events/s sent
    slope: float  # least-squares growth of the lag, events/s
    end_lag: int  # sent but not processed at the last send
    max_lag: int

    @property
    def kept_up(self) -> bool:
        return (self.slope <= MAX_SLOPE_SHARE * self.rate
                and self.end_lag <= MAX_END_LAG_SECONDS * self.rate)


def lag_trend(sent: dict[str, float], processed: dict[str, float], every: float = 0.5) -> LagTrend:
    """The lag of ``processed`` (event -> when) behind ``sent`` (event -> when), sampled every
    ``every`` seconds over the sends; an event never processed counts as lag throughout."""
    sends = sorted(sent.values())
    done = sorted(processed[e] for e in sent if e in processed)
    first, last = sends[0], sends[-1]
    points: list[tuple[float, int]] = []
    at = first
    while True:
        at = min(at, last)  # the last point is the last send
        lag = bisect.bisect_right(sends, at) - bisect.bisect_right(done, at)
        points.append((at - first, lag))
        if at == last:
            break
        at += every
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_lag = sum(lag for _, lag in points) / n
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    slope = (sum((t - mean_t) * (lag - mean_lag) for t, lag in points) / spread) if spread else 0.0
    return LagTrend(rate=len(sends) / max(last - first, 1e-9), slope=slope,
                    end_lag=points[-1][1], max_lag=max(lag for _, lag in points))


@dataclass(frozen=True)
class StageProfile:
    """Mean milliseconds per batch: how long it waited for each stage and ran in it
    (``vigil_stage_seconds``), the state and write round trips, and the mean batch size."""

    batches: int
    events_per_batch: float
    stages: dict[tuple[str, str], float]  # (stage, phase) -> ms per call
    round_trips: dict[str, float]  # step -> ms per round trip

    def line(self) -> str:
        order = [("prepare", "ran"), ("prepare", "waited"), ("decide", "waited"), ("decide", "ran"),
                 ("write", "waited"), ("write", "ran"), ("finish", "waited"), ("finish", "ran"),
                 ("publish", "ran")]
        parts = [f"{stage} {phase} {self.stages[(stage, phase)]:.1f}"
                 for stage, phase in order if (stage, phase) in self.stages]
        trips = ", ".join(f"{step} {ms:.1f}" for step, ms in sorted(self.round_trips.items()))
        return (f"{self.batches} batches of {self.events_per_batch:.1f} events; ms per batch: "
                + ", ".join(parts) + f"; Redis round trips (ms): {trips}")


def stage_profile(metrics_text: str) -> StageProfile:
    """The profile in a worker's ``/metrics`` scrape (its counters since it started)."""
    sums: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name not in ("vigil_stage_seconds", "vigil_batch_events",
                               "vigil_redis_round_trip_seconds"):
            continue
        for sample in family.samples:
            if sample.name.endswith(("_sum", "_count")):
                sums[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value

    def mean_ms(name: str, labels: tuple[tuple[str, str], ...]) -> float | None:
        count = sums.get((f"{name}_count", labels), 0)
        return 1000 * sums[(f"{name}_sum", labels)] / count if count else None

    stages, trips = {}, {}
    for (name, labels), _ in sums.items():
        if name == "vigil_stage_seconds_sum":
            ms = mean_ms("vigil_stage_seconds", labels)
            if ms is not None:
                stages[(dict(labels)["stage"], dict(labels)["phase"])] = ms
        elif name == "vigil_redis_round_trip_seconds_sum":
            ms = mean_ms("vigil_redis_round_trip_seconds", labels)
            if ms is not None:
                trips[dict(labels)["step"]] = ms
    batches = int(sums.get(("vigil_batch_events_count", ()), 0))
    events = sums.get(("vigil_batch_events_sum", ()), 0.0)
    return StageProfile(batches, events / batches if batches else 0.0, stages, trips)
