"""The per-event step shared by the worker and ``vigil replay``: load context, decide, return.

State comes through one narrow interface (:class:`pipeline.stores.state.State`): Redis-backed in the
worker, in memory in replay, so both run exactly the same :func:`detectors.core.decide`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from detectors.base import Detector
from detectors.consent import effective_consent
from detectors.core import Context, decide
from detectors.features import assemble
from detectors.results import Decision
from detectors.ruleset import RuleSet
from detectors.sampling import Sample, Sampler
from pipeline.stores.state import Loaded, State
from schemas.errors import InvalidEvent
from schemas.events import Envelope


class Processor:
    def __init__(self, state: State, rules: Callable[[], RuleSet],
                 models: Callable[[], Sequence[Detector]] = lambda: (),
                 policy_version: str = "2026-01", sampler: Sampler | None = None) -> None:
        self.state = state
        self.rules = rules  # callables, so a hot-reloaded rule set or model is picked up
        self.models = models
        self.policy_version = policy_version
        #: Picks events for labelling (None: nothing goes to review but flags).
        self.sampler = sampler

    async def handle(self, event: Envelope) -> Decision:
        """Load and decide one event; :class:`InvalidEvent` (``conflicting_duplicate``) if
        another event was seen under its id lately (it wrote nothing)."""
        [loaded] = await self.load([event])
        if loaded.conflict is not None:
            raise InvalidEvent("conflicting_duplicate", loaded.conflict_reason(event))
        return self.decide([event], [loaded])[0]

    async def handle_batch(self, events: Sequence[Envelope]) -> list[Decision]:
        """Decisions for ``events`` in order, as if each were handled after the previous one."""
        return self.decide(events, await self.load(events))

    async def load(self, events: Sequence[Envelope]) -> list[Loaded]:
        """Write the batch's state and read what deciding it needs (the I/O half)."""
        return await self.state.load(events)

    def decide(self, events: Sequence[Envelope], loaded: Sequence[Loaded]) -> list[Decision]:
        """The pure half: :func:`detectors.core.decide` for each event and what was loaded for it."""
        rules, models = self.rules(), self.models()
        return [
            decide(event, Context(
                features=assemble(event, item.raw),
                consent=effective_consent(item.consent_at_event, item.consent_now),
                policy_version=self.policy_version,
            ), rules, models)
            for event, item in zip(events, loaded)
        ]

    def select(self, events: Sequence[Envelope], loaded: Sequence[Loaded],
               decisions: Sequence[Decision]) -> list[Sample | None]:
        """The labelling sample each decided event belongs to (pure, in event order: budget
        picks are spent as they are made), judged on the consent records that were loaded."""
        sampler = self.sampler
        if sampler is None:
            return [None] * len(decisions)
        models = {m.id: m for m in self.models()}
        version = self.policy_version
        return [sampler.select(event, decision, item.consent_at_event, item.consent_now,
                               models, version)
                for event, item, decision in zip(events, loaded, decisions)]
