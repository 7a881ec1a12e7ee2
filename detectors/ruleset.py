"""A validated, versioned set of rules, and their evaluation against one event.

>>> rules = load_rules()
>>> "message.off_platform_payment" in rules.by_id
True
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import cel
import yaml
from pydantic import ValidationError

from detectors.base import Detector
from detectors.cost import (
    ATTRIBUTE_EVERY,
    SAMPLE_EVERY,
    WATCH,
    Cost,
    CostWatch,
    dearest,
    worst_case_payloads,
)
from detectors.errors import RuleProblem, RuleSetInvalid
from detectors.examples import example_event
from detectors.features import FEATURES, example_features
from detectors.normalize import TEXT_FIELDS, detection_view
from detectors.results import DetectorResult
from detectors.rule import CompiledRule, RuleSpec, compile_rule, flat_name, flat_source, merge_reads
from detectors.rulefile import RuleFileRefused, parse_rule_file, read_source
from schemas.decode import decode_event_obj
from schemas.errors import InvalidEvent
from schemas.events import EVENT_MODELS, Envelope

#: Where the rule library ships: one YAML file per rule, named after the rule id.
RULES_PACKAGE = "detectors.rules"
#: The variables a rule's CEL sees.
RULE_VARIABLES = frozenset({"event", "payload", "features"})


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[CompiledRule, ...]
    #: Content hash of the sources: two sets with the same rules have the same fingerprint.
    fingerprint: str
    sources: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def by_id(self) -> dict[str, CompiledRule]:
        return {r.id: r for r in self.rules}

    def for_type(self, event_type: str) -> tuple[CompiledRule, ...]:
        return self._by_type.get(event_type, ())

    @property
    def _by_type(self) -> dict[str, tuple[CompiledRule, ...]]:
        cached = self.__dict__.get("_by_type_cache")
        if cached is None:
            index: dict[str, list[CompiledRule]] = {}
            for rule in self.rules:
                for event_type in rule.spec.event_types:
                    index.setdefault(event_type, []).append(rule)
            cached = {k: tuple(v) for k, v in index.items()}
            object.__setattr__(self, "_by_type_cache", cached)
        return cached

    def evaluate(self, event: Envelope, features: Mapping[str, Any],
                 event_dict: dict[str, Any] | None = None, *,
                 normalized: bool = False) -> list[DetectorResult]:
        """Run every rule that applies to this event type; a failing rule is reported, not raised.

        Rules read the event's text normalised (:mod:`detectors.normalize`): ``normalized``
        says ``event`` is that already (:func:`detectors.core.decide` makes it once for rules
        and models). ``event_dict`` is ``event``'s ``model_dump(mode="json")`` if the caller
        has it already (ignored if normalising changes the event).
        """
        plan = self._plans.get(event.type)
        if plan is None:
            return []
        if not normalized and plan.text_fields:
            view = detection_view(event, plan.text_fields)
            if view is not event:
                event, event_dict = view, None
        return plan.evaluator().evaluate(event, features, event_dict)

    def text_fields(self, event_type: str,
                    detectors: tuple[type[Detector], ...] = ()) -> frozenset[str]:
        """The free-text payload fields the rules of this event type read, and ``detectors``
        (model classes) read (:attr:`Detector.text_fields`): what detection normalises.
        Kept per event type and classes, since :func:`detectors.core.decide` asks per event."""
        cache = self.__dict__.get("_text_fields_cache")
        if cache is None:
            cache = {}
            object.__setattr__(self, "_text_fields_cache", cache)
        key = (event_type, detectors)
        fields = cache.get(key)
        if fields is None:
            plan = self._plans.get(event_type)
            fields = plan.text_fields if plan is not None else frozenset()
            for detector in detectors:
                wanted = detector.text_fields
                fields |= TEXT_FIELDS.get(event_type, frozenset()) if wanted is None else wanted
            cache[key] = fields
        return fields

    def variables_for(self, event_type: str) -> frozenset[str]:
        """Which of ``event``, ``payload`` and ``features`` the rules of this event type read."""
        plan = self._plans.get(event_type)
        return frozenset({*plan.condition_reads, *plan.reason_reads}) if plan else frozenset()

    @property
    def _plans(self) -> dict[str, _Plan]:
        cached = self.__dict__.get("_plans_cache")
        if cached is None:
            cached = {kind: _Plan.of(rules, _text_fields(rules, kind))
                      for kind, rules in self._by_type.items()}
            object.__setattr__(self, "_plans_cache", cached)
        return cached


# ---- evaluation ------------------------------------------------------------------------------

#: Per variable: the fields to put in the context in a stable order, or None for all of it.
_Fields = dict[str, tuple[str, ...] | None]


@dataclass(frozen=True)
class _Plan:
    """How to evaluate the rules of one event type, converting as little as they need.

    Converting Python values into CEL values is most of an evaluation's cost (about a
    microsecond a string or dict entry), yet a message's rules read two of its payload fields,
    not the whole envelope. So the context holds only the fields the conditions read
    (:attr:`CompiledRule.condition_reads`), and those only the reason templates read are added
    when a rule fires. A field the event lacks stays absent, so ``has()`` and a missing field's
    error are as they would be with everything converted; a variable a rule uses other than
    by field (bare, indexed, iterated) is converted whole.

    Where every rule of the type reads every variable field by field (the library does),
    the fields go in as variables of their own (:func:`detectors.rule.flat_source`): a map
    costs ~1.3 us plus ~0.5 us an entry to convert, a scalar ~0.07 us. An event that lacks a
    field some rule reads goes through the maps, so its error is the maps' error.
    """

    rules: tuple[CompiledRule, ...]
    #: Per rule: its not-fired result's fields (see :func:`_result`).
    templates: tuple[dict[str, Any], ...]
    condition_reads: _Fields
    #: The variables whose reason fields the conditions do not read, with everything read.
    reason_reads: _Fields
    #: Whether ``event`` or ``payload`` is read at all, and what of the envelope they read, as
    #: ``model_dump(include=...)`` (None: all of it).
    reads_envelope: bool
    include: dict[str, Any] | None
    #: The rules as they read flat variables (:func:`detectors.rule.flat_source`), per rule its
    #: condition and reason parts; None where some rule cannot (it reads the maps).
    flat: tuple[tuple[Any, tuple[str | Any, ...]], ...] | None = None
    #: The free-text payload fields the rules read, which they read normalised.
    text_fields: frozenset[str] = frozenset()
    #: This plan's evaluator in each thread (see :meth:`evaluator`).
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    @classmethod
    def of(cls, rules: tuple[CompiledRule, ...],
           text_fields: frozenset[str] = frozenset()) -> _Plan:
        conditions = merge_reads(rule.condition_reads for rule in rules)
        everything = merge_reads([conditions, *(rule.reason_reads for rule in rules)])
        more = {name: fields for name, fields in everything.items()
                if name not in conditions or conditions[name] != fields}
        envelope = _ordered(everything)
        flat = _flat_rules(rules) if all(f is not None for f in envelope.values()) else None
        return cls(rules, tuple(_template(rule) for rule in rules), _ordered(conditions),
                   _ordered(more), "event" in envelope or "payload" in envelope,
                   _envelope_include(envelope), flat, text_fields)

    def evaluator(self) -> _Evaluator:
        """This thread's evaluator (its functions are registered once): each event overwrites
        every variable the conditions read, and a rule that fires those the reasons read."""
        evaluator = getattr(self._local, "evaluator", None)
        if evaluator is None:
            evaluator = self._local.evaluator = _Evaluator(self)
        return evaluator

    def envelope(self, event: Envelope, event_dict: dict[str, Any] | None) -> dict[str, Any]:
        """The envelope as CEL sees it (JSON mode: datetimes, UUIDs and enums as strings),
        as far as the rules read it."""
        if not self.reads_envelope:
            return {}
        if event_dict is not None:
            return event_dict
        if self.payload_fields is not None:
            # The common case, payload fields of JSON types only: read them as they are, a
            # fifth of the cost of a model_dump(include=...) that gives the same.
            payload = event.payload
            fields = {name: getattr(payload, name, _MISSING) for name in self.payload_fields}
            if all(type(value) in _JSON_SCALARS for value in fields.values()):
                return {"payload": fields}
        return event.model_dump(mode="json", include=self.include)

    @cached_property
    def payload_fields(self) -> tuple[str, ...] | None:
        """The payload fields read, when the rules read nothing else of the envelope."""
        include = self.include
        if include is None or set(include) != {"payload"} or include["payload"] is True:
            return None
        return tuple(sorted(include["payload"]))


#: The value types a JSON dump gives unchanged (a missing field falls back to the dump).
_JSON_SCALARS = frozenset({str, bool, int, float, type(None)})
_MISSING = object()


def _flat_rules(rules: tuple[CompiledRule, ...]) -> tuple[tuple[Any, tuple[str | Any, ...]], ...] | None:
    """Every rule's condition and reason parts rewritten to read flat variables, or None."""
    out = []
    for rule in rules:
        condition = _flat_program(rule.program)
        parts = tuple(part if isinstance(part, str) else _flat_program(part)
                      for part in rule.reason_parts)
        if condition is None or any(part is None for part in parts):
            return None
        out.append((condition, parts))
    return tuple(out)


def _flat_program(program: Any) -> Any | None:
    source = flat_source(program.source)
    if source is None:
        return None
    try:
        flat = cel.compile(source)
    except Exception:  # noqa: BLE001 - whatever the rewrite broke, the maps still work
        return None
    if set(flat.variables()) & RULE_VARIABLES:
        return None
    return flat


def _flat_values(reads: _Fields, data: dict[str, Any],
                 features: Mapping[str, Any]) -> dict[str, Any] | None:
    """The flat variables of these fields; None if one is missing (the maps then say so)."""
    values: dict[str, Any] = {}
    for name, fields in reads.items():
        source = features if name == "features" else data if name == "event" else data["payload"]
        for key in fields or ():
            value = source.get(key, _MISSING)
            if value is _MISSING:
                return None
            values[flat_name(name, key)] = value
    return values


def _ordered(reads: Mapping[str, frozenset[str] | None]) -> _Fields:
    return {name: None if fields is None else tuple(sorted(fields))
            for name, fields in sorted(reads.items()) if name in RULE_VARIABLES}


def _envelope_include(reads: _Fields) -> dict[str, Any] | None:
    """The ``include`` that serialises just the envelope fields ``event`` and ``payload`` read."""
    if "event" in reads and reads["event"] is None:
        return None
    include: dict[str, Any] = dict.fromkeys(reads.get("event") or (), True)
    if "payload" in reads and "payload" not in include:
        fields = reads["payload"]
        include["payload"] = True if fields is None else set(fields)
    return include


def _values(reads: _Fields, data: dict[str, Any], features: Mapping[str, Any]) -> dict[str, Any]:
    """The CEL variables holding just these fields of the event and its features."""
    values: dict[str, Any] = {}
    for name, fields in reads.items():
        source = features if name == "features" else data if name == "event" else data["payload"]
        values[name] = dict(source) if fields is None else {
            key: source[key] for key in fields if key in source}
    return values


def _template(rule: CompiledRule) -> dict[str, Any]:
    """The fields of the rule's result when it does not fire (the entity is set per event)."""
    spec = rule.spec
    return dict(DetectorResult(
        detector_id=spec.id, detector_version=rule.version, is_ai=False, mode=spec.mode,
        fired=False, score=0.0, severity=spec.severity, reason="", dedup_seconds=rule.dedup_seconds,
    ).__dict__)


def _result(template: dict[str, Any], entity: tuple[str, str], **changes: Any) -> DetectorResult:
    """A result with the template's fields, this entity, a fresh ``evidence`` and ``changes``."""
    return DetectorResult.from_fields({**template, "entity_type": entity[0], "entity_id": entity[1],
                                       "evidence": {}, **changes})


def _skipped(rule: CompiledRule, why: str) -> DetectorResult:
    spec = rule.spec
    return DetectorResult(detector_id=spec.id, detector_version=rule.version, is_ai=False,
                          mode=spec.mode, fired=False, skipped=why)


def _entities(event: Envelope) -> dict[str, tuple[str, str]]:
    """The case entity of a finding about this event, by a rule's ``entity`` setting."""
    return {"default": case_entity(event), "subject": ("user", event.subject_id)}


_clock = time.perf_counter


def _lower(text: str) -> str:
    return text.lower()


class _Evaluator:
    """Evaluates a plan's rules on events, one at a time, in one CEL context every rule of an
    event shares (converting the event into it is the costly part)."""

    def __init__(self, plan: _Plan, watch: CostWatch | None = WATCH) -> None:
        self.plan = plan
        #: Where over-budget evaluations are reported (None: not timed, as for examples).
        self.watch = watch
        #: Events until the next has each rule timed (see :meth:`evaluate`).
        self.countdown = SAMPLE_EVERY
        self.attributed_at = float("-inf")
        self.active: CompiledRule | None = None
        #: The event and features until the reason fields are in the context.
        self.pending: tuple[dict[str, Any], Mapping[str, Any]] | None = None
        self.context = cel.Context()
        self.context.add_function("re2", self._re2)
        self.context.add_function("re2_find", self._re2_find)
        self.context.add_function("lower", _lower)
        #: Whether the event in hand is read through flat variables (see :func:`_flat_values`).
        self.flat = False

    def evaluate(self, event: Envelope, features: Mapping[str, Any],
                 event_dict: dict[str, Any] | None = None) -> list[DetectorResult]:
        """Every rule's result; timed cheaply (see :mod:`detectors.cost`): the event's total
        always (two reads of the wall clock), each rule's CPU time on one event in
        ``SAMPLE_EVERY`` and, again, on an event whose total is over one rule's budget (at
        most every ``ATTRIBUTE_EVERY`` s): a rule over budget in CPU time is reported."""
        watch = self.watch
        if watch is None:
            return self._evaluate(event, features, event_dict, None)
        self.countdown -= 1
        if not self.countdown:
            self.countdown = SAMPLE_EVERY
            return self._evaluate(event, features, event_dict, watch)
        started = _clock()
        results = self._evaluate(event, features, event_dict, None)
        elapsed = _clock() - started
        if elapsed > watch.budget:
            watch.event_over(event.type, elapsed)
            now = time.monotonic()
            if now - self.attributed_at >= ATTRIBUTE_EVERY:
                self.attributed_at = now
                self._evaluate(event, features, event_dict, watch)  # which rule was it?
        return results

    def _evaluate(self, event: Envelope, features: Mapping[str, Any],
                  event_dict: dict[str, Any] | None,
                  watch: CostWatch | None) -> list[DetectorResult]:
        plan = self.plan
        data = plan.envelope(event, event_dict)
        flat = _flat_values(plan.condition_reads, data, features) if plan.flat else None
        if flat is None:  # the maps: what the rules were written against
            self.flat = False
            self._load(_values(plan.condition_reads, data, features))
            programs: Any = ((rule.program, rule.reason_parts) for rule in plan.rules)
        else:
            self.flat = True
            self._load(flat)
            programs = plan.flat
        self.pending = (data, features) if plan.reason_reads else None
        entities = _entities(event)
        try:
            if watch is None:
                return [self._run(rule, template, entities[rule.spec.entity], program, parts)
                        for rule, template, (program, parts) in zip(plan.rules, plan.templates,
                                                                     programs)]
            return self._timed(event.type, entities, programs, watch)
        finally:
            self.pending = None

    def _timed(self, event_type: str, entities: dict[str, tuple[str, str]], programs: Any,
               watch: CostWatch) -> list[DetectorResult]:
        """The rules' results, each rule timed and reported to ``watch`` if over budget."""
        plan, results = self.plan, []
        for rule, template, (program, parts) in zip(plan.rules, plan.templates, programs):
            # CPU time of this thread (~0.3 us a read, so only here): a worker descheduled on
            # a busy machine is not a dear rule.
            started = time.thread_time()
            results.append(self._run(rule, template, entities[rule.spec.entity], program, parts))
            seconds = time.thread_time() - started
            if seconds > watch.budget:
                watch.over(rule.id, seconds, event_type)
        return results

    def _load(self, variables: dict[str, Any]) -> None:
        # Adds or replaces each variable (values are dicts, never callables, which it would
        # register as functions).
        self.context.update(variables)

    def _load_reason_fields(self) -> None:
        # Conditions read only their own fields, so the rules after this one see no difference.
        if self.pending is not None:
            data, features = self.pending
            self.pending = None
            reads = self.plan.reason_reads
            flat = _flat_values(reads, data, features) if self.flat else None
            self._load(_values(reads, data, features) if flat is None else flat)

    def _pattern(self, name: str) -> Any:
        assert self.active is not None
        return self.active.patterns[name]

    def _re2(self, name: str, text: str) -> bool:
        assert self.active is not None
        return self.active.matchers[name](text)

    def _re2_find(self, name: str, text: str) -> str:
        match = self._pattern(name).search(text)
        return match.group(0) if match else ""

    def _run(self, rule: CompiledRule, template: dict[str, Any], entity: tuple[str, str],
             program: Any, reason_parts: tuple[str | Any, ...]) -> DetectorResult:
        spec = rule.spec
        if spec.mode == "off":
            return _skipped(rule, "rule is off")
        self.active = rule
        try:
            fired = program.execute(self.context)
            if fired is False:
                return _result(template, entity)
            if fired is not True:
                raise TypeError(f"condition returned {type(fired).__name__}, not bool")
            self._load_reason_fields()
            reason = self._render(reason_parts)
        except Exception as exc:  # a broken rule must not stop the others
            return _skipped(rule, f"error: {type(exc).__name__}: {exc}")
        return _result(template, entity, fired=True, score=spec.score, reason=reason)

    def _render(self, reason_parts: tuple[str | Any, ...]) -> str:
        parts = []
        for part in reason_parts:
            if isinstance(part, str):
                parts.append(part)
            else:
                value = part.execute(self.context)
                if isinstance(value, float):
                    # Whole numbers print whole (1209600, not 1.2096e+06); others stay short.
                    parts.append(str(int(value)) if value.is_integer() else f"{value:g}")
                else:
                    parts.append(str(value))
        return "".join(parts)


def case_entity(event: Envelope) -> tuple[str, str]:
    """Which entity a finding about this event opens a case for: a job post, a report's target,
    or otherwise the user whose behaviour it is."""
    if event.type == "job_post.created":
        return "job_post", event.payload.job_id  # type: ignore[attr-defined]
    if event.type == "user_report.filed":
        return event.payload.target_type, event.payload.target_id  # type: ignore[attr-defined]
    return "user", event.subject_id


# ---- loading -------------------------------------------------------------------------------


def default_sources() -> dict[str, str]:
    """The shipped rule library, as {file name: YAML text}."""
    folder = resources.files(RULES_PACKAGE)
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith((".yaml", ".yml"))
    }


def sources_from_dir(path: Path) -> dict[str, str]:
    """The rule files in a folder, each read no further than a rule file may be long (see
    :func:`detectors.rulefile.read_source`: a file too long or not UTF-8 is refused as a problem
    of that file, not a traceback)."""
    return {p.name: read_source(p) for p in sorted(path.glob("*.y*ml"))}


def load_rules(sources: Mapping[str, str] | None = None) -> RuleSet:
    """Validate and compile a whole rule set, or raise :class:`RuleSetInvalid` listing every problem."""
    sources = dict(default_sources() if sources is None else sources)
    problems: list[RuleProblem] = []
    compiled: list[CompiledRule] = []
    seen: dict[str, str] = {}
    for file_name, text in sorted(sources.items()):
        rule, file_problems = _load_one(file_name, text)
        problems += file_problems
        if rule is None:
            continue
        if rule.id in seen:
            problems.append(RuleProblem(file_name, "id", f"duplicate rule id, also in {seen[rule.id]}"))
        seen[rule.id] = file_name
        compiled.append(rule)
    if not problems:
        problems += [p for rule in compiled for p in check_examples(rule, sources_name(rule, seen))]
    if not problems:
        problems += [p for rule in compiled for p in check_cost(rule, sources_name(rule, seen))]
    if problems:
        raise RuleSetInvalid(problems)
    digest = hashlib.sha256()
    for name, text in sorted(sources.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return RuleSet(tuple(compiled), digest.hexdigest()[:16], sources)


def compile_file(file_name: str, text: str) -> tuple[CompiledRule | None, list[RuleProblem]]:
    """Validate and compile one rule file on its own, without running its examples (what
    ``vigil rules test`` needs to run each rule's examples even when another rule is broken)."""
    return _load_one(file_name, text)


def sources_name(rule: CompiledRule, seen: dict[str, str]) -> str:
    return seen.get(rule.id, f"{rule.id}.yaml")


def _load_one(file_name: str, text: str) -> tuple[CompiledRule | None, list[RuleProblem]]:
    try:
        data = parse_rule_file(text)
    except RuleFileRefused as exc:
        return None, [RuleProblem(file_name, exc.field, exc.message)]
    except yaml.YAMLError as exc:
        return None, [RuleProblem(file_name, "(file)", f"not valid YAML: {exc}")]
    if not isinstance(data, dict):
        return None, [RuleProblem(file_name, "(file)", "a rule file is a YAML mapping")]
    try:
        spec = RuleSpec.model_validate(data)
    except ValidationError as exc:
        return None, [
            RuleProblem(file_name, ".".join(str(p) for p in err["loc"]) or "(file)",
                        err["msg"].removeprefix("Value error, "))
            for err in exc.errors()
        ]
    problems = []
    stem = file_name.rsplit(".", 1)[0]
    if stem != spec.id:
        problems.append(RuleProblem(file_name, "id", f"rule id {spec.id!r} must equal the file name {stem!r}"))
    for event_type in spec.event_types:
        if event_type not in EVENT_MODELS:
            problems.append(RuleProblem(file_name, "event_types", f"unknown event type {event_type!r}"))
    for i, example in enumerate(spec.examples):
        for name in example.features:
            if name not in FEATURES:
                problems.append(RuleProblem(file_name, f"examples.{i}.features",
                                            f"unknown feature {name!r}"))
    rule, compile_problems = compile_rule(spec)
    problems += [RuleProblem(file_name, f, m) for f, m in compile_problems]
    return (rule if not problems else None), problems


# ---- inline examples -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExampleOutcome:
    rule_id: str
    name: str
    expect: str
    got: str
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.expect == self.got


def run_examples(rule: CompiledRule) -> list[ExampleOutcome]:
    """Evaluate a rule's inline examples (as if enforced) and say what each one did."""
    outcomes = []
    enforced = _enforced(rule)
    for example in rule.spec.examples:
        for event_type in rule.spec.event_types:
            try:
                event = decode_event_obj(example_event(event_type, example.payload))
            except InvalidEvent as exc:
                outcomes.append(ExampleOutcome(rule.id, example.name, example.expect, "invalid",
                                               f"example event is not valid: {exc.reason}"))
                continue
            features = {**example_features(event_type), **example.features}
            event = detection_view(event, _text_fields((rule,), event_type))  # as in production
            (result,) = _Evaluator(_Plan.of((enforced,)), watch=None).evaluate(event, features)
            got = "error" if result.skipped else ("flag" if result.fired else "pass")
            outcomes.append(ExampleOutcome(rule.id, example.name, example.expect, got,
                                           result.skipped or result.reason))
    return outcomes


def check_examples(rule: CompiledRule, file_name: str) -> list[RuleProblem]:
    problems = []
    kinds = {e.expect for e in rule.spec.examples}
    for missing in {"flag", "pass"} - kinds:
        problems.append(RuleProblem(file_name, "examples", f"needs at least one example that must {missing}"))
    for outcome in run_examples(rule):
        if not outcome.passed:
            problems.append(RuleProblem(
                file_name, "examples",
                f"example {outcome.name!r} should {outcome.expect} but got {outcome.got}"
                + (f" ({outcome.detail})" if outcome.detail else ""),
            ))
    return problems


# ---- cost ----------------------------------------------------------------------------------


def measure_cost(rule: CompiledRule) -> Cost:
    """The dearest evaluation of ``rule`` (as if enforced) on its own examples and on
    worst-case events grown from each (see :func:`detectors.cost.worst_case_payloads`)."""
    evaluator = _Evaluator(_Plan.of((_enforced(rule),)), watch=None)
    reads = _payload_reads(rule)

    def cases() -> Any:
        for example in rule.spec.examples:
            for event_type in rule.spec.event_types:
                features = {**example_features(event_type), **example.features}
                base = example_event(event_type, example.payload)["payload"]
                grown = worst_case_payloads(event_type, base, reads)
                for case, payload in [(f"example {example.name!r}", base), *grown]:
                    try:
                        event = decode_event_obj(example_event(event_type, payload))
                    except InvalidEvent:  # an invalid example is check_examples' to report
                        break
                    event = detection_view(event, _text_fields((rule,), event_type))
                    yield case, lambda e=event, f=features: evaluator.evaluate(e, f)

    return dearest(cases())


def check_cost(rule: CompiledRule, file_name: str) -> list[RuleProblem]:
    """A problem if one evaluation of ``rule`` costs more than the deploy limit."""
    cost = measure_cost(rule)
    return [RuleProblem(file_name, "condition", cost.problem())] if cost.over else []


def _payload_reads(rule: CompiledRule) -> frozenset[str] | None:
    """The payload fields a rule reads, condition and reason (None: all of them)."""
    reads = merge_reads([rule.condition_reads, rule.reason_reads])
    event = reads.get("event", frozenset())
    if event is None or "payload" in event:
        return None
    return reads.get("payload", frozenset())


def _text_fields(rules: tuple[CompiledRule, ...], event_type: str) -> frozenset[str]:
    """The free-text payload fields of ``event_type`` that any of ``rules`` reads."""
    texts = TEXT_FIELDS.get(event_type, frozenset())
    out: set[str] = set()
    for rule in rules:
        reads = _payload_reads(rule)
        out |= texts if reads is None else texts & reads
    return frozenset(out)


def _enforced(rule: CompiledRule) -> CompiledRule:
    if rule.spec.mode == "enforce":
        return rule
    spec = rule.spec.model_copy(update={"mode": "enforce"})
    return CompiledRule(spec, rule.program, rule.patterns, rule.reason_parts, rule.dedup_seconds)


