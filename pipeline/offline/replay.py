"""``vigil replay``: the worker's detection path, offline, in file order, with in-memory state.

Every valid event yields one result line (each applicable detector's id, version, whether it is
AI, fired or not, score, reason, or why it did not run); invalid lines are reported with their
line number and skipped. Backtests and evaluations are built on this.

Each line also says whether the product would have put the event in front of an analyst, and
why (``review``): a flag, the labelling sample (:mod:`detectors.sampling`, the same seeded
sampler and budget the worker runs: ``random`` with its rate as inclusion probability,
``uncertainty`` or ``cold_start``), or a user report naming its content (said on the report's
line, with the content's event id).

Label events (``review.decided``) may sit inline among the events: each confirmed_fraud or
legitimate decision teaches every model that scored a labelled event, through
:func:`detectors.core.learn_from_label` with the subject's consent records (escalate teaches
nothing). A decision about a message, proposal or job post also labels that content's event, as
the worker's learner does for reports. What each model saw is kept in memory for the whole
replay, so a label may come any time after its event. A stream of events each followed (soon or
late) by its label is therefore a test-then-train evaluation in one replay: the score on an
event's line was given before the model learned its label. The decision's line says what was
learned or refused and why, and each labelled event's source (``sources``: ``flag``,
``sample``, ``report``, or ``unreviewed``).

``label_policy="all"`` learns every decision's labels (a data set's ground truth);
``"reviewed"`` only those of events the product would have sent to review: what a deployment
learns in real operation. :class:`ReplaySummary` counts, per model, the labels learned by source
and the first event it fired on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from detectors.base import Detector
from detectors.core import LABEL_OF_OUTCOME, learn_from_label, observe_unlabelled
from detectors.results import Decision
from detectors.ruleset import RuleSet, load_rules
from detectors.sampling import (
    CONTENT_TYPES,
    Sample,
    Sampler,
    SamplingPolicy,
    content_of,
)
from pipeline.stores.consent import ConsentHistory
from pipeline.stores.joins import JoinSettings
from pipeline.stores.state import MemoryState
from pipeline.worker.late import redecide
from pipeline.worker.processor import Processor
from schemas.clock import ClockBound
from schemas.decode import decode_event
from schemas.errors import InvalidEvent
from schemas.events import Envelope, ReviewDecided, UserReportFiled

LABEL_POLICIES = ("all", "reviewed")


@dataclass(frozen=True)
class InvalidLine:
    line: int
    reason: str


#: Called for each label a model learned: model id, subject id, input, label, event time, decision.
OnLearned = Callable[[str, str, dict[str, Any], bool, datetime, str], None]


@dataclass(frozen=True)
class _Scored:
    """What one model saw of one event, kept until the event's label arrives."""

    model_id: str
    model_input: dict[str, Any]
    subject_id: str
    occurred_at: datetime


@dataclass
class ModelSummary:
    """One model over a replay: events scored, labels learned by source, its first fire."""

    scored: int = 0
    learned: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    #: The line and the ordinal among the events it scored (1-based) of its first fire.
    first_fired_line: int | None = None
    first_fired_event: int | None = None


@dataclass
class ReplaySummary:
    """What a replay sent to review, and what each model learned from it."""

    events: int = 0
    review: Counter[str] = field(default_factory=Counter)
    models: dict[str, ModelSummary] = field(default_factory=dict)
    #: The span of event time replayed (decisions not counted).
    first_at: datetime | None = None
    last_at: datetime | None = None

    def model(self, model_id: str) -> ModelSummary:
        return self.models.setdefault(model_id, ModelSummary())

    def lines(self) -> list[str]:
        """The summary as a few human-readable lines (what ``vigil replay`` prints)."""
        out = [f"to review: {dict(sorted(self.review.items())) or 'nothing'}"]
        for model_id, m in sorted(self.models.items()):
            learned = ", ".join(f"{n} {src}" for src, n in sorted(m.learned.items())) or "none"
            fired = (f"first fired at line {m.first_fired_line} (its event "
                     f"{m.first_fired_event} of {m.scored})" if m.first_fired_line else "never fired")
            out.append(f"{model_id}: scored {m.scored}; labels learned: {learned}"
                       f"{f'; {m.refused} refused' if m.refused else ''}; {fired}")
        return out


class _Review:
    """Which events the product would have put in front of an analyst, and why."""

    def __init__(self) -> None:
        self.source: dict[str, str] = {}  # event id -> flag | sample | report
        self.content: dict[tuple[str, str], str] = {}  # (target type, id) -> event id

    def note(self, event: Envelope, decision: Decision, sample: Sample | None,
             summary: ReplaySummary) -> dict[str, Any]:
        reasons = ["flag"] if decision.findings else []
        if sample is not None:
            reasons.append(sample.reason)
        content = content_of(event)
        if content is not None:
            self.content[content] = event.id
        out: dict[str, Any] = {"to_review": bool(reasons), "reasons": reasons,
                               "inclusion_probability": (sample.inclusion_probability
                                                         if sample is not None else None)}
        if sample is not None and sample.model_id:
            out["model"] = sample.model_id
        if reasons:
            self.source.setdefault(event.id, "flag" if decision.findings else "sample")
        if isinstance(event, UserReportFiled):
            target = self.content.get((event.payload.target_type, event.payload.target_id))
            if target is not None:
                out.update(to_review=True, labels_event=target)
                out["reasons"] = [*reasons, "report"]
                self.source.setdefault(target, "report")
                summary.review["report"] += 1
        for reason in reasons:
            summary.review[reason] += 1
        return out


class _Learning:
    """The replay's label loop: remembers model inputs and routes labels to the models."""

    def __init__(self, models: Sequence[Detector], consent: ConsentHistory,
                 policy_version: str, review: _Review, label_policy: str,
                 summary: ReplaySummary, skip_decisions: Callable[[str], bool] | None = None,
                 registry: ConsentHistory | None = None,
                 on_learned: OnLearned | None = None) -> None:
        self.models = {m.id: m for m in models if hasattr(m, "learn")}
        self.consent = consent
        self.registry = registry
        #: Unsupervised parts learn from every consented event scored (not when bootstrapping:
        #: a second run would teach them the same history again).
        self.observe = registry is None
        self.policy_version = policy_version
        self.review = review
        self.reviewed_only = label_policy == "reviewed"
        self.summary = summary
        self.skip = skip_decisions or (lambda _decision_id: False)
        self.on_learned = on_learned
        self.scored: dict[str, list[_Scored]] = {}
        self.decisions_seen: set[str] = set()

    async def after_scoring(self, event: Envelope, results: Iterable[Any], line: int) -> None:
        kept = []
        for result in results:
            model = self.models.get(result.detector_id)
            if model is None or result.skipped is not None or result.model_input is None:
                continue
            stats = self.summary.model(model.id)
            stats.scored += 1
            if result.fired and stats.first_fired_line is None:
                stats.first_fired_line, stats.first_fired_event = line, stats.scored
            kept.append(_Scored(model.id, result.model_input, event.subject_id, event.occurred_at))
            if self.observe and getattr(model, "observes_unlabelled", False):
                then, now = await self._consent(event.subject_id, event.occurred_at)
                observe_unlabelled(model, result.model_input, consent_at_event=then,
                                   consent_now=now, policy_version=self.policy_version,
                                   event_time=event.occurred_at)
        if kept:
            self.scored[event.id] = kept

    def _labelled(self, event: ReviewDecided) -> dict[str, str]:
        """The events a decision labels, each with the source its label came through: the
        events it names, and the content of the entity it is about (a report's target)."""
        out: dict[str, str] = {}
        payload = event.payload
        if payload.entity_type in CONTENT_TYPES:
            found = self.review.content.get((payload.entity_type, payload.entity_id))
            if found is not None:
                out[found] = self.review.source.get(found, "unreviewed")
        for labelled in (str(e) for e in payload.event_ids):
            out.setdefault(labelled, self.review.source.get(labelled, "unreviewed"))
        return out

    async def on_decision(self, event: ReviewDecided) -> dict[str, Any]:
        label = LABEL_OF_OUTCOME[event.payload.outcome]
        out: dict[str, Any] = {"label": label, "learning": []}
        if str(event.event_id) in self.decisions_seen or self.skip(event.payload.decision_id):
            out["note"] = "duplicate decision event: already applied"
            return out
        self.decisions_seen.add(str(event.event_id))
        if label is None:
            return out
        labelled_by = self._labelled(event)
        out["sources"] = labelled_by
        for labelled, source in labelled_by.items():
            if self.reviewed_only and source == "unreviewed":
                out["learning"].append({"event_id": labelled, "learned": False, "reason":
                                        "not_reviewed: the product never showed it an analyst"})
                continue
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
                stats = self.summary.model(scored.model_id)
                if outcome.learned:
                    stats.learned[source] += 1
                    if self.on_learned is not None:
                        self.on_learned(scored.model_id, scored.subject_id, scored.model_input,
                                        label, scored.occurred_at, event.payload.decision_id)
                else:
                    stats.refused += 1
                out["learning"].append({"event_id": labelled, **outcome.as_dict()})
        return out

    async def _consent(self, subject_id: str, at: datetime) -> tuple[Any, Any]:
        # As of the event, and the latest known now (the store holds every change read so far);
        # a live registry's later record (an opt-out since the history was taken) wins.
        then, now = await self.consent.as_of(subject_id, at), await self.consent.latest(subject_id)
        if self.registry is not None:
            live = await self.registry.latest(subject_id)
            if live is not None and (now is None or live.changed_at >= now.changed_at):
                now = live
            if then is None:
                then = await self.registry.as_of(subject_id, at)
        return then, now


def replay_lines(lines: Iterable[str], *, rules: RuleSet | None = None,
                 models: Sequence[Detector] = (), policy_version: str = "2026-01",
                 clock_bound: ClockBound = ClockBound(),
                 label_policy: str = "all", sampling: SamplingPolicy | None = None,
                 summary: ReplaySummary | None = None, registry: ConsentHistory | None = None,
                 skip_decisions: Callable[[str], bool] | None = None,
                 on_learned: OnLearned | None = None,
                 partitions: int = 1, joins: JoinSettings = JoinSettings(),
                 ) -> Iterator[dict[str, Any] | InvalidLine]:
    """Yield a finding record per valid event and an :class:`InvalidLine` per bad line.

    An event dated outside ``clock_bound`` around the wall clock is a bad line, and so is an
    event whose id an earlier line had with other content, as the worker dead-letters them (a file of last year's events is in the past, and replays as it is).

    ``models`` are scored on every event they apply to (with consent) and learn from inline
    ``review.decided`` events (all of them, or with ``label_policy="reviewed"`` only those of
    events sent to review); their learned state is what they hold when this returns.
    ``sampling`` is the labelling sample's policy (default: the worker's defaults); ``summary``
    is filled in as the replay goes. ``vigil models bootstrap`` passes ``registry``, the live
    consent registry (a later record there wins over the file's; unsupervised parts then
    observe nothing), ``skip_decisions(decision_id)``, true for decisions applied before, and
    ``on_learned(model_id, subject_id, x, label, occurred_at, decision_id)``, called for every
    label a model learned (for its training log).

    Joins wait and counters count late events as the worker's do (:mod:`pipeline.stores.joins`,
    ``joins`` its settings): an event released by a later line is decided again, in a record
    of its own marked ``decided_late`` (:func:`final_records` merges them). The file is read as
    ``partitions`` partitions per topic (event time is judged per topic-partition); one, the
    default, for a file in event-time order.
    """
    if label_policy not in LABEL_POLICIES:
        raise ValueError(f"label_policy must be one of {', '.join(LABEL_POLICIES)}")
    ruleset = rules or load_rules()
    state = MemoryState(joins=joins, partitions=partitions)
    processor = Processor(state, lambda: ruleset, lambda: models, policy_version,
                          sampler=Sampler(sampling or SamplingPolicy()))
    summary = summary if summary is not None else ReplaySummary()
    review = _Review()
    learning = _Learning(models, state.consent, policy_version, review, label_policy,
                         summary, skip_decisions, registry, on_learned)
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
                yield from loop.run_until_complete(
                    _one(event, number, processor, review, learning, summary))
            except InvalidEvent as exc:  # a conflicting duplicate: not processed
                yield InvalidLine(number, f"{exc.kind}: {exc.reason}")
    finally:
        loop.close()


async def _one(event: Envelope, number: int, processor: Processor, review: _Review,
               learning: _Learning, summary: ReplaySummary) -> list[dict[str, Any]]:
    """Decide one event as the worker would, and send it to review, learning or both; then
    the events it released, decided again."""
    loaded = await processor.load([event])
    if loaded[0].conflict is not None:
        raise InvalidEvent("conflicting_duplicate", loaded[0].conflict_reason(event))
    decision = processor.decide([event], loaded)[0]
    sample = processor.select([event], loaded, [decision])[0]
    summary.events += 1
    if not isinstance(event, ReviewDecided):
        at = event.occurred_at
        summary.first_at = at if summary.first_at is None else min(summary.first_at, at)
        summary.last_at = at if summary.last_at is None else max(summary.last_at, at)
    record: dict[str, Any] = {
        "line": number,
        "event_id": str(event.event_id),
        "type": event.type,
        "subject_id": event.subject_id,
        "results": [r.as_dict() for r in decision.results],
        "review": review.note(event, decision, sample, summary),
    }
    if isinstance(event, ReviewDecided):
        record.update(await learning.on_decision(event))
    elif learning.models:
        await learning.after_scoring(event, decision.results, number)
    if not loaded[0].released:
        return [record]
    return [record, *await _again(loaded, number, processor)]


async def _again(loaded: list[Any], number: int, processor: Processor) -> list[dict[str, Any]]:
    """The events this one released, decided again as the worker does (:mod:`pipeline.worker.late`):
    a record each, saying why (``decided_late``); read with :func:`final_records`."""
    state = processor.state
    assert isinstance(state, MemoryState)
    out = []
    for again in await redecide(state, processor, loaded):
        if again.released.hold is not None:
            state.joins.release(again.released.hold)
        event, decision = again.event, again.decision
        out.append({"line": number, "event_id": str(event.event_id), "type": event.type,
                    "subject_id": event.subject_id, "decided_late": again.why,
                    "results": [r.as_dict() for r in decision.results],
                    "review": {"to_review": bool(decision.findings),
                               "reasons": ["flag"] if decision.findings else []}})
    return out


def final_records(records: Iterable[dict[str, Any] | InvalidLine]) -> Iterator[dict[str, Any] | InvalidLine]:
    """One record per event: each re-decision (``decided_late``) merged into its event's first
    record (a result fired in either fired; a late fire is said in ``decided_late``), in the
    order of the first records. Holds every record until the end: for bounded files
    (backtests, evaluations), not for streaming ``vigil replay``'s output."""
    firsts: dict[str, dict[str, Any]] = {}
    order: list[dict[str, Any] | InvalidLine] = []
    for record in records:
        if isinstance(record, InvalidLine):
            order.append(record)
            continue
        first = firsts.get(record["event_id"])
        if first is None or "decided_late" not in record:
            if first is None:
                firsts[record["event_id"]] = record
                order.append(record)
            continue
        results = {r["detector_id"]: r for r in first["results"]}
        for result in record["results"]:
            before = results.get(result["detector_id"])
            if result.get("fired") and not (before or {}).get("fired"):
                results[result["detector_id"]] = {**result, "decided_late": record["decided_late"]}
        first["results"] = list(results.values())
    yield from order


def replay_file(path: str, out: Callable[[str], Any], *,
                on_invalid: Callable[[InvalidLine], Any] = lambda _: None,
                rules: RuleSet | None = None, models: Sequence[Detector] = (),
                policy_version: str = "2026-01", label_policy: str = "all",
                sampling: SamplingPolicy | None = None,
                summary: ReplaySummary | None = None) -> tuple[int, int]:
    """Replay a JSONL file, writing result lines through ``out``; returns (events, invalid)."""
    events = invalid = 0
    with open(path, encoding="utf-8") as handle:
        for record in replay_lines(handle, rules=rules, models=models,
                                   policy_version=policy_version, label_policy=label_policy,
                                   sampling=sampling, summary=summary):
            if isinstance(record, InvalidLine):
                invalid += 1
                on_invalid(record)
            else:
                events += 1
                out(json.dumps(record, separators=(",", ":")) + "\n")
    return events, invalid
