"""``decide``: the one pure function the worker and ``vigil replay`` both call for every event.

>>> from schemas import decode_event_obj
>>> from detectors.examples import example_event
>>> from detectors.ruleset import load_rules
>>> event = decode_event_obj(example_event("message.sent",
...     {"text": "pay me on venmo", "has_active_contract": False}))
>>> decision = decide(event, Context(features={}), load_rules())
>>> [r.detector_id for r in decision.findings]
['message.off_platform_payment']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from detectors.base import Detector
from detectors.consent import (
    CURRENT_POLICY_VERSION,
    ConsentRecord,
    ConsentUnavailable,
    consent_gate,
    learning_gate,
)
from detectors.normalize import detection_view
from detectors.results import Decision, DetectorResult
from detectors.ruleset import RuleSet, case_entity
from schemas.events import Envelope


@dataclass(frozen=True)
class Context:
    """Everything detection needs besides the event, loaded by the pipeline beforehand."""

    features: Mapping[str, Any] = field(default_factory=dict)
    #: The subject's consent record as of the event time (None: never asked).
    consent: ConsentRecord | ConsentUnavailable | None = None
    policy_version: str = CURRENT_POLICY_VERSION


def decide(event: Envelope, context: Context, rules: RuleSet,
           models: Sequence[Detector] = ()) -> Decision:
    """Run every applicable rule, and every applicable AI detector the consent gate allows.

    Rules and models alike read the event's free text normalised (look-alikes, width forms,
    invisible characters folded: :mod:`detectors.normalize`), computed once here for the
    fields any of them reads; the decision is about ``event`` as it came.
    """
    applicable = [m for m in models if event.type in m.event_types]
    fields = rules.text_fields(event.type, tuple(map(type, applicable)))
    view = detection_view(event, fields) if fields else event
    # evaluate() serialises the event for CEL only when some rule applies to its type.
    results: list[DetectorResult] = list(rules.evaluate(view, context.features, normalized=True))
    if applicable:
        gate = consent_gate(context.consent, policy_version=context.policy_version,
                            at=event.occurred_at)
        for model in applicable:
            results.append(_run_model(model, view, context, gate.allowed, gate.reason, gate.record))
    return Decision(event.id, event.type, tuple(results))


def _run_model(model: Detector, event: Envelope, context: Context, allowed: bool, why: str,
               record: ConsentRecord | None) -> DetectorResult:
    base = dict(detector_id=model.id, detector_version=model.version, is_ai=model.is_ai)
    if model.is_ai and not allowed:
        return DetectorResult(**base, fired=False, skipped=why)
    try:
        result = model.detect(event, context.features)
    except Exception as exc:  # one failing detector must not hide the others' findings
        return DetectorResult(**base, fired=False, skipped=f"error: {type(exc).__name__}: {exc}")
    if model.is_ai and record is not None:
        # A result that names no entity gets the event's case entity (the type defaults to
        # "user", so it only counts together with an id).
        entity_type, entity_id = ((result.entity_type, result.entity_id) if result.entity_id
                                  else case_entity(event))
        result = DetectorResult.from_fields({**result.__dict__, "consent": record.audit(),
                                             "entity_type": entity_type, "entity_id": entity_id})
    return result


# ---- learning: the same consent gate, plus "not opted out since" ----------------------------

#: What an analyst's decision outcome (``review.decided``) teaches: fraud, not fraud, nothing.
LABEL_OF_OUTCOME: dict[str, bool | None] = {
    "confirmed_fraud": True, "legitimate": False, "escalate": None,
}


class Learner(Protocol):
    """What :func:`learn_from_label` needs of a model (every :class:`OnlineModel` has it)."""

    id: str

    def learn(self, x: dict[str, Any], label: bool) -> None: ...


@dataclass(frozen=True)
class LearnOutcome:
    """Whether a model learned from one labelled (or observed) input, and why (not).

    ``reason`` is ``learned``/``observed`` when it did; otherwise it starts with ``no_consent:``
    (the gate refused), ``no_input:`` (nothing was kept for the event) or ``error:``.
    """

    model_id: str
    learned: bool
    reason: str
    label: bool | None = None
    #: The consent record that allowed the learning (audit), as in an AI flag.
    consent: dict[str, str] | None = None
    state_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model_id, "learned": self.learned,
                               "reason": self.reason}
        if self.label is not None:
            out["label"] = self.label
        if self.consent is not None:
            out["consent"] = self.consent
        if self.state_version is not None:
            out["state_version"] = self.state_version
        return out


def learn_from_label(
    model: Learner,
    model_input: Mapping[str, Any] | None,
    label: bool,
    *,
    consent_at_event: ConsentRecord | ConsentUnavailable | None,
    consent_now: ConsentRecord | ConsentUnavailable | None,
    policy_version: str = CURRENT_POLICY_VERSION,
    event_time: datetime,
) -> LearnOutcome:
    """Teach ``model`` the analyst's label for one event it scored, if consent allows.

    ``model_input`` is what the model saw (``DetectorResult.model_input``); ``consent_at_event``
    the subject's record in force at ``event_time``; ``consent_now`` their latest record. See
    :func:`learning_gate` for the rule. Never raises: a failing model is an ``error:`` outcome.
    """
    return _gated(model, model_input, label, consent_at_event, consent_now, policy_version,
                  event_time)


def observe_unlabelled(
    model: Any,
    model_input: Mapping[str, Any] | None,
    *,
    consent_at_event: ConsentRecord | ConsentUnavailable | None,
    consent_now: ConsentRecord | ConsentUnavailable | None,
    policy_version: str = CURRENT_POLICY_VERSION,
    event_time: datetime,
) -> LearnOutcome:
    """Let a model with an unsupervised part (``observes_unlabelled``) learn from an unlabelled
    input, under exactly the same consent rule as :func:`learn_from_label`."""
    return _gated(model, model_input, None, consent_at_event, consent_now, policy_version,
                  event_time)


def _gated(model: Any, model_input: Mapping[str, Any] | None, label: bool | None,
           consent_at_event: ConsentRecord | ConsentUnavailable | None,
           consent_now: ConsentRecord | ConsentUnavailable | None,
           policy_version: str, event_time: datetime) -> LearnOutcome:
    model_id = str(getattr(model, "id", type(model).__name__))
    gate = learning_gate(consent_at_event, consent_now, policy_version=policy_version,
                         event_time=event_time)
    if not gate.allowed:
        return LearnOutcome(model_id, False, gate.reason, label)
    if model_input is None:
        return LearnOutcome(model_id, False, "no_input: the model did not score this event", label)
    audit = gate.record.audit() if gate.record is not None else None
    try:
        if label is None:
            model.observe(dict(model_input))
        else:
            model.learn(dict(model_input), bool(label))
    except Exception as exc:  # one failing model must not stop the others learning
        return LearnOutcome(model_id, False, f"error: {type(exc).__name__}: {exc}", label, audit)
    return LearnOutcome(model_id, True, "observed" if label is None else "learned", label, audit,
                        getattr(model, "state_version", None))
