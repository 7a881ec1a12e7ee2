"""A validated, versioned set of rules, and their evaluation against one event.

>>> rules = load_rules()
>>> "message.off_platform_payment" in rules.by_id
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import cel
import yaml
from pydantic import ValidationError

from detectors.errors import RuleProblem, RuleSetInvalid
from detectors.examples import example_event
from detectors.features import FEATURES, example_features
from detectors.results import DetectorResult
from detectors.rule import CompiledRule, RuleSpec, compile_rule
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
                 event_dict: dict[str, Any] | None = None) -> list[DetectorResult]:
        """Run every rule that applies to this event type; a failing rule is reported, not raised."""
        rules = self.for_type(event.type)
        if not rules:
            return []
        data = event_dict if event_dict is not None else event.model_dump(mode="json")
        evaluator = _Evaluator(data, features, self.variables_for(event.type))
        return [evaluator.run(rule, event) for rule in rules]

    def variables_for(self, event_type: str) -> frozenset[str]:
        """Which of ``event``, ``payload`` and ``features`` the rules of this event type read.

        Only those are converted into the CEL context: the conversion is most of an event's
        evaluation cost, and most rules never read the whole envelope.
        """
        cached = self.__dict__.get("_variables_cache")
        if cached is None:
            cached = {}
            for kind, rules in self._by_type.items():
                names: set[str] = set()
                for rule in rules:
                    names.update(rule.program.variables())
                    for part in rule.reason_parts:
                        if not isinstance(part, str):
                            names.update(part.variables())
                cached[kind] = frozenset(names & RULE_VARIABLES)
            object.__setattr__(self, "_variables_cache", cached)
        return cached.get(event_type, frozenset())


class _Evaluator:
    """One CEL context per event, shared by every rule (building it is the costly part)."""

    def __init__(self, data: dict[str, Any], features: Mapping[str, Any],
                 variables: frozenset[str] = frozenset(RULE_VARIABLES)) -> None:
        self.active: CompiledRule | None = None
        values = {"event": data, "payload": data["payload"], "features": features}
        self.context = cel.Context(variables={
            name: dict(value) if name == "features" else value
            for name, value in values.items() if name in variables
        })
        self.context.add_function("re2", self._re2)
        self.context.add_function("re2_find", self._re2_find)
        self.context.add_function("lower", lambda text: text.lower())

    def _pattern(self, name: str) -> Any:
        assert self.active is not None
        return self.active.patterns[name]

    def _re2(self, name: str, text: str) -> bool:
        return self._pattern(name).search(text) is not None

    def _re2_find(self, name: str, text: str) -> str:
        match = self._pattern(name).search(text)
        return match.group(0) if match else ""

    def run(self, rule: CompiledRule, event: Envelope) -> DetectorResult:
        spec = rule.spec
        base = dict(detector_id=spec.id, detector_version=rule.version, is_ai=False, mode=spec.mode)
        if spec.mode == "off":
            return DetectorResult(**base, fired=False, skipped="rule is off")
        self.active = rule
        try:
            fired = rule.program.execute(self.context)
            if not isinstance(fired, bool):
                raise TypeError(f"condition returned {type(fired).__name__}, not bool")
            reason = self._render(rule) if fired else ""
        except Exception as exc:  # a broken rule must not stop the others
            return DetectorResult(**base, fired=False, skipped=f"error: {type(exc).__name__}: {exc}")
        entity_type, entity_id = case_entity(event) if spec.entity == "default" else ("user", event.subject_id)
        return DetectorResult(
            **base, fired=fired, score=spec.score if fired else 0.0, severity=spec.severity,
            reason=reason, entity_type=entity_type, entity_id=entity_id,
            dedup_seconds=rule.dedup_seconds,
        )

    def _render(self, rule: CompiledRule) -> str:
        parts = []
        for part in rule.reason_parts:
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
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(path.glob("*.y*ml"))}


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
        data = yaml.safe_load(text)
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
            result = _Evaluator(event.model_dump(mode="json"), features).run(enforced, event)
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


def _enforced(rule: CompiledRule) -> CompiledRule:
    if rule.spec.mode == "enforce":
        return rule
    spec = rule.spec.model_copy(update={"mode": "enforce"})
    return CompiledRule(spec, rule.program, rule.patterns, rule.reason_parts, rule.dedup_seconds)


