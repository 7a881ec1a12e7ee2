"""An unsupervised part for a model before labels: Half-Space Trees with a calibrated threshold.

river's Half-Space Trees score how little reference mass surrounds an input. Raw scores have
no fixed scale, so :class:`AnomalyPart` also keeps a running quantile of the scores it has
seen and reports :meth:`AnomalyPart.score` as ``raw / (raw + quantile)``: 0.5 exactly at the
quantile, so "fires at 0.5" means "among the most unusual ``alert_rate`` of what it saw". It is
ready (:attr:`AnomalyPart.warm`) after two windows: one to fill the trees' reference mass, one
to calibrate the quantile. It also keeps each feature's running mean and variance, to explain
a score as "these values are far from the usual".

The trees split on the features of the first input they learn, so every input goes in with the
same keys: ``schema`` (missing ones are 0).

>>> part = AnomalyPart(("a", "b"), window_size=20, seed=1)
>>> for i in range(40):
...     part.observe({"a": (i % 7) / 10, "b": 0.5})
>>> part.warm, 0.0 <= part.score({"a": 0.1, "b": 0.5}) < part.score({"a": 1.0, "b": 0.0})
(True, True)
"""

from __future__ import annotations

import heapq
import math
from typing import Any

from river import anomaly, stats

ModelInput = dict[str, float]


class AnomalyPart:
    def __init__(self, schema: tuple[str, ...], *, alert_rate: float = 0.02,
                 window_size: int = 250, n_trees: int = 15, height: int = 8,
                 seed: int = 7) -> None:
        self.schema = schema
        self.alert_rate = alert_rate
        self.window_size = window_size
        self.n_observed = 0
        self._hst = anomaly.HalfSpaceTrees(n_trees=n_trees, height=height,
                                           window_size=window_size, seed=seed)
        self._quantile = stats.Quantile(1.0 - alert_rate)
        #: Running mean and variance (Welford: n, mean, M2) per feature.
        self._stats: dict[str, list[float]] = {}

    @property
    def warm(self) -> bool:
        return self.n_observed >= 2 * self.window_size

    def _padded(self, x: ModelInput) -> ModelInput:
        return {k: x.get(k, 0.0) for k in self.schema}

    def raw_score(self, x: ModelInput) -> float:
        return float(self._hst.score_one(self._padded(x)))

    def score(self, x: ModelInput) -> float:
        """The calibrated score in [0, 1): 0.5 at the quantile; 0 while not warm."""
        if not self.warm:
            return 0.0
        raw = self.raw_score(x)
        level = float(self._quantile.get() or 0.0)
        return raw / (raw + level) if raw + level > 0 else 0.0

    def observe(self, x: ModelInput) -> None:
        """Learn the usual from one unlabelled input (only the ``schema`` features count)."""
        padded = self._padded(x)
        if self.n_observed >= self.window_size:  # the trees have a reference mass: calibrate
            self._quantile.update(float(self._hst.score_one(padded)))
        self._hst.learn_one(padded)
        for key in self.schema:
            if key not in x:
                continue
            value = x[key]
            stat = self._stats.setdefault(key, [0.0, 0.0, 0.0])
            stat[0] += 1
            delta = value - stat[1]
            stat[1] += delta / stat[0]
            stat[2] += delta * (value - stat[1])
        self.n_observed += 1

    def unusual(self, x: ModelInput, top: int) -> list[dict[str, Any]]:
        """The ``top`` features of ``x`` furthest from their usual value, in standard deviations."""
        far = []
        for key, value in x.items():
            stat = self._stats.get(key)
            if stat is None or stat[0] < 2:
                continue
            std = math.sqrt(stat[2] / (stat[0] - 1)) + 1e-3
            far.append((abs(value - stat[1]) / std, key, value, stat[1]))
        return [{"feature": k, "value": round(v, 6), "typical": round(m, 6), "z": round(z, 3)}
                for z, k, v, m in heapq.nlargest(top, far)]
