"""Batches' state scripts: one call in flight, in order, loads that queued meanwhile merged, and
a merged call answering exactly what the batches would have read one call each."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from pipeline.feature_store import script_header
from pipeline.state import MemoryState, OrderedLoads, PreparedLoad, RedisState
from tests.pipeline.test_feature_store_parity import generate_stream


def load_of(*keys: str) -> PreparedLoad:
    args: list[Any] = script_header()
    for key in keys:
        args += ["G", key]
    return PreparedLoad(args, [[] for _ in keys])


class Recorder:
    """A stand-in for the Redis call: records what each call carried and how many overlapped."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self.fail_on = fail_on

    async def __call__(self, load: PreparedLoad) -> list[str]:
        keys = load.args[len(script_header()) + 1::2]
        self.calls.append(keys)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.005)
            if self.fail_on in keys:
                raise ValueError(f"script failed on {self.fail_on}")
            return [f"read {key}" for key in keys]
        finally:
            self.in_flight -= 1


async def test_loads_run_one_call_at_a_time_in_order_and_merge_while_waiting() -> None:
    run = Recorder()
    loads = OrderedLoads(run)
    futures = []
    for i in range(12):
        futures.append(loads.submit(load_of(f"k{i}a", f"k{i}b")))
        await asyncio.sleep(0.002 if i % 4 == 0 else 0)
    results = [await f for f in futures]
    assert results == [[f"read k{i}a", f"read k{i}b"] for i in range(12)]
    assert run.most_in_flight == 1
    assert [key for call in run.calls for key in call] == [f"k{i}{x}" for i in range(12) for x in "ab"]
    assert len(run.calls) < 12, "loads that queued behind a call should share the next one"


async def test_a_failed_call_fails_only_its_own_batches() -> None:
    run = Recorder(fail_on="bad")
    loads = OrderedLoads(run)
    first = loads.submit(load_of("ok1"))
    await asyncio.sleep(0)  # the first call goes out alone
    failing = [loads.submit(load_of("x")), loads.submit(load_of("bad"))]
    await asyncio.sleep(0.02)  # the failing call has run
    after = loads.submit(load_of("ok2"))
    assert await first == ["read ok1"]
    for future in failing:
        with pytest.raises(ValueError, match="script failed on bad"):
            await future
    assert await after == ["read ok2"]


@pytest.mark.integration
async def test_a_merged_call_reads_what_the_batches_would_read_one_by_one(stack: Any) -> None:
    events = generate_stream(2026, count=240)
    batches = [events[i:i + n] for i, n in zip(range(0, 240, 30), [30] * 8)]
    expected = await MemoryState().load(events)  # in order, one event at a time
    client = Redis.from_url(stack.settings.redis_url)
    try:
        state = RedisState(client)
        calls: list[int] = []

        async def run(load: PreparedLoad) -> list[Any]:
            calls.append(len(load.spans))
            return await state.run(load)

        loads = OrderedLoads(run)
        futures = [loads.submit(state.prepare(batch)) for batch in batches]
        loaded = [one for future in futures for one in await future]
    finally:
        await client.aclose()
    assert len(calls) < len(batches), calls  # some batches did share a call
    assert [one.raw for one in loaded] == [one.raw for one in expected]
    assert [(one.consent_at_event, one.consent_now) for one in loaded] == \
        [(one.consent_at_event, one.consent_now) for one in expected]
