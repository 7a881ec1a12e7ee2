"""Honest figures from decisions: estimated prevalence and recall (the random labelling sample)
and live precision per detector (decisions on the cases it flagged).

A final decision counts, in its own Lua step (``lua/decide.lua``), each event of the random
stratum it labels once: per event type the number decided ``n`` and the sums of the
Horvitz-Thompson weights ``w = 1 / inclusion probability`` (``w``, ``w2``, ``wy``, ``w2y``; ``y``
is 1 for fraud), and per detector the weight of the sampled fraud it had flagged. The estimators
are :mod:`detectors.estimates`' (README, "Honest estimates"). Precision counts a detection case's
final decision once for every detector that flagged it: confirmed over confirmed plus legitimate.
"""

from __future__ import annotations

from typing import Any

from detectors.estimates import ratio
from pipeline import metrics
from pipeline.review.queue.base import QueueBase, as_float, as_str
from pipeline.review.queue.keys import K
from pipeline.review.queue.labelling import LABELLING_SET


class Estimates(QueueBase):
    """Prevalence, recall and precision as the console, the API and the gauges show them."""

    async def estimates(self) -> dict[str, Any]:
        """``prevalence`` per event type and ``recall`` per (detector, type) with 95 %
        intervals, ``precision`` per detector, and how many labelling cases wait."""
        types = sorted(as_str(t) for t in await self.redis.smembers(K + "est:types"))
        prevalence, recall = {}, []
        for event_type in types:
            sums = {as_str(k): as_float(v) for k, v in
                    (await self.redis.hgetall(f"{K}est:{event_type}")).items()}
            est = ratio(sums.get("wy", 0.0), sums.get("w", 0.0), sums.get("w2", 0.0))
            prevalence[event_type] = {**est.as_dict(), "decided": int(sums.get("n", 0))}
            caught = {as_str(k): as_float(v) for k, v in
                      (await self.redis.hgetall(f"{K}est_caught:{event_type}")).items()}
            for detector in sorted(set(caught) | {"*"}):
                est = ratio(caught.get(detector, 0.0), sums.get("wy", 0.0), sums.get("w2y", 0.0))
                recall.append({"detector": "any" if detector == "*" else detector,
                               "type": event_type, **est.as_dict()})
        return {"prevalence": prevalence, "recall": recall,
                "precision": await self.precision(),
                "labelling_open": await self.redis.zcard(LABELLING_SET["open"]),
                "labelling_decided": {as_str(k): int(v) for k, v in (await self.redis.hgetall(
                    K + "stats:labelling_decisions")).items()}}

    async def precision(self) -> dict[str, dict[str, float]]:
        """Per detector: final decisions on the cases it flagged, and the share confirmed."""
        raw = await self.redis.hgetall(K + "stats:detector_decisions")
        counts: dict[str, dict[str, int]] = {}
        for key, value in raw.items():
            detector, _, outcome = as_str(key).rpartition("|")
            counts.setdefault(detector, {"confirmed_fraud": 0, "legitimate": 0})[outcome] = int(value)
        out = {}
        for detector, c in sorted(counts.items()):
            decided = c["confirmed_fraud"] + c["legitimate"]
            est = ratio(c["confirmed_fraud"], decided, decided)
            out[detector] = {"confirmed": c["confirmed_fraud"], "legitimate": c["legitimate"],
                             **est.as_dict()}
        return out

    async def export_estimates(self) -> dict[str, Any]:
        """Set the estimate gauges; returns what :meth:`estimates` returned."""
        figures = await self.estimates()
        for event_type, est in figures["prevalence"].items():
            for bound in ("value", "low", "high"):
                metrics.PREVALENCE.labels(event_type, bound).set(est[bound])
            metrics.SAMPLE_DECIDED.labels(event_type).set(est["decided"])
        for est in figures["recall"]:
            for bound in ("value", "low", "high"):
                metrics.RECALL.labels(est["detector"], est["type"], bound).set(est[bound])
        metrics.LABELLING_OPEN.set(figures["labelling_open"])
        return figures
