"""The driver: benign ticks on an exponential clock, scenarios started to hold the fraud rate."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Iterator

from pipeline.sim.events import SimulatedEvent
from pipeline.sim.scenarios import REGISTRY
from pipeline.sim.world import World

#: Files written without an explicit start are reproducible byte for byte.
DEFAULT_START = datetime(2026, 1, 5, 9, 0, 0, tzinfo=timezone.utc)

# The labelled share is steered on yielded events plus a fraction of queued ones. Counting
# the queue in full would leave every prefix of the stream short by the events still in
# flight; ignoring it would start scenario after scenario while the first is still queued.
_PENDING_WEIGHT = 0.3


def generate(
    *,
    seed: int,
    count: int,
    fraud_rate: float = 0.05,
    start: datetime | None = None,
    mean_gap_seconds: float = 2.0,
) -> Iterator[SimulatedEvent]:
    """Yield exactly ``count`` events in non-decreasing ``occurred_at`` order.

    ``fraud_rate`` is the target share of scenario-labelled events (reached within a point or
    so; scenario events still scheduled after the last yielded event are dropped). Benign
    events arrive with exponential gaps of mean ``mean_gap_seconds``; scenario bursts use
    their own short gaps, which shrink in proportion when ``mean_gap_seconds`` is below 2 so
    that a load-test stream still contains whole scenarios. ``start`` defaults to
    :data:`DEFAULT_START`; a naive datetime is taken as UTC. The stream for a smaller
    ``count`` is a prefix of the stream for a larger one.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not 0.0 <= fraud_rate < 1.0:
        raise ValueError(f"fraud_rate must be in [0, 1), got {fraud_rate}")
    if mean_gap_seconds <= 0:
        raise ValueError(f"mean_gap_seconds must be > 0, got {mean_gap_seconds}")
    if start is None:
        start = DEFAULT_START
    elif start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    world = World(random.Random(seed), start.astimezone(timezone.utc), mean_gap_seconds)
    return _run(world, count, fraud_rate, mean_gap_seconds)


def _run(world: World, count: int, fraud_rate: float, mean_gap: float) -> Iterator[SimulatedEvent]:
    rng, agenda = world.rng, world.agenda
    now = 0.0
    emitted = 0
    labelled_out = 0  # labelled events yielded so far
    rate = 1.0 / mean_gap
    while emitted < count:
        # Start a scenario while the labelled share (see _PENDING_WEIGHT) is below target;
        # the coin flip spreads starts irregularly instead of on a fixed beat.
        if fraud_rate > 0.0:
            deficit = fraud_rate * (emitted + _PENDING_WEIGHT * len(agenda) + 1) - (
                labelled_out + _PENDING_WEIGHT * agenda.labelled)
            if deficit > 0 and (deficit > 30 or rng.random() < 0.3):
                _start_scenario(world, now)
        now += rng.expovariate(rate)
        while emitted < count and (sim := agenda.pop_due(now)) is not None:
            if sim.scenario is not None:
                labelled_out += 1
            yield sim
            emitted += 1
        if emitted >= count:
            break
        yield SimulatedEvent(world.benign.next(now), None)
        emitted += 1


def _start_scenario(world: World, now: float) -> None:
    feasible = [scenario for scenario in REGISTRY if scenario.feasible(world)]
    chosen = world.rng.choices(feasible, weights=[scenario.weight for scenario in feasible])[0]
    chosen.inject(world, now)
