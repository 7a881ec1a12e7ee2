"""Honest figures from the random labelling sample: prevalence of fraud and detectors' recall.

Each decided event of the random stratum (:mod:`detectors.sampling`) carries its inclusion
probability ``pi`` (the rate in force when it was drawn) and so a Horvitz-Thompson weight
``w = 1 / pi``: it stands for ``w`` events of the population, consented events of its type. The
prevalence of fraud in a type is the weighted share of fraud among the decided sample,

    p = sum(w * y) / sum(w)

(the Hajek form of the Horvitz-Thompson estimator: the weighted total of fraud over the weighted
count, which does not need the population size and does not go above 1). A detector's recall is
the same ratio among the sampled fraud only: ``sum(w * y * fired) / sum(w * y)``. The interval
is Wilson's score interval for a proportion, with Kish's effective sample size
``n_eff = sum(w) ** 2 / sum(w ** 2)`` standing in for ``n`` (equal weights: ``n_eff = n``, the
plain Wilson interval), so it stays inside [0, 1] and is honest for a handful of samples and for
0 of them being fraud. Undecided samples are not counted; if analysts leave the sample's harder
cases undecided the estimate is biased towards the easy ones (the console shows how many wait).

>>> est = ratio(weighted_hits=3 * 100.0, weights=60 * 100.0, squared_weights=60 * 100.0 ** 2)
>>> round(est.value, 3), round(est.low, 3), round(est.high, 3), est.samples
(0.05, 0.017, 0.137, 60.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The normal quantile of a 95 % two-sided interval.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A proportion with its interval, from ``samples`` (effective) decided sample events."""

    value: float
    low: float
    high: float
    samples: float

    def as_dict(self) -> dict[str, float]:
        return {"value": round(self.value, 6), "low": round(self.low, 6),
                "high": round(self.high, 6), "samples": round(self.samples, 3)}


def wilson(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of a proportion ``p`` observed in ``n`` trials (``n`` may be an
    effective, non-integer size). No trials: the whole of [0, 1].

    >>> [round(v, 4) for v in wilson(0.0, 50)]
    [0.0, 0.0713]
    """
    if n <= 0:
        return 0.0, 1.0
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def ratio(weighted_hits: float, weights: float, squared_weights: float,
          z: float = Z95) -> Estimate:
    """The weighted share ``sum(w * y) / sum(w)`` and its Wilson interval at Kish's effective
    sample size; no samples: value 0 and the interval [0, 1]."""
    if weights <= 0 or squared_weights <= 0:
        return Estimate(0.0, 0.0, 1.0, 0.0)
    p = min(1.0, max(0.0, weighted_hits / weights))
    n_eff = weights * weights / squared_weights
    low, high = wilson(p, n_eff, z)
    return Estimate(p, low, high, n_eff)
