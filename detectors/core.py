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
from typing import Any

from detectors.base import Detector
from detectors.consent import (
    CURRENT_POLICY_VERSION,
    ConsentRecord,
    ConsentUnavailable,
    consent_gate,
)
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
    """Run every applicable rule, and every applicable AI detector the consent gate allows."""
    event_dict = event.model_dump(mode="json")
    results: list[DetectorResult] = list(rules.evaluate(event, context.features, event_dict))
    applicable = [m for m in models if event.type in m.event_types]
    if applicable:
        gate = consent_gate(context.consent, policy_version=context.policy_version,
                            at=event.occurred_at)
        for model in applicable:
            results.append(_run_model(model, event, context, gate.allowed, gate.reason, gate.record))
    return Decision(str(event.event_id), event.type, tuple(results))


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
        entity_type, entity_id = case_entity(event)
        result = DetectorResult(**{**result.__dict__, "consent": record.audit(),
                                   "entity_type": result.entity_type or entity_type,
                                   "entity_id": result.entity_id or entity_id})
    return result
