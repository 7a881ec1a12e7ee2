"""Which events go to an analyst for a label although no detector flagged them: the labelling budget.

Analysts only see what a detector flagged, so a model whose event type no rule flags would never
get a label, and the flags alone say nothing about the fraud nobody caught. The sampler adds two
strata of consented events, both pure functions of the event, its decision and what was spent:

* **random**: an event of a type some model scored is drawn when ``draw(seed, event id) <
  rate`` (one hash, so the worker, a restarted worker and ``vigil replay`` draw the very same
  events; redelivery draws nothing new). Flagged events are drawn too (their label comes from
  their flag case), so the stratum is a Bernoulli sample of every consented event of the type,
  and its decisions give unbiased estimates of prevalence and of each detector's recall
  (:mod:`detectors.estimates`). Its inclusion probability is the rate: nothing else decides it.
* **uncertainty / cold start**: an event no detector flagged and the random draw left out, on
  which a model would learn most (:meth:`detectors.models.base.OnlineModel.labelling_reason`),
  within that model's daily budget (counted by the day of the event time). Chosen for the model's
  sake, with probability 1 given its state; estimators never use it.

Only events whose subject's consent allows learning are ever sampled, by the same predicate
learning asks (:func:`detectors.consent.learning_gate`): a label an analyst gives must be one the
model may learn, and nobody else's data goes to review for a model's sake.

>>> from datetime import datetime, timezone
>>> policy = SamplingPolicy(seed="doctest", rate=0.5)
>>> drawn = [i for i in range(20) if draw(policy.seed, f"e{i}") < policy.rate_for("message.sent")]
>>> drawn == [i for i in range(20) if draw("doctest", f"e{i}") < 0.5]   # the same every time
True
>>> content_of_type("message.sent"), content_of_type("user.signed_up")
('message', None)
"""

from __future__ import annotations

import bisect
import hashlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from detectors.consent import (
    CURRENT_POLICY_VERSION,
    ConsentRecord,
    ConsentUnavailable,
    learning_gate,
)
from detectors.results import Decision
from schemas.events import Envelope

RANDOM = "random"
UNCERTAINTY = "uncertainty"
COLD_START = "cold_start"
REASONS = (RANDOM, UNCERTAINTY, COLD_START)

#: Defaults (pipeline.settings declares the same ones as settings).
DEFAULT_SEED = "vigil-labelling-1"
DEFAULT_RATE = 0.01
DEFAULT_MARGIN = 0.1
DEFAULT_DAILY_BUDGET = 200
#: A model not yet ready picks its highest scores: the top ``COLD_TOP`` of its last
#: ``COLD_WINDOW`` scores, once it has ``COLD_MIN_SCORES`` of them.
COLD_WINDOW = 200
COLD_TOP = 0.05
COLD_MIN_SCORES = 50

#: Event types whose content a user report can name: report target type and the payload field
#: that holds the id the report names.
CONTENT_FIELDS: dict[str, tuple[str, str]] = {
    "message.sent": ("message", "message_id"),
    "proposal.submitted": ("proposal", "proposal_id"),
    "job_post.created": ("job_post", "job_id"),
}

#: The report target types that are content (a decision about one labels its event).
CONTENT_TYPES = frozenset(target for target, _ in CONTENT_FIELDS.values())


def content_of_type(event_type: str) -> str | None:
    """The report target type of an event type's content (None: reports cannot name it)."""
    found = CONTENT_FIELDS.get(event_type)
    return found[0] if found else None


def content_of(event: Envelope) -> tuple[str, str] | None:
    """``(target_type, target_id)`` a user report would name this event's content by.

    >>> from schemas import decode_event_obj
    >>> from detectors.examples import example_event
    >>> content_of(decode_event_obj(example_event("message.sent", {"message_id": "m9"})))
    ('message', 'm9')
    """
    found = CONTENT_FIELDS.get(event.type)
    if found is None:
        return None
    return found[0], str(getattr(event.payload, found[1]))


def draw(seed: str, event_id: str) -> float:
    """The event's uniform draw in [0, 1): one keyed hash of the seed and the event id."""
    digest = hashlib.blake2b(event_id.encode(), digest_size=8, key=seed.encode()[:64]).digest()
    return int.from_bytes(digest, "big") / 18446744073709551616.0  # 2 ** 64


_DAYS: dict[Any, str] = {}


def day_of(event: Envelope) -> str:
    """The day (UTC, of the event time) a budget pick is counted against."""
    date = event.occurred_at.date()
    day = _DAYS.get(date)
    if day is None:
        if len(_DAYS) > 1024:
            _DAYS.clear()
        day = _DAYS[date] = date.isoformat()
    return day


@dataclass(frozen=True)
class SamplingPolicy:
    """What the sampler draws: ``rate`` of each model-scored event type (``rates`` overrides it
    per type), and per model at most ``daily_budget`` uncertainty or cold-start picks per day
    of event time, ``margin`` being how close to its threshold a ready model's score must be."""

    seed: str = DEFAULT_SEED
    rate: float = DEFAULT_RATE
    rates: Mapping[str, float] = field(default_factory=dict)
    margin: float = DEFAULT_MARGIN
    daily_budget: int = DEFAULT_DAILY_BUDGET

    def __post_init__(self) -> None:
        for value in (self.rate, *self.rates.values()):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"a sampling rate is a share in [0, 1], not {value}")
        if self.daily_budget < 0 or self.margin < 0:
            raise ValueError("daily_budget and margin must not be negative")

    def rate_for(self, event_type: str) -> float:
        return self.rates.get(event_type, self.rate)


@dataclass(frozen=True)
class Sample:
    """One event sent to review for its label, and why.

    ``inclusion_probability`` is the probability the event had of being sampled for the reason
    recorded: the rate for the random stratum, 1 for a pick the model's state and budget
    decided. ``model_id`` is the model whose budget a pick spent (None for random)."""

    event_id: str
    event_type: str
    day: str
    reason: str
    inclusion_probability: float
    model_id: str | None = None
    #: Each model's score on the event, and which enforce-mode detectors fired (flags).
    scores: Mapping[str, float] = field(default_factory=dict)
    fired: tuple[str, ...] = ()

    @property
    def random(self) -> bool:
        return self.reason == RANDOM

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "event_type": self.event_type, "day": self.day,
                "reason": self.reason, "inclusion_probability": self.inclusion_probability,
                "model_id": self.model_id, "scores": dict(self.scores), "fired": list(self.fired)}


class BudgetLedger:
    """Picks spent per (model, day). In ``vigil replay`` it is the budget itself; in a worker
    it is a cache of the counts Redis keeps (the write stage's script has the last word, and
    :meth:`observe` takes its count), so a worker asks Redis nothing per event."""

    def __init__(self) -> None:
        self.spent: dict[tuple[str, str], int] = {}

    def left(self, model_id: str, day: str, budget: int) -> bool:
        return self.spent.get((model_id, day), 0) < budget

    def spend(self, model_id: str, day: str) -> None:
        key = (model_id, day)
        self.spent[key] = self.spent.get(key, 0) + 1

    def observe(self, model_id: str, day: str, count: int) -> None:
        """What the store counted for the model that day (never lowers the local count: picks
        this worker made since may not have been written yet)."""
        key = (model_id, day)
        if count > self.spent.get(key, 0):
            self.spent[key] = count
        if len(self.spent) > 64:  # old days: nobody picks for them any more
            for old in sorted({d for _, d in self.spent})[:-2]:
                for k in [k for k in self.spent if k[1] == old]:
                    del self.spent[k]


class ScoreWindow:
    """A model's last ``size`` inputs and what they measure under the model as it is now (its
    cold-start rank before it is ready, the distance of its score from the threshold after):
    the quantile a pick must reach. Every label moves a young model's scores (its first fraud
    label lifts them all), so the window is measured again whenever the model's state changed:
    stale values would make every new event look high, and a day's budget would go in a burst.

    >>> from detectors.models import ScamMessageModel
    >>> model = ScamMessageModel(b"doctest-key-0123456789")
    >>> window = ScoreWindow(size=3)
    >>> for i in range(5):
    ...     window.add(model, {f"w:{i}": 1.0})
    >>> len(window), window.quantile(model, 0.9)
    (3, 1.0)
    """

    def __init__(self, size: int = COLD_WINDOW) -> None:
        self.size = size
        self._inputs: deque[tuple[Mapping[str, float], float]] = deque()
        self._sorted: list[float] = []
        self._version: tuple[str, bool] = ("", False)

    def __len__(self) -> int:
        return len(self._inputs)

    @staticmethod
    def measure(model: Any, x: Mapping[str, float]) -> float:
        if model.ready:
            return abs(model.supervised_score(x) - model.threshold)
        return model.cold_rank(x)

    def _refresh(self, model: Any) -> None:
        version = (model.state_version, model.ready)
        if version != self._version:
            self._inputs = deque((x, self.measure(model, x)) for x, _ in self._inputs)
            self._sorted = sorted(v for _, v in self._inputs)
            self._version = version

    def add(self, model: Any, x: Mapping[str, float]) -> None:
        self._refresh(model)
        value = self.measure(model, x)
        self._inputs.append((x, value))
        bisect.insort(self._sorted, value)
        if len(self._inputs) > self.size:
            _, old = self._inputs.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]

    def quantile(self, model: Any, q: float) -> float:
        self._refresh(model)
        ranked = self._sorted
        return ranked[min(len(ranked) - 1, int(q * len(ranked)))]


class Sampler:
    """:meth:`select` for each decided event; ``budget`` is spent as picks are made.

    What a model asks about, while its day's budget lasts:

    * not ready, too few legitimate labels (``n_negative < min_labels_per_class``): any event
      (most are legitimate, and it needs those first);
    * not ready otherwise: its highest cold-start ranks (``cold_rank``: its score once it knows
      some fraud; before, the share of the input no label has touched), the top
      :data:`COLD_TOP` of its recent events;
    * ready: scores within ``margin`` of its threshold, the band widened to take in the
      :data:`COLD_TOP` of its recent events nearest the threshold when fewer fall inside it
      (a young model's scores may all sit far from its threshold, firing on nothing: it would
      otherwise never ask about anything again).

    "Recent" is a :class:`ScoreWindow` per model, kept in the process while the model has
    budget left that day (a restarted worker fills it again over :data:`COLD_MIN_SCORES`
    events; each worker keeps its own over its partitions' events). It shapes only which
    events a model asks about, never the random stratum."""

    def __init__(self, policy: SamplingPolicy | None = None,
                 budget: BudgetLedger | None = None) -> None:
        self.policy = policy or SamplingPolicy()
        self.budget = budget if budget is not None else BudgetLedger()
        self.windows: dict[str, ScoreWindow] = {}

    def _wants(self, model: Any, result: Any) -> str | None:
        """Whether ``model`` would ask about this result (before the budget is checked); the
        result's input joins the model's window."""
        x = result.model_input
        if x is None:
            return None
        window = self.windows.get(model.id)
        if window is None:
            window = self.windows[model.id] = ScoreWindow()
        full = len(window) >= COLD_MIN_SCORES
        if model.ready:
            distance = abs(result.score - model.threshold)
            nearest = window.quantile(model, COLD_TOP) if full else 0.0
            near = distance <= self.policy.margin or distance < nearest  # ties: not "nearest"
            why = UNCERTAINTY if near else None
        elif model.n_negative < model.min_labels_per_class:
            why = COLD_START
        else:
            high = window.quantile(model, 1.0 - COLD_TOP) if full else None
            why = COLD_START if high is not None and model.cold_rank(x) >= high else None
        window.add(model, x)
        return why

    def select(self, event: Envelope, decision: Decision,
               consent_at_event: ConsentRecord | ConsentUnavailable | None,
               consent_now: ConsentRecord | ConsentUnavailable | None,
               models: Mapping[str, Any],
               policy_version: str = CURRENT_POLICY_VERSION) -> Sample | None:
        """The sample this event belongs to, or None.

        Only events some model scored (so it ran: the subject consented to scoring) whose
        subject's consent also allows learning. The random draw decides first and alone; only
        an event it left out, that no detector flagged, can be a model's pick.
        """
        scored = [r for r in decision.results if r.is_ai and r.skipped is None]
        if not scored:
            return None
        policy, budget, day = self.policy, self.budget, day_of(event)
        rate = policy.rate_for(event.type)
        drawn = rate > 0 and draw(policy.seed, event.id) < rate
        # A shadow model asks for nothing: it learns from the labels the enforced models bring,
        # so running one beside them changes no case an analyst gets.
        asking = [r for r in scored if r.detector_id in models and r.mode == "enforce"
                  and budget.left(r.detector_id, day, policy.daily_budget)]
        if not (drawn or asking):
            return None  # the common case, once the day's picks are spent: nothing to ask
        if not learning_gate(consent_at_event, consent_now, policy_version=policy_version,
                             event_time=event.occurred_at).allowed:
            return None
        # Every model with budget left sees the event (its window), sampled or not.
        wants = {r.detector_id: self._wants(models[r.detector_id], r) for r in asking}
        scores = {r.detector_id: r.score for r in scored}
        fired = tuple(r.detector_id for r in decision.findings)
        if drawn:
            return Sample(event.id, event.type, day, RANDOM, rate, None, scores, fired)
        if fired:
            return None  # a flagged event is in review already
        for result in asking:
            why = wants[result.detector_id]
            if why and not result.fired:  # a shadow-mode hit is not a label to ask for
                budget.spend(result.detector_id, day)
                return Sample(event.id, event.type, day, why, 1.0, result.detector_id, scores)
        return None
