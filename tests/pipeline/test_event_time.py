"""Event time and feature windows on real Redis: no single event, whatever its date and arrival
order, can erase a subject's history; late and early events within the bound are counted in
their own windows. (The worker's dead-lettering of far-dated events is drilled in
tests/integration/test_hostile_input.py.)"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from redis.asyncio import Redis

from detectors.examples import example_event
from detectors.features import assemble
from pipeline.stores.state import MemoryState, RedisState
from schemas.clock import ClockBound
from schemas.decode import decode_event_obj
from schemas.errors import InvalidEvent
from schemas.events import Envelope
from tests.support.events import trimming_id

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def proposal(n: int, at: datetime, event_id: str | None = None) -> Envelope:
    return decode_event_obj(example_event("proposal.submitted", {
        "freelancer_id": "u_t", "proposal_id": f"prop_{n}", "job_id": f"job_{n}",
        "cover_letter": f"Proposal {n}."}, occurred_at=at.isoformat(),
        event_id=event_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"p{n}"))))


async def features_of(state: Any, events: list[Envelope]) -> list[dict[str, Any]]:
    """Each event loaded on its own, in this order (as arrivals, one batch each)."""
    out = []
    for event in events:
        [loaded] = await state.load([event])
        out.append(assemble(event, loaded.raw))
    return out


@pytest.fixture
async def states(stack: Any) -> Any:
    client = Redis.from_url(stack.settings.redis_url)
    redis_state = RedisState(client, clock=NOW.timestamp)
    yield [redis_state, MemoryState(clock=NOW.timestamp)]
    await redis_state.close()
    await client.aclose()


async def test_a_far_future_event_cannot_trim_away_the_burst_before_it(states: list[Any]) -> None:
    # Straight to the state script, past the worker's clock check: the store holds on its own.
    burst = [proposal(n, NOW - timedelta(seconds=60 - n)) for n in range(5)]
    future = proposal(99, datetime(9999, 1, 1, tzinfo=timezone.utc), trimming_id("f"))
    for state in states:
        seen = await features_of(state, burst[:3] + [future] + burst[3:])
        assert [f["freelancer_proposals_10m"] for f in seen] == [1, 2, 3, 1, 4, 5], state


async def test_out_of_order_events_within_the_bound_are_counted_in_their_windows(
        states: list[Any]) -> None:
    # An event 5 minutes ahead (the most accepted) trims up to 24h55m before now; the horizon's
    # hour of slack less those 5 minutes is how late an event may be and still count every
    # event of its 24 hours.
    old = proposal(1, NOW - timedelta(hours=24, minutes=54))
    early = proposal(2, NOW + timedelta(minutes=5), trimming_id("early", "{}|4"))
    now = proposal(3, NOW)
    late = proposal(4, NOW - timedelta(minutes=55))
    for state in states:
        seen = await features_of(state, [old, early, now, late])
        # Connects are 4 per proposal: proposals in each event's own 24 hours.
        assert [f["freelancer_connects_24h"] // 4 for f in seen] == [1, 1, 1, 2], state


def test_the_clock_bound_refuses_far_dated_events_and_accepts_the_rest() -> None:
    bound, now = ClockBound(), NOW.timestamp()
    for accepted in (NOW + timedelta(minutes=5), NOW - timedelta(days=300),
                     datetime(2000, 1, 1, tzinfo=timezone.utc)):
        bound.check(proposal(0, accepted), now)
    for refused in (NOW + timedelta(minutes=5, seconds=1), datetime(9999, 1, 1, tzinfo=timezone.utc),
                    datetime(1970, 1, 1, tzinfo=timezone.utc)):
        with pytest.raises(InvalidEvent) as info:
            bound.check(proposal(0, refused), now)
        assert info.value.kind == "clock_skew" and refused.isoformat() in info.value.reason
    with pytest.raises(InvalidEvent, match="86400 s before"):
        ClockBound(behind=86400).check(proposal(0, NOW - timedelta(days=2)), now)
