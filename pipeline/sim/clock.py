"""Simulated time: seconds since the stream's start, delays, and the events due later.

Times are floats (seconds after ``start``); only envelopes carry wall-clock stamps.
"""

from __future__ import annotations

import heapq
import random
from datetime import datetime, timedelta
from typing import Any

from pipeline.sim.events import SimulatedEvent


class Clock:
    """Turns simulated seconds into timestamps and draws the delays between a scenario's steps.

    >>> from datetime import timezone
    >>> clock = Clock(random.Random(1), datetime(2026, 1, 5, tzinfo=timezone.utc), mean_gap=0.5)
    >>> clock.tempo, clock.stamp(90.0125)
    (0.25, '2026-01-05T00:01:30.012Z')
    >>> 1.0 * 0.25 <= clock.later(1, 20) <= 20 * 0.25
    True
    """

    def __init__(self, rng: random.Random, start: datetime, mean_gap: float) -> None:
        self.rng = rng
        self.start = start
        # Scenario delays and rate-limit windows are tuned for the default 2 s gap. A faster
        # stream (a load test) compresses them proportionally, so scenarios still finish
        # inside it and the labelled share holds; a slower stream keeps real-world timings.
        self.tempo = min(1.0, mean_gap / 2.0)

    def later(self, low: float, high: float) -> float:
        """A delay in seconds, compressed when the stream runs faster than real time."""
        return self.rng.uniform(low, high) * self.tempo

    def stamp(self, t: float) -> str:
        """``t`` as the envelopes' ``occurred_at`` (UTC, milliseconds, ``Z``)."""
        dt = self.start + timedelta(seconds=t)
        return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}Z"


class Agenda:
    """Events scheduled for later, due in time order; ties keep their scheduling order, so a
    scenario's signup stays ahead of its first action.

    >>> agenda = Agenda()
    >>> agenda.push(5.0, {"n": 1}, "proposal_spam"); agenda.push(5.0, {"n": 2}, None)
    >>> len(agenda), agenda.labelled
    (2, 1)
    >>> agenda.pop_due(4.0) is None
    True
    >>> [agenda.pop_due(5.0).envelope["n"], agenda.pop_due(5.0).envelope["n"]], agenda.labelled
    ([1, 2], 0)
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, SimulatedEvent]] = []
        self._seq = 0
        #: Labelled events waiting (the driver steers the labelled share with it).
        self.labelled = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, t: float, envelope: dict[str, Any], scenario: str | None) -> None:
        self._seq += 1
        if scenario is not None:
            self.labelled += 1
        heapq.heappush(self._heap, (t, self._seq, SimulatedEvent(envelope, scenario)))

    def pop_due(self, now: float) -> SimulatedEvent | None:
        """The earliest event scheduled at or before ``now``, or ``None``."""
        if not self._heap or self._heap[0][0] > now:
            return None
        sim = heapq.heappop(self._heap)[2]
        if sim.scenario is not None:
            self.labelled -= 1
        return sim
