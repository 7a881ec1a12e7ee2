"""Queue statistics: depth, SLA breaches, flag and decision counts, per-minute series and the
Prometheus gauges the review service exports."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from detectors.results import SEVERITY_RANK
from pipeline import metrics
from pipeline.review.queue.base import as_float, as_str
from pipeline.review.queue.estimates import Estimates
from pipeline.review.queue.keys import K, case_key
from pipeline.review.queue.policy import OUTCOMES, SEVERITY_NAME, minute_of


class Stats(Estimates):
    """Counts and series over the whole queue (detection cases; labelling cases have their own
    figures, :class:`~pipeline.review.queue.estimates.Estimates`)."""

    async def flag_counts_by_detector(self) -> dict[str, int]:
        raw = await self.redis.hgetall(K + "stats:flags_by_detector")
        return {as_str(k): int(v) for k, v in raw.items()}

    async def suppressed_counts(self) -> dict[str, int]:
        """Suppressed flags by reason (``dedup``, ``snoozed``)."""
        raw = await self.redis.hgetall(K + "stats:suppressed")
        return {as_str(k): int(v) for k, v in raw.items()}

    async def flag_count(self) -> int:
        return await self.redis.hlen(K + "flag_case")

    async def mark_breaches(self) -> int:
        """Record (once) each open case that passed its SLA due time; returns how many."""
        now = self.clock()
        return int(await self.scripts.mark_breaches(args=[repr(now), minute_of(now)]))

    async def queue_stats(self) -> dict[str, Any]:
        """Open and escalated cases by severity, SLA breaches and the oldest case's age."""
        now = self.clock()
        depth = {s: 0 for s in SEVERITY_RANK}
        breached = {s: 0 for s in SEVERITY_RANK}
        oldest = 0.0
        by_status = {}
        for zkey in ("queue", "escalated"):
            ids = [as_str(i) for i in await self.redis.zrange(K + zkey, 0, -1)]
            by_status[zkey] = len(ids)
            pipe = self.redis.pipeline(transaction=False)
            for i in ids:
                pipe.hmget(case_key(i), "severity", "created_at", "due_at")
            for sev, created, due in await pipe.execute() if ids else []:
                name = SEVERITY_NAME.get(int(as_float(sev)), "low")
                depth[name] += 1
                oldest = max(oldest, now - as_float(created, now))
                if as_float(due, math.inf) <= now:
                    breached[name] += 1
        return {"depth": depth, "breached": breached, "oldest_age_seconds": oldest,
                "open": by_status["queue"], "escalated": by_status["escalated"],
                "breaches_total": int(as_float(await self.redis.get(K + "stats:sla_breaches"))),
                "suppressed": await self.suppressed_counts(),
                "decisions": {as_str(k): int(v) for k, v in
                              (await self.redis.hgetall(K + "stats:decisions")).items()}}

    async def record_sample(self) -> dict[str, Any]:
        """Mark breaches, update the Prometheus gauges (the estimates' too) and write this
        minute's samples."""
        await self.mark_breaches()
        await self.export_estimates()
        stats = await self.queue_stats()
        for severity in SEVERITY_RANK:
            metrics.QUEUE_DEPTH.labels(severity).set(stats["depth"][severity])
            metrics.SLA_BREACHED.labels(severity).set(stats["breached"][severity])
        metrics.QUEUE_OLDEST_AGE.set(stats["oldest_age_seconds"])
        minute = minute_of(self.clock())
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(K + "ts:queue_depth", minute, sum(stats["depth"].values()))
        pipe.hset(K + "ts:sla_breached", minute, sum(stats["breached"].values()))
        await pipe.execute()
        return stats

    async def series(self, since: float) -> dict[str, dict[str, dict[int, float]]]:
        """Per-minute series since ``since``: gauges (``queue_depth``, ``sla_breached``) and
        counts (``flags`` by detector, ``decisions`` by outcome, ``sla_breaches``)."""
        floor = int(since // 60) * 60

        def clip(raw: Mapping[Any, Any]) -> dict[int, float]:
            return {int(as_str(k)): float(as_str(v)) for k, v in raw.items()
                    if int(as_str(k)) >= floor}

        detectors = sorted(as_str(d) for d in await self.redis.smembers(K + "ts:detectors"))
        out: dict[str, dict[str, dict[int, float]]] = {
            "queue_depth": {"open cases": clip(await self.redis.hgetall(K + "ts:queue_depth"))},
            "sla_breached": {"breached open cases": clip(await self.redis.hgetall(K + "ts:sla_breached"))},
            "sla_breaches": {"new breaches": clip(await self.redis.hgetall(K + "ts:sla_breaches"))},
            "flags": {d: clip(await self.redis.hgetall(f"{K}ts:flags:{d}")) for d in detectors},
            "decisions": {o: clip(await self.redis.hgetall(f"{K}ts:decisions:{o}")) for o in OUTCOMES},
        }
        return out

    async def trim_series(self) -> int:
        """Drop per-minute buckets older than the retention."""
        floor = self.clock() - self.config.series_retention_seconds
        detectors = [as_str(d) for d in await self.redis.smembers(K + "ts:detectors")]
        samples = [as_str(k) async for k in self.redis.scan_iter(match=K + "ts:samples:*")]
        keys = [K + "ts:queue_depth", K + "ts:sla_breached", K + "ts:sla_breaches",
                *[f"{K}ts:flags:{d}" for d in detectors],
                *[f"{K}ts:decisions:{o}" for o in OUTCOMES], *samples]
        removed = 0
        for key in keys:
            old = [f for f in await self.redis.hkeys(key) if int(as_str(f)) < floor]
            if old:
                removed += await self.redis.hdel(key, *old)
        return removed
