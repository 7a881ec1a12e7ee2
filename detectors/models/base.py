"""The base of Vigil's online models: minimised inputs, explained scores, snapshots, drift.

A model is a :class:`detectors.base.Detector` with ``is_ai = True`` that splits detection into
pure steps the pipeline can run in different places:

- :meth:`OnlineModel.featurize` turns an event and its features into the model input ``x``:
  a flat ``{name: float}`` dict with no raw identifier (ids are keyed hashes if used at all,
  text is masked by :func:`detectors.privacy.mask_text`). ``x`` is JSON-serialisable, so the
  pipeline can keep it until the event's label arrives and train on exactly what was scored.
- :meth:`OnlineModel.predict` scores ``x`` in [0, 1] and explains the score.
  :meth:`OnlineModel.detect` explains only results that fire (the ones an analyst reads);
  a quiet result's evidence says which model, state, mode, score and threshold, no more.
- :meth:`OnlineModel.learn` learns one label; :meth:`OnlineModel.observe` learns from an
  unlabelled input (only models with an unsupervised part use it). Neither is ever called
  directly by the pipeline: :func:`detectors.core.learn_from_label` and
  :func:`detectors.core.observe_unlabelled` check consent first.
- :meth:`OnlineModel.snapshot` / :meth:`OnlineModel.restore` carry the learned state between
  processes (pickle with a format version; the hashing key is never part of a snapshot).
- :meth:`OnlineModel.cold_rank` is how much a model not yet ready wants an input labelled
  (:mod:`detectors.sampling` sends its highest ranks to analysts, within a daily budget): its
  score, or, before any fraud label, how much of the input no label has touched yet.

``version`` names the model's code and features and stays fixed while it learns, so a flag's
id (``sha256(event id | detector id | detector version)``) is the same when a redelivered
event is scored again after some labels; ``state_version`` (``f"{version}.{labels}"``) says
which learned state produced a score and is recorded in every result's evidence.
"""

from __future__ import annotations

import heapq
import math
import pickle
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from river import drift, linear_model, optim

from detectors.base import Detector
from detectors.errors import SnapshotRefused
from detectors.results import DetectorResult, Mode, Severity
from schemas.events import Envelope

#: What :meth:`OnlineModel.featurize` returns: feature name -> value.
ModelInput = dict[str, float]

SNAPSHOT_FORMAT = 1
TOP_FEATURES = 5


def severity_for(score: float) -> Severity:
    """Severity of a fired model score (models never say critical: that is for rules and people)."""
    if score >= 0.9:
        return "high"
    if score >= 0.7:
        return "medium"
    return "low"


class OnlineModel(Detector):
    """Base class of online (learning) detectors. Subclasses set the class attributes and
    implement :meth:`featurize`, :meth:`_score`, :meth:`_explain` and :meth:`_learn`."""

    is_ai: ClassVar[bool] = True
    version: ClassVar[str] = "1"
    #: A few words for reasons: "scam message score 0.93".
    short_name: ClassVar[str] = "model"
    #: True if :meth:`observe` learns from unlabelled inputs (an unsupervised part).
    observes_unlabelled: ClassVar[bool] = False
    #: Set when the model was trained from history before go-live (``vigil models bootstrap``):
    #: when, from which span of events, how many labels. Every explanation then says so.
    warm_start: dict[str, Any] | None = None

    def __init__(self, hash_key: bytes, *, threshold: float = 0.5, mode: Mode = "enforce",
                 min_labels_per_class: int = 5, drift_delta: float = 0.002) -> None:
        if not isinstance(hash_key, bytes) or len(hash_key) < 16:
            raise ValueError("hash_key must be at least 16 bytes (inject it; never read it here)")
        self._hash_key = hash_key
        self.threshold = threshold
        self.mode = mode
        self.min_labels_per_class = min_labels_per_class
        self.drift_delta = drift_delta
        self.n_labels = 0
        self.n_positive = 0
        self.drift_count = 0
        self._errors = drift.ADWIN(delta=drift_delta)

    # ---- what a model implements ---------------------------------------------------------

    @abstractmethod
    def featurize(self, event: Envelope, features: Mapping[str, Any]) -> ModelInput:
        """The minimised model input for ``event``: pure, deterministic, no raw identifier."""

    @abstractmethod
    def _score(self, x: ModelInput) -> float:
        """The score of ``x`` in [0, 1], nothing else (learning, and results that do not fire):
        exactly the score :meth:`_explain` returns."""

    @abstractmethod
    def _explain(self, x: ModelInput) -> tuple[float, dict[str, Any]]:
        """The score of ``x`` and what drove it (a dict with the ``mode`` that scored it)."""

    @abstractmethod
    def _learn(self, x: ModelInput, label: bool) -> None:
        """Update the learned state with one label."""

    def observe(self, x: ModelInput) -> None:
        """Learn from an unlabelled input (models with an unsupervised part override this)."""

    # ---- state -----------------------------------------------------------------------------

    @property
    def n_negative(self) -> int:
        return self.n_labels - self.n_positive

    @property
    def ready(self) -> bool:
        """Whether the supervised part has seen enough labels of both classes to fire."""
        return min(self.n_positive, self.n_negative) >= self.min_labels_per_class

    @property
    def state_version(self) -> str:
        return f"{self.version}.{self.n_labels}"

    @property
    def error_rate(self) -> float:
        """The recent rate of wrong verdicts on labelled events (ADWIN's window mean)."""
        return float(self._errors.estimation)

    def metrics(self) -> dict[str, Any]:
        """What the pipeline exports per model (labels, error rate, drift)."""
        return {"model": self.id, "version": self.version, "state_version": self.state_version,
                "labels": self.n_labels, "positives": self.n_positive, "ready": self.ready,
                "error_rate": round(self.error_rate, 6), "drift_count": self.drift_count}

    # ---- the public steps ------------------------------------------------------------------

    @property
    def current_mode(self) -> str:
        """``cold`` (never fires), ``supervised``, or ``anomaly`` for an unsupervised part."""
        return "supervised" if self.ready else "cold"

    def threshold_for(self, mode: str) -> float:
        """The score at which the model fires in ``mode``."""
        return self.threshold

    def fires(self, score: float, mode: str | None = None) -> bool:
        """Whether a score fires in ``mode`` (default: the current one); ``cold`` never fires."""
        mode = mode or self.current_mode
        return mode != "cold" and score >= self.threshold_for(mode)

    def predict(self, x: ModelInput) -> tuple[float, dict[str, Any]]:
        """Score ``x`` in [0, 1] and explain it: the features that drove the score."""
        score, explanation = self._explain(x)
        mode = explanation.setdefault("mode", self.current_mode)
        explanation.update(model=self.id, state_version=self.state_version,
                           score=round(score, 6), threshold=round(self.threshold_for(mode), 6))
        if self.warm_start is not None:
            explanation["warm_start"] = self.warm_start
        return score, explanation

    def learn(self, x: ModelInput, label: bool) -> None:
        """Learn one label (call through :func:`detectors.core.learn_from_label`).

        The verdict the model would have given before this label feeds the drift detector, so
        ``error_rate`` is the test-then-train error.
        """
        wrong = self.fires(self._score(x)) != bool(label)
        self._errors.update(1.0 if wrong else 0.0)
        if self._errors.drift_detected:
            self.drift_count += 1
        self._learn(x, bool(label))
        self.n_labels += 1
        self.n_positive += int(bool(label))

    # ---- what to ask analysts about (labelling) ----------------------------------------------

    def cold_rank(self, x: ModelInput) -> float:
        """How much a model not yet ready wants ``x`` labelled (higher: more): its supervised
        score (:class:`LogisticModel` ranks by novelty before its first fraud label)."""
        return self.supervised_score(x)

    def supervised_score(self, x: ModelInput) -> float:
        """The score of the supervised part (the one labels teach): :meth:`_score`, unless the
        model scores with something else before it is ready."""
        return self._score(x)

    def detect(self, event: Envelope, features: Mapping[str, Any]) -> DetectorResult:
        """Featurize and score ``event``; explain the score only if it fires.

        Ranking the features that drove a score costs more than the score itself, and only a
        fired result's evidence and reason reach an analyst (flags), so a quiet result carries
        the short evidence of :meth:`_quiet_evidence` and a reason without signals.
        """
        x = self.featurize(event, features)
        mode = self.current_mode
        score = self._score(x)
        if self.fires(score, mode):
            score, explanation = self.predict(x)
            mode = explanation["mode"]
            fired = self.fires(score, mode)
            top = explanation.get("top_features", [])[:3]
            signals = ", ".join(_signal(t) for t in top) or "no single feature stands out"
        else:
            fired, explanation, signals = False, self._quiet_evidence(score, mode), "did not fire"
        reason = f"{self.short_name} score {score:.2f} ({mode}): {signals}"
        return DetectorResult(
            detector_id=self.id, detector_version=self.version, is_ai=True, fired=fired,
            mode=self.mode, score=score, severity=severity_for(score), reason=reason,
            evidence=explanation, model_input=x,
        )

    def _quiet_evidence(self, score: float, mode: str) -> dict[str, Any]:
        """The evidence of a result that did not fire: what scored it, and against what."""
        out = {"mode": mode, "model": self.id, "state_version": self.state_version,
               "score": round(score, 6), "threshold": round(self.threshold_for(mode), 6)}
        if self.warm_start is not None:
            out["warm_start"] = self.warm_start
        return out

    def fresh(self) -> OnlineModel:
        """A model of the same kind under the same key that has learned nothing (what a
        rebuild trains: :func:`detectors.unlearning.rebuild`)."""
        return type(self)(self._hash_key)

    # ---- snapshots -------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        # Everything but the key: a snapshot sits in Redis and must not carry the secret.
        return {k: v for k, v in self.__dict__.items() if k != "_hash_key"}

    def snapshot(self) -> bytes:
        """The learned state as bytes (pickle with a format version; no hashing key)."""
        return pickle.dumps({"format": SNAPSHOT_FORMAT, "model": self.id,
                             "version": self.version, "state": self._state()},
                            protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, blob: bytes) -> None:
        """Load a snapshot taken by :meth:`snapshot` of the same model and version.

        Only restore snapshots Vigil wrote itself (pickle runs code on load). A snapshot of
        another model, version or format is refused with :class:`SnapshotRefused`, so a
        worker with new feature code starts fresh instead of scoring with mismatched weights.
        """
        try:
            data = pickle.loads(blob)  # noqa: S301 - our own snapshots only, see docstring
        except Exception as exc:
            raise SnapshotRefused(f"{self.id}: snapshot unreadable: {type(exc).__name__}: {exc}") from exc
        self._check_snapshot(data)
        key = self._hash_key
        self.__dict__.clear()
        self.__dict__.update(data["state"])
        self._hash_key = key

    def _check_snapshot(self, data: Any) -> None:
        """Refuse (:class:`SnapshotRefused`) a snapshot of another format, model or version."""
        if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotRefused(f"{self.id}: snapshot format {data.get('format') if isinstance(data, dict) else '?'}, "
                                  f"this code reads {SNAPSHOT_FORMAT}")
        if data.get("model") != self.id or data.get("version") != self.version:
            raise SnapshotRefused(f"{self.id} {self.version}: snapshot is of "
                                  f"{data.get('model')} {data.get('version')}")

    def __getstate__(self) -> dict[str, Any]:
        return self._state()  # plain pickling never leaks the key either

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._hash_key = b""  # an unpickled copy cannot hash until restored into a keyed model


def _signal(item: Mapping[str, Any]) -> str:
    if "contribution" in item:
        return f"{item['feature']} ({item['contribution']:+.2f})"
    return f"{item['feature']}={item['value']:.3g} (typical {item['typical']:.3g})"


class LogisticModel(OnlineModel):
    """A supervised online logistic regression (river, AdaGrad) with an adaptive class weight.

    The rarer class's examples weigh ``sqrt(majority / minority)`` (at most ``max_class_weight``),
    which keeps recall up when fraud is rare without a fixed prior. Before it has seen
    ``min_labels_per_class`` labels of each class it never fires; before any label every score
    is 0.5 (neutral).
    """

    def __init__(self, hash_key: bytes, *, learning_rate: float = 0.5,
                 max_class_weight: float = 4.0, **kwargs: Any) -> None:
        super().__init__(hash_key, **kwargs)
        self.learning_rate = learning_rate
        self.max_class_weight = max_class_weight
        self._lr = linear_model.LogisticRegression(optimizer=optim.AdaGrad(learning_rate))
        # A plain-dict copy of river's weights, refreshed for the features each update touches
        # (the gradient of a linear model is zero elsewhere). Reading river's Rust-backed
        # vector from Python costs ~0.5 us a key; this keeps scoring above 10,000 messages/s.
        self._weights: dict[str, float] = {}

    def _contributions(self, x: ModelInput) -> list[float]:
        get = self._weights.get
        return [get(k, 0.0) * v for k, v in x.items()]

    def _score(self, x: ModelInput) -> float:
        return _sigmoid(self._lr.intercept + sum(self._contributions(x)))

    def supervised_score(self, x: ModelInput) -> float:
        return LogisticModel._score(self, x)  # not a subclass's other score (an anomaly part)

    def cold_rank(self, x: ModelInput) -> float:
        """Before its first fraud label, the share of ``x``'s features no label has touched:
        taught only legitimate examples, the weights say "less like those" of anything long or
        wordy (every feature they had was pushed down), so the score ranks fraud lowest, while
        what no legitimate example had is where the first fraud is. Then its score.

        >>> from detectors.models import ScamMessageModel
        >>> model = ScamMessageModel(b"doctest-key-0123456789")
        >>> model._weights = {"w:hello": -0.4}
        >>> model.cold_rank({"w:hello": 1.0, "w:prize": 1.0})
        0.5
        """
        if self.n_positive:
            return self.supervised_score(x)
        weights = self._weights
        return sum(1 for k in x if k not in weights) / max(len(x), 1)

    def _explain(self, x: ModelInput) -> tuple[float, dict[str, Any]]:
        contributions = self._contributions(x)
        score = _sigmoid(self._lr.intercept + sum(contributions))
        top = heapq.nlargest(TOP_FEATURES, (p for p in zip(contributions, x, x.values()) if p[0] > 0))
        return score, {
            "mode": self.current_mode,
            "bias": round(self._lr.intercept, 6),
            "top_features": [{"feature": k, "value": round(v, 6), "contribution": round(c, 6)}
                             for c, k, v in top],
        }

    def _class_weight(self, label: bool) -> float:
        same = (self.n_positive if label else self.n_negative) + 1
        other = (self.n_negative if label else self.n_positive) + 1
        return min(self.max_class_weight, math.sqrt(other / same)) if other > same else 1.0

    def _learn(self, x: ModelInput, label: bool) -> None:
        self._lr.learn_one(x, label, w=self._class_weight(label))
        weights = self._lr._weights
        for k in x:
            self._weights[k] = weights.get(k, 0.0)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-min(z, 700.0)))
    e = math.exp(max(z, -700.0))
    return e / (1.0 + e)
