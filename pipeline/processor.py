"""The per-event step shared by the worker and ``vigil replay``: load context, decide, return.

State is injected through two narrow stores (features and consent), Redis-backed in the worker
and in-memory in replay, so both run exactly the same :func:`detectors.core.decide`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from detectors.base import Detector
from detectors.consent import ConsentRecord
from detectors.core import Context, decide
from detectors.features import FeaturePlan, assemble, plan_features
from detectors.results import Decision
from detectors.ruleset import RuleSet
from schemas.events import ConsentChanged, Envelope


class FeatureStore(Protocol):
    async def execute(self, plan: FeaturePlan) -> dict: ...


class ConsentStore(Protocol):
    async def record(self, event: ConsentChanged) -> None: ...
    async def as_of(self, user_id: str, at) -> ConsentRecord | None: ...  # noqa: ANN001


class Processor:
    def __init__(self, features: FeatureStore, consent: ConsentStore,
                 rules: Callable[[], RuleSet], models: Sequence[Detector] = (),
                 policy_version: str = "2026-01") -> None:
        self.features = features
        self.consent = consent
        self.rules = rules  # a callable, so a hot-reloaded rule set is picked up per event
        self.models = models
        self.policy_version = policy_version

    async def handle(self, event: Envelope) -> Decision:
        if isinstance(event, ConsentChanged):
            await self.consent.record(event)
        raw = await self.features.execute(plan_features(event))
        consent = await self.consent.as_of(event.subject_id, event.occurred_at)
        context = Context(features=assemble(event, raw), consent=consent,
                          policy_version=self.policy_version)
        return decide(event, context, self.rules(), self.models)
