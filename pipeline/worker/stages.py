"""Ordered stages over a stream of batches, each in its own task, with bounded hand-offs.

The worker's batches go through CPU (deciding) and I/O (Redis, Kafka) in turn. Run as one
coroutine per batch, the CPU sits idle while a batch waits on Redis; run as stages, batch N is
written while batch N+1 is decided. Each stage takes items in order and hands them on in order,
so the last stage acknowledges batches in the order they came. A failing stage fails
:meth:`Stages.put` (the caller's loop then fails, and what was in hand is never acknowledged).

A stage may *gather*: it is handed every item waiting for it at once, as a list. Where a
stage's cost is mostly fixed per call (a round trip), items queued behind a slow call then
share the next one instead of each waiting out its own: the queue never grows deeper than
one call, whatever the load.

>>> import asyncio
>>> async def double(x): return 2 * x
>>> async def demo():
...     seen = []
...     async def keep(x): seen.append(x)
...     stages = Stages([double, keep], depth=1)
...     for x in range(5):
...         await stages.put(x)
...     await stages.join()
...     return seen
>>> asyncio.run(demo())
[0, 2, 4, 6, 8]
>>> async def gathered():
...     calls = []
...     async def slow(x): await asyncio.sleep(0.01); return x
...     async def write(xs): calls.append(xs)
...     stages = Stages([slow, write], depth=(1, 8), gather=(False, True))
...     for x in range(3):
...         await stages.put(x)
...     await stages.join()
...     return [x for call in calls for x in call]
>>> asyncio.run(gathered())
[0, 1, 2]
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Stage = Callable[[Any], Awaitable[Any]]
#: Called after each stage call with the stage's index, how long its (oldest) item waited for
#: it and how long the call ran, in seconds.
Observer = Callable[[int, float, float], None]


class Stages:
    """Stage *i* awaits ``stages[i](item)`` and hands the result to stage *i + 1*; at most
    ``depth`` items wait before each stage (one number for all, or one per stage). A stage
    whose ``gather`` flag is set is called with a list: every item waiting for it. ``observe``,
    if given, is told each call's wait and run time (:data:`Observer`)."""

    def __init__(self, stages: Sequence[Stage], *, depth: int | Sequence[int] = 1,
                 gather: Sequence[bool] | None = None, observe: Observer | None = None) -> None:
        if not stages:
            raise ValueError("at least one stage")
        self.stages = list(stages)
        self.depths = [depth] * len(self.stages) if isinstance(depth, int) else list(depth)
        self.gather = list(gather) if gather is not None else [False] * len(self.stages)
        if len(self.depths) != len(self.stages) or len(self.gather) != len(self.stages):
            raise ValueError("one depth and one gather flag per stage")
        self.observe = observe
        self._queues: list[asyncio.Queue[Any]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def _ensure_running(self) -> None:
        for task in self._tasks:
            if task.done():
                task.result()  # a stage failed: raise its error here, in the feeding loop
        if not self._tasks:
            # Created on first use: queues and tasks belong to the running event loop.
            self._queues = [asyncio.Queue(depth) for depth in self.depths]
            self._tasks = [asyncio.ensure_future(self._run(i)) for i in range(len(self.stages))]

    async def _run(self, i: int) -> None:
        stage, inbox = self.stages[i], self._queues[i]
        outbox = self._queues[i + 1] if i + 1 < len(self.stages) else None
        gather, observe, clock = self.gather[i], self.observe, time.perf_counter
        while True:
            queued = [await inbox.get()]  # (when it was queued, item)
            if gather:
                while not inbox.empty():
                    queued.append(inbox.get_nowait())
            items = [item for _, item in queued]
            try:
                started = clock()
                result = await stage(items if gather else items[0])
                if observe is not None:
                    observe(i, started - queued[0][0], clock() - started)
                if outbox is not None:
                    await outbox.put((clock(), result))
            finally:
                for _ in items:  # after the hand-off, so join() sees it in the next queue
                    inbox.task_done()

    async def put(self, item: Any) -> None:
        """Hand ``item`` to the first stage; returns once it is queued (backpressure), or
        raises the error of a stage that failed."""
        self._ensure_running()
        putting = asyncio.ensure_future(self._queues[0].put((time.perf_counter(), item)))
        await asyncio.wait({putting, *self._tasks}, return_when=asyncio.FIRST_COMPLETED)
        if not putting.done():
            putting.cancel()
        self._ensure_running()

    async def join(self) -> None:
        """Wait until every item put so far has been through every stage."""
        for queue in self._queues:
            joining = asyncio.ensure_future(queue.join())
            await asyncio.wait({joining, *self._tasks}, return_when=asyncio.FIRST_COMPLETED)
            if not joining.done():
                joining.cancel()
                self._ensure_running()

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
