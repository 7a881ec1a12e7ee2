"""``vigil replay``: the worker's detection path, offline, in file order, with in-memory state.

Every valid event yields one result line (each applicable detector's id, version, whether it is
AI, fired or not, score, reason, or why it did not run); invalid lines are reported with their
line number and skipped. Backtests and evaluations are built on this.

Label events (``review.decided``) may sit inline among the events: each confirmed_fraud or
legitimate decision teaches every model that scored a labelled event, through
:func:`detectors.core.learn_from_label` with the subject's consent records (escalate teaches
nothing). What each model saw is kept in memory for the whole replay, so a label may come any
time after its event. A stream of events each followed (soon or late) by its label is therefore
a test-then-train evaluation in one replay: the score on an event's line was given before the
model learned its label. The decision's line says what was learned or refused, and why.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from detectors.base import Detector
from detectors.core import LABEL_OF_OUTCOME, learn_from_label, observe_unlabelled
from detectors.ruleset import RuleSet, load_rules
from pipeline.stores.consent import MemoryConsentStore
from pipeline.stores.state import MemoryState
from pipeline.worker.processor import Processor
from schemas.clock import ClockBound
from schemas.decode import decode_event
from schemas.errors import InvalidEvent
from schemas.events import Envelope, ReviewDecided


@dataclass(frozen=True)
class InvalidLine:
    line: int
    reason: str


@dataclass(frozen=True)
class _Scored:
    """What one model saw of one event, kept until the event's label arrives."""

    model_id: str
    model_input: dict[str, Any]
    subject_id: str
    occurred_at: datetime


class _Learning:
    """The replay's label loop: remembers model inputs and routes labels to the models."""

    def __init__(self, models: Sequence[Detector], consent: MemoryConsentStore,
                 policy_version: str) -> None:
        self.models = {m.id: m for m in models if hasattr(m, "learn")}
        self.consent = consent
        self.policy_version = policy_version
        self.scored: dict[str, list[_Scored]] = {}
        self.decisions_seen: set[str] = set()

    async def after_scoring(self, event: Envelope, results: Iterable[Any]) -> None:
        kept = []
        for result in results:
            model = self.models.get(result.detector_id)
            if model is None or result.skipped is not None or result.model_input is None:
                continue
            kept.append(_Scored(model.id, result.model_input, event.subject_id, event.occurred_at))
            if getattr(model, "observes_unlabelled", False):
                then, now = await self._consent(event.subject_id, event.occurred_at)
                observe_unlabelled(model, result.model_input, consent_at_event=then,
                                   consent_now=now, policy_version=self.policy_version,
                                   event_time=event.occurred_at)
        if kept:
            self.scored[str(event.event_id)] = kept

    async def on_decision(self, event: ReviewDecided) -> dict[str, Any]:
        label = LABEL_OF_OUTCOME[event.payload.outcome]
        out: dict[str, Any] = {"label": label, "learning": []}
        if str(event.event_id) in self.decisions_seen:
            out["note"] = "duplicate decision event: already applied"
            return out
        self.decisions_seen.add(str(event.event_id))
        if label is None:
            return out
        for labelled in dict.fromkeys(str(e) for e in event.payload.event_ids):
            seen = self.scored.get(labelled)
            if not seen:
                out["learning"].append({"event_id": labelled, "learned": False,
                                        "reason": "no_input: no model scored this event"})
                continue
            for scored in seen:
                then, now = await self._consent(scored.subject_id, scored.occurred_at)
                outcome = learn_from_label(
                    self.models[scored.model_id], scored.model_input, label,
                    consent_at_event=then, consent_now=now,
                    policy_version=self.policy_version, event_time=scored.occurred_at)
                out["learning"].append({"event_id": labelled, **outcome.as_dict()})
        return out

    async def _consent(self, subject_id: str, at: datetime) -> tuple[Any, Any]:
        # As of the event, and the latest known now (the store holds every change read so far).
        return (await self.consent.as_of(subject_id, at), await self.consent.latest(subject_id))


def replay_lines(lines: Iterable[str], *, rules: RuleSet | None = None,
                 models: Sequence[Detector] = (), policy_version: str = "2026-01",
                 clock_bound: ClockBound = ClockBound(),
                 ) -> Iterator[dict[str, Any] | InvalidLine]:
    """Yield a finding record per valid event and an :class:`InvalidLine` per bad line.

    An event dated outside ``clock_bound`` around the wall clock is a bad line, and so is an
    event whose id an earlier line had with other content, as the worker dead-letters them (a file of last year's events is in the past, and replays as it is).

    ``models`` are scored on every event they apply to (with consent) and learn from inline
    ``review.decided`` events; their learned state is what they hold when this returns.
    """
    ruleset = rules or load_rules()
    state = MemoryState()
    processor = Processor(state, lambda: ruleset, lambda: models, policy_version)
    learning = _Learning(models, state.consent, policy_version)
    loop = asyncio.new_event_loop()
    try:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = decode_event(line.encode("utf-8", "surrogatepass"))
                clock_bound.check(event, time.time())
            except InvalidEvent as exc:
                yield InvalidLine(number, f"{exc.kind}: {exc.reason}")
                continue
            try:
                decision = loop.run_until_complete(processor.handle(event))
            except InvalidEvent as exc:  # a conflicting duplicate: not processed
                yield InvalidLine(number, f"{exc.kind}: {exc.reason}")
                continue
            record: dict[str, Any] = {
                "line": number,
                "event_id": str(event.event_id),
                "type": event.type,
                "subject_id": event.subject_id,
                "results": [r.as_dict() for r in decision.results],
            }
            if isinstance(event, ReviewDecided):
                record.update(loop.run_until_complete(learning.on_decision(event)))
            elif learning.models:
                loop.run_until_complete(learning.after_scoring(event, decision.results))
            yield record
    finally:
        loop.close()


def replay_file(path: str, out: Callable[[str], Any], *,
                on_invalid: Callable[[InvalidLine], Any] = lambda _: None,
                rules: RuleSet | None = None, models: Sequence[Detector] = (),
                policy_version: str = "2026-01") -> tuple[int, int]:
    """Replay a JSONL file, writing result lines through ``out``; returns (events, invalid)."""
    events = invalid = 0
    with open(path, encoding="utf-8") as handle:
        for record in replay_lines(handle, rules=rules, models=models,
                                   policy_version=policy_version):
            if isinstance(record, InvalidLine):
                invalid += 1
                on_invalid(record)
            else:
                events += 1
                out(json.dumps(record, separators=(",", ":")) + "\n")
    return events, invalid
