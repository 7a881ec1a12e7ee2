"""Live simulated traffic never runs ahead of the clock the worker judges it by."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.cli.main import live_start
from pipeline.settings import Settings
from pipeline.sim import generate


@pytest.mark.parametrize(("count", "rate"), [(300, 100.0), (6000, 100.0), (2000, 5.0),
                                             (200, 0.2)])
def test_no_live_event_is_dated_after_it_is_sent(count: int, rate: float) -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=timezone.utc)
    start = live_start(now, count, rate)
    skew = timedelta(seconds=Settings().max_clock_skew)
    for i, sim in enumerate(generate(seed=3, count=count, fraud_rate=0.08, start=start)):
        sent_at = now + timedelta(seconds=i / rate)
        occurred = datetime.fromisoformat(sim.envelope["occurred_at"].replace("Z", "+00:00"))
        assert occurred <= sent_at, (i, occurred, sent_at)
        assert sent_at - occurred < timedelta(days=2)  # and not absurdly old
    assert skew > timedelta(0)
