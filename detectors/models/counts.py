"""A model whose whole learned state is integer counts, so a label can be taken back exactly.

Multinomial naive Bayes over token presence: per class, how many labelled documents and how
many token occurrences, and per token how often it appeared with each class. Learning adds an
input's tokens to its class; :meth:`CountModel.unlearn` subtracts them again. Counts are
integers and a token whose counts fall to zero is removed, so after unlearning user U the state
*is* the state of the same model trained on the same stream without U's inputs, in any order
(addition commutes): exact unlearning, with nothing to rebuild.

Why not river's ``MultinomialNB``: it has no way to take a label back, its counts are float
``Counter``s (``a + b - b`` need not be ``a``), and a token subtracted to zero would stay in its
vocabulary (``n_terms``, the smoothing denominator), so the model would score differently from
one that never saw the token. For the same reason this model keeps no drift detector (its
state would depend on the order and on each prediction): the state is the counts and nothing
else, and the snapshot is canonical JSON (sorted), equal byte for byte for equal counts.

>>> from detectors.models.message_counts import ScamMessageCountsModel
>>> model = ScamMessageCountsModel(b"doctest-key-0123456789")
>>> model.learn({"w:prize": 1, "w:call": 1}, True)
>>> model.learn({"w:lunch": 1}, False)
>>> before = model.snapshot()
>>> model.learn({"w:prize": 1, "w:now": 1}, True)
>>> model.unlearn({"w:prize": 1, "w:now": 1}, True)
>>> model.snapshot() == before
True
"""

from __future__ import annotations

import heapq
import json
import math
import pickle
from typing import Any, ClassVar

from detectors.errors import SnapshotRefused
from detectors.models.base import (
    SNAPSHOT_FORMAT,
    TOP_FEATURES,
    ModelInput,
    OnlineModel,
    _sigmoid,
)


class CountModel(OnlineModel):
    """Naive Bayes on integer token counts (subclasses implement :meth:`featurize`: each
    token a key with a whole, non-negative count; 1 for presence)."""

    #: Taking a label back is exact (the learner subtracts instead of rebuilding).
    exact_unlearning: ClassVar[bool] = True

    def __init__(self, hash_key: bytes, *, alpha: int = 1, **kwargs: Any) -> None:
        super().__init__(hash_key, **kwargs)
        self.alpha = alpha
        #: Labelled documents and token occurrences per class: [legitimate, fraud].
        self.docs = [0, 0]
        self.totals = [0, 0]
        #: Token -> [occurrences with legitimate, with fraud]; no token has both at 0.
        self.counts: dict[str, list[int]] = {}

    # ---- counts ----------------------------------------------------------------------------

    @property
    def n_labels(self) -> int:  # type: ignore[override]
        return self.docs[0] + self.docs[1]

    @n_labels.setter
    def n_labels(self, _value: int) -> None:
        pass  # derived from the counts (the base's constructor sets it to 0)

    @property
    def n_positive(self) -> int:  # type: ignore[override]
        return self.docs[1]

    @n_positive.setter
    def n_positive(self, _value: int) -> None:
        pass

    @property
    def error_rate(self) -> float:
        return float("nan")  # no drift detector: see the module docstring

    def learn(self, x: ModelInput, label: bool) -> None:
        """Add one labelled input's tokens (through :func:`detectors.core.learn_from_label`)."""
        self._add(x, bool(label), 1)

    def unlearn(self, x: ModelInput, label: bool) -> None:
        """Subtract one input learned before with ``label``: the exact inverse of :meth:`learn`.
        Refuses (ValueError, nothing changed) what was never learned."""
        self._add(x, bool(label), -1)

    def _learn(self, x: ModelInput, label: bool) -> None:
        self._add(x, label, 1)

    def _add(self, x: ModelInput, label: bool, sign: int) -> None:
        c = int(label)
        items = [(k, _whole(k, v)) for k, v in x.items()]
        if sign < 0:
            short = [k for k, n in items if n and self.counts.get(k, (0, 0))[c] < n]
            if self.docs[c] < 1 or short:
                raise ValueError(f"{self.id}: cannot unlearn what was not learned "
                                 f"(tokens {short[:3]})")
        self.docs[c] += sign
        for key, n in items:
            if not n:
                continue
            pair = self.counts.setdefault(key, [0, 0])
            pair[c] += sign * n
            self.totals[c] += sign * n
            if pair == [0, 0]:
                del self.counts[key]

    # ---- scores ----------------------------------------------------------------------------

    def _log_odds(self, x: ModelInput) -> list[tuple[float, str]]:
        """Each token's log-likelihood ratio (fraud over legitimate), Laplace-smoothed."""
        alpha, vocab = self.alpha, len(self.counts)
        den0 = self.totals[0] + alpha * vocab
        den1 = self.totals[1] + alpha * vocab
        if not den0 or not den1:
            return []
        out = []
        for key, value in x.items():
            pair = self.counts.get(key)
            if pair is None or not value:
                continue  # unseen in training: the same factor for both classes, cancels out
            ratio = math.log((pair[1] + alpha) / den1) - math.log((pair[0] + alpha) / den0)
            out.append((ratio * value, key))
        return out

    def _prior(self) -> float:
        return math.log((self.docs[1] + 1) / (self.docs[0] + 1))

    def _score(self, x: ModelInput) -> float:
        if not self.n_labels:
            return 0.5
        return _sigmoid(self._prior() + sum(r for r, _ in self._log_odds(x)))

    def _explain(self, x: ModelInput) -> tuple[float, dict[str, Any]]:
        ratios = self._log_odds(x)
        score = _sigmoid(self._prior() + sum(r for r, _ in ratios)) if self.n_labels else 0.5
        top = heapq.nlargest(TOP_FEATURES, (p for p in ratios if p[0] > 0))
        return score, {"mode": self.current_mode, "prior": round(self._prior(), 6),
                       "top_features": [{"feature": k, "value": float(x[k]),
                                         "contribution": round(r, 6)} for r, k in top]}

    def metrics(self) -> dict[str, Any]:
        out = super().metrics()
        out.update(error_rate=None, drift_count=None, vocabulary=len(self.counts))
        return out

    # ---- snapshots: canonical JSON, so equal counts give equal bytes --------------------------

    def _state(self) -> dict[str, Any]:
        return {"docs": self.docs, "totals": self.totals, "alpha": self.alpha,
                "threshold": self.threshold, "mode": self.mode,
                "min_labels_per_class": self.min_labels_per_class,
                "warm_start": self.warm_start,
                "counts": dict(sorted(self.counts.items()))}

    def snapshot(self) -> bytes:
        return json.dumps({"format": SNAPSHOT_FORMAT, "model": self.id, "version": self.version,
                           "state": self._state()}, sort_keys=True,
                          separators=(",", ":")).encode()

    def restore(self, blob: bytes) -> None:
        try:
            data = json.loads(blob)
        except ValueError:
            data = _other_snapshot(blob)  # another model's (pickled) snapshot, or garbage
        self._check_snapshot(data)
        state = data["state"]
        self.docs, self.totals = list(state["docs"]), list(state["totals"])
        self.alpha, self.threshold, self.mode = state["alpha"], state["threshold"], state["mode"]
        self.min_labels_per_class = state["min_labels_per_class"]
        self.warm_start = state["warm_start"]
        self.counts = {k: list(v) for k, v in state["counts"].items()}

    def __getstate__(self) -> dict[str, Any]:
        return self._state()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.counts = dict(state["counts"])
        self._hash_key = b""


def _other_snapshot(blob: bytes) -> dict[str, Any]:
    """What a snapshot that is not a count model's says it is (refused either way)."""
    try:
        data = pickle.loads(blob)  # noqa: S301 - Vigil's own snapshots only, as in the base
    except Exception as exc:
        raise SnapshotRefused(f"snapshot unreadable: {type(exc).__name__}") from exc
    return data if isinstance(data, dict) else {}


def _whole(key: str, value: float) -> int:
    """A token's count: exact subtraction needs whole, non-negative numbers."""
    n = int(value)
    if n != value or n < 0:
        raise ValueError(f"count model input {key!r}={value!r}: counts must be whole and >= 0")
    return n
