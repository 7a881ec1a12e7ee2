"""The worker's stages: order kept, items gathered by a gathering stage, failures surfaced."""

from __future__ import annotations

import asyncio

import pytest

from pipeline.worker.stages import Stages


async def test_items_pass_every_stage_in_order() -> None:
    seen: list[int] = []

    async def slow_double(x: int) -> int:
        await asyncio.sleep(0.001 * (x % 3))  # uneven, so a reordering would show
        return 2 * x

    async def keep(x: int) -> None:
        seen.append(x)

    stages = Stages([slow_double, keep], depth=2)
    for x in range(20):
        await stages.put(x)
    await stages.join()
    assert seen == [2 * x for x in range(20)]


async def test_a_gathering_stage_takes_everything_waiting_for_it_in_one_call() -> None:
    calls: list[list[int]] = []
    release = asyncio.Event()

    async def write(items: list[int]) -> None:
        calls.append(items)
        await release.wait()  # the first call stays out while the others queue behind it

    stages = Stages([write], depth=8, gather=[True])
    await stages.put(0)
    await asyncio.sleep(0.01)
    for x in range(1, 6):
        await stages.put(x)
    release.set()
    await stages.join()
    assert calls == [[0], [1, 2, 3, 4, 5]]


async def test_a_gathering_stage_after_another_keeps_the_order() -> None:
    written: list[int] = []

    async def decide(x: int) -> int:
        await asyncio.sleep(0)
        return x

    async def write(items: list[int]) -> None:
        await asyncio.sleep(0.002)
        written.extend(items)

    stages = Stages([decide, write], depth=(1, 4), gather=(False, True))
    for x in range(50):
        await stages.put(x)
    await stages.join()
    assert written == list(range(50))


async def test_a_failing_stage_fails_the_feeding_loop() -> None:
    async def explode(x: int) -> None:
        raise RuntimeError(f"bad item {x}")

    stages = Stages([explode], depth=1, gather=[True])
    with pytest.raises(RuntimeError, match="bad item"):
        for x in range(10):
            await stages.put(x)
            await asyncio.sleep(0)
    stages.cancel()


def test_one_depth_and_one_gather_flag_per_stage() -> None:
    async def stage(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="one depth and one gather flag"):
        Stages([stage, stage], gather=[True])


async def test_the_observer_is_told_each_calls_wait_and_run_time() -> None:
    """A stage held up by a slow call shows it as its items' waiting; the slow call as running."""
    told: list[tuple[int, float, float]] = []
    release = asyncio.Event()

    async def first(x: int) -> int:
        return x

    async def write(items: list[int]) -> None:
        if items == [0]:
            await release.wait()

    stages = Stages([first, write], depth=(1, 8), gather=(False, True),
                    observe=lambda i, waited, ran: told.append((i, waited, ran)))
    await stages.put(0)
    await asyncio.sleep(0.01)
    for x in (1, 2):
        await stages.put(x)
    await asyncio.sleep(0.05)
    release.set()
    await stages.join()
    writes = [(waited, ran) for i, waited, ran in told if i == 1]
    assert len([i for i, _, _ in told if i == 0]) == 3 and len(writes) == 2
    (_, held), (waited, _) = writes
    assert held >= 0.05  # the first write ran while it was held
    assert waited >= 0.04  # the items behind it waited for it
    assert all(waited >= 0 and ran >= 0 for _, waited, ran in told)
