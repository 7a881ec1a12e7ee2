"""The review service's sampler: every ``VIGIL_REVIEW_SAMPLE_INTERVAL`` it refreshes the queue
gauges, SLA breaches and per-minute series, and the consumer group's lag read from the broker.

``/metrics`` serves what the last round left (it reads no case itself: a scrape that read every
open case cost one Redis round trip per case per scrape, per replica). The group's lag lives here
because the review service outlives the workers: the lag alerts must fire when the last worker
is gone (:mod:`pipeline.kafka.group_lag`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from pipeline import metrics
from pipeline.kafka.group_lag import GroupLagReader, PartitionLag
from pipeline.review.queue import ReviewQueue
from pipeline.review.queue.policy import OUTCOMES

log = logging.getLogger("vigil.review")

#: The series of the group lag gauge exported now: {(group, topic, partition)}.
_exported: set[tuple[str, str, str]] = set()


def start_series() -> None:
    """Decisions by every outcome at 0, so ``increase()`` sees the first decision too."""
    for outcome in OUTCOMES:
        metrics.DECISIONS.labels(outcome)
    for result in ("ok", "failed"):
        metrics.GROUP_LAG_SAMPLES.labels(result)


def export_group_lag(group: str, lags: Sequence[PartitionLag] | None) -> None:
    """Set the lag gauge per partition; ``None`` (the broker could not be read) drops every
    series, so no alert acts on a figure that is no longer true."""
    global _exported
    current = {(group, lag.topic, str(lag.partition)): lag.lag for lag in lags or ()}
    for labels in _exported - current.keys():
        try:
            metrics.GROUP_LAG.remove(*labels)
        except KeyError:
            pass
    for labels, value in current.items():
        metrics.GROUP_LAG.labels(*labels).set(value)
    _exported = set(current)
    metrics.GROUP_LAG_SAMPLES.labels("ok" if lags is not None else "failed").inc()


class Sampler:
    """One task: the queue's sample, then the group's lag (in a thread: the Kafka client
    blocks), every ``interval`` seconds; a failed round is logged and the next one retries."""

    def __init__(self, queue: ReviewQueue, interval: float, *,
                 lag_reader: Callable[[], GroupLagReader] | None = None) -> None:
        self.queue = queue
        self.interval = interval
        self.make_lag_reader = lag_reader
        self._reader: GroupLagReader | None = None
        self._last_trim = 0.0

    async def run(self) -> None:
        try:
            while True:
                await self.sample_queue()
                await self.sample_lag()
                await asyncio.sleep(self.interval)
        finally:
            if self._reader is not None:
                await asyncio.to_thread(self._reader.close)

    async def sample_queue(self) -> None:
        try:
            await self.queue.record_sample()
            await self.queue.export_enforcement()
            if time.monotonic() - self._last_trim > 600:
                await self.queue.trim_series()
                gone = await self.queue.enforce_retention()
                if any(gone.values()):
                    log.info("retention: %s", gone)
                self._last_trim = time.monotonic()
        except asyncio.CancelledError:
            raise
        except Exception:  # Redis away for a moment: the next round catches up
            log.exception("queue sampling failed")

    async def sample_lag(self) -> None:
        if self.make_lag_reader is None:
            return
        try:
            if self._reader is None:
                self._reader = await asyncio.to_thread(self.make_lag_reader)
            reader = self._reader
            export_group_lag(reader.group, await asyncio.to_thread(reader.read))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Kafka away: no lag figure rather than a stale one
            log.warning("reading the consumer group's lag failed: %s", exc)
            export_group_lag(self._reader.group if self._reader else "", None)
