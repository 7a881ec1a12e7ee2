"""Unlearning: taking a person's contributions back out of a model (pure; the learner does I/O).

A model's training log (:mod:`pipeline.models.training_log`) holds every input it learned:
the subject's pseudonym, the input ``x``, the label (``None`` for an unlabelled input an
unsupervised part observed), and when the event happened. An erasure or a withdrawal of consent
with its learning undone is a *request*: a pseudonym and the time it was made. A request covers
the subject's contributions from events up to that time (a user who opts in again later is
learned from again).

- :func:`subtract` is exact unlearning, for models whose state is counts
  (``exact_unlearning``): each covered contribution is taken back out.
- :func:`rebuild` is for the others: a fresh model trained on the log without the covered
  contributions, in the log's order, through the same steps as live learning.

>>> from detectors.models import ScamMessageCountsModel
>>> log = [Contribution("anon_a", {"w:win": 1}, True, 10.0),
...        Contribution("anon_b", {"w:hi": 1}, False, 11.0)]
>>> keep, forget = split(log, {"anon_a": 20.0})
>>> [c.subject for c in keep], [c.subject for c in forget]
(['anon_b'], ['anon_a'])
>>> model = rebuild(ScamMessageCountsModel(b"doctest-key-0123456789"), log)
>>> subtract(model, forget)
1
>>> model.snapshot() == rebuild(ScamMessageCountsModel(b"doctest-key-0123456789"), keep).snapshot()
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.models.base import ModelInput, OnlineModel


@dataclass(frozen=True)
class Contribution:
    """One input a model learned, as its training log keeps it."""

    #: :func:`detectors.privacy.subject_pseudonym` of the event's subject: never the raw id.
    subject: str
    x: ModelInput
    #: The label taught, or None for an unlabelled input an unsupervised part observed.
    label: bool | None
    #: When the labelled event happened (epoch seconds): a request covers events up to its time.
    occurred_at: float
    #: The log's own id of the entry (the learner deletes forgotten entries by it).
    entry_id: str = ""
    decision_id: str | None = None
    #: The model version that learned it (an input of another version's features is stale).
    model_version: str = ""


def covered(contribution: Contribution, requests: Mapping[str, float]) -> bool:
    """Whether a request (pseudonym -> when it was made) covers this contribution."""
    at = requests.get(contribution.subject)
    return at is not None and contribution.occurred_at <= at


def split(log: Iterable[Contribution], requests: Mapping[str, float],
          ) -> tuple[list[Contribution], list[Contribution]]:
    """The log's contributions to keep and those the requests cover, each in log order."""
    keep: list[Contribution] = []
    forget: list[Contribution] = []
    for contribution in log:
        (forget if covered(contribution, requests) else keep).append(contribution)
    return keep, forget


def subtract(model: Any, contributions: Sequence[Contribution]) -> int:
    """Take labelled contributions back out of a count model, exactly; returns how many."""
    if not getattr(model, "exact_unlearning", False):
        raise TypeError(f"{model.id} cannot subtract a label: rebuild it instead")
    done = 0
    for contribution in contributions:
        if contribution.label is not None:
            model.unlearn(contribution.x, contribution.label)
            done += 1
    return done


def rebuild(fresh: OnlineModel, log: Iterable[Contribution]) -> OnlineModel:
    """Train ``fresh`` (a model that learned nothing) on ``log`` in order, as the learner did:
    labels through :meth:`OnlineModel.learn`, unlabelled inputs through ``observe``. The
    consent gate is not asked again: the log only holds what it let through, and the requests
    (:func:`split`) say what has been withdrawn since."""
    for contribution in log:
        if contribution.label is None:
            fresh.observe(dict(contribution.x))
        else:
            fresh.learn(dict(contribution.x), contribution.label)
    return fresh
