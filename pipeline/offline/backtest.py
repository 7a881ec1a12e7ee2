"""``vigil rules backtest``: what a candidate rule set flags on recorded traffic, next to the live one.

Both rule sets run through :func:`pipeline.offline.replay.replay_lines`, the worker's detection path with
in-memory feature state, in a single pass: every candidate rule runs, and each live rule that
differs from the candidate's rule of the same id (or that the candidate drops) runs beside it
under the detector id ``live~<id>``. Rules identical in both sets run once and count for both.

Per rule the report gives hits (enforce and shadow apart: shadow rules are counted, never
enforced), and with ground-truth labels (``{"event_id", "scenario"}`` lines as ``vigil simulate
--truth`` writes them; events not listed are benign):

* **precision**: hits on events labelled with any scenario / hits;
* **recall**: hits on events labelled with one of the rule's ``labels`` / all such events *of the
  event types the rule reads* (a signup rule is not blamed for missing the user report filed
  about a ring; the report rule answers for those). The per-scenario table shows what the whole
  enforced set catches of every labelled event;
* against the live set: events only the candidate flags, events only the live set flags, and
  whether the rule was added, removed, changed (new version) or edited without a version bump;
* **hits per event** of the rule's own event types (``hit_ratio``): what ``vigil rules deploy
  --backtest-events/--backtest-report`` records as the rule's expected live ratio
  (:func:`expectation_from_report`), which the ``VigilRuleAboveBacktest`` alert watches.

The report and its rendering are in :mod:`pipeline.offline.backtest_report`.

>>> from detectors.ruleset import load_rules
>>> from detectors.examples import example_event
>>> import json
>>> line = json.dumps(example_event("message.sent", {"text": "pay me via venmo", "has_active_contract": False}))
>>> report = backtest([line], load_rules(), load_rules())
>>> row = report.row("message.off_platform_payment")
>>> row.enforce_hits, row.status, row.only_candidate
(1, 'unchanged', 0)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from detectors.errors import RuleSetInvalid
from detectors.rule import CompiledRule
from detectors.ruleset import RuleSet, load_rules
from pipeline.offline.backtest_report import BacktestReport, RuleRow, ScenarioRow
from pipeline.offline.replay import InvalidLine, final_records, replay_lines
from pipeline.rules.records import BacktestExpectation, RuleExpectation

__all__ = [
    "LIVE_TAG",
    "BacktestReport",
    "RuleRow",
    "ScenarioRow",
    "backtest",
    "backtest_expectation",
    "backtest_file",
    "expectation_from_report",
    "live_rule_set",
    "merged_rules",
    "read_labels",
]

#: Prefix of the detector id a differing live rule runs under during the shared replay pass.
LIVE_TAG = "live~"


# ---- inputs ----------------------------------------------------------------------------------


def read_labels(lines: Iterable[str]) -> dict[str, str]:
    """{event_id: scenario} from ground-truth JSONL; rows without a scenario are benign."""
    labels: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            event_id, scenario = str(row["event_id"]), row.get("scenario")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"labels line {number}: expected {{\"event_id\", \"scenario\"}}: {exc}") from exc
        if scenario:
            labels[event_id] = str(scenario)
    return labels


def live_rule_set(redis_url: str, *, timeout: float = 2.0) -> tuple[RuleSet, str]:
    """The rule set in force: the deployed version in Redis, else the packaged library.

    Returns the rule set and where it came from, for the report's header.
    """
    import redis

    from pipeline.rules.store import RuleStore

    try:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=timeout,
                                      socket_timeout=timeout)
        try:
            deployment = RuleStore(client).current()
        finally:
            client.close()
    except (redis.exceptions.RedisError, OSError) as exc:
        return load_rules(), f"packaged library (Redis at {redis_url} unreachable: {exc})"
    if deployment is None:
        return load_rules(), "packaged library (nothing deployed yet)"
    try:
        return load_rules(dict(deployment.sources)), f"deployed v{deployment.version} by {deployment.author}"
    except RuleSetInvalid as exc:
        return load_rules(), (f"packaged library (deployed v{deployment.version} no longer "
                              f"loads: {len(exc.problems)} problem(s))")


# ---- merging the rule sets ------------------------------------------------------------------


def merged_rules(candidate: RuleSet, live: RuleSet) -> tuple[RuleSet, dict[str, str]]:
    """One rule set holding every candidate rule plus each live rule that differs from the
    candidate's rule of the same id, renamed ``live~<id>``; and {live rule id: detector id its
    results carry}."""
    rules = list(candidate.rules)
    by_id = candidate.by_id
    aliases: dict[str, str] = {}
    for rule in live.rules:
        twin = by_id.get(rule.id)
        if twin is not None and twin.spec == rule.spec:
            aliases[rule.id] = rule.id
            continue
        alias = LIVE_TAG + rule.id
        rules.append(replace(rule, spec=rule.spec.model_copy(update={"id": alias})))
        aliases[rule.id] = alias
    return RuleSet(tuple(rules), f"{candidate.fingerprint}+{live.fingerprint}"), aliases


# ---- the backtest ----------------------------------------------------------------------------


def backtest(lines: Iterable[str], candidate: RuleSet, live: RuleSet, *,
             labels: Mapping[str, str] | None = None, live_source: str = "",
             examples: int = 5) -> BacktestReport:
    """Replay ``lines`` (JSONL envelopes) once through both rule sets and score them."""
    merged, aliases = merged_rules(candidate, live)
    scoring = _Scoring(candidate, live, aliases, labels or {}, examples)
    for record in final_records(replay_lines(lines, rules=merged)):
        if isinstance(record, InvalidLine):
            scoring.invalid += 1
        else:
            scoring.add(record)
    return scoring.report(has_labels=labels is not None, live_source=live_source)


@dataclass
class _Tally:
    hits: int = 0
    labelled_hits: int = 0
    target_hits: int = 0
    target_events: int = 0
    errors: int = 0
    examples: list[str] = field(default_factory=list)


class _Scoring:
    """What one replay pass counts: per rule its candidate and live versions' tallies and where
    they differ, per scenario what the enforced sets catch, and the sample's events by type."""

    def __init__(self, candidate: RuleSet, live: RuleSet, aliases: Mapping[str, str],
                 truth: Mapping[str, str], examples: int) -> None:
        self.candidate, self.live, self.aliases = candidate, live, aliases
        self.truth, self.examples = truth, examples
        self.cand_rules, self.live_rules = candidate.by_id, live.by_id
        self.ids = sorted(set(self.cand_rules) | set(self.live_rules))
        # Both versions of a rule are scored against the same abuse categories (the candidate's,
        # or the live one's for a removed rule), so their recalls compare.
        self.targets = {rule_id: frozenset(
            (self.cand_rules.get(rule_id) or self.live_rules[rule_id]).spec.labels)
            for rule_id in self.ids}
        self.cand = {rule_id: _Tally() for rule_id in self.ids}
        self.old = {rule_id: _Tally() for rule_id in self.ids}
        self.only_c = {rule_id: _Tally() for rule_id in self.ids}
        self.only_l = {rule_id: _Tally() for rule_id in self.ids}
        self.scenario_events: dict[str, int] = {}
        self.scenario_caught: dict[str, int] = {}
        self.scenario_live: dict[str, int] = {}
        self.events_by_type: dict[str, int] = {}
        self.events = self.invalid = self.labelled_events = 0
        self.flagged = self.live_flagged = self.flagged_labelled = self.live_flagged_labelled = 0

    def add(self, record: Mapping[str, Any]) -> None:
        """Count one replayed event's results."""
        self.events += 1
        event_id, event_type = record["event_id"], record["type"]
        self.events_by_type[event_type] = self.events_by_type.get(event_type, 0) + 1
        scenario = self.truth.get(event_id)
        if scenario is not None:
            self.labelled_events += 1
            self.scenario_events[scenario] = self.scenario_events.get(scenario, 0) + 1
        results = {r["detector_id"]: r for r in record["results"]}
        any_enforce = any_live_enforce = False
        for rule_id in self.ids:
            enforced, live_enforced = self._add_rule(rule_id, event_id, event_type, results, scenario)
            any_enforce |= enforced
            any_live_enforce |= live_enforced
        self.flagged += any_enforce
        self.live_flagged += any_live_enforce
        self.flagged_labelled += any_enforce and scenario is not None
        self.live_flagged_labelled += any_live_enforce and scenario is not None
        if scenario is not None:
            self.scenario_caught[scenario] = self.scenario_caught.get(scenario, 0) + any_enforce
            self.scenario_live[scenario] = self.scenario_live.get(scenario, 0) + any_live_enforce

    def _add_rule(self, rule_id: str, event_id: str, event_type: str,
                  results: Mapping[str, Mapping[str, Any]], scenario: str | None) -> tuple[bool, bool]:
        """Count one rule's result on one event; returns whether its candidate and its live
        version each fired in enforce mode."""
        c_rule, l_rule = self.cand_rules.get(rule_id), self.live_rules.get(rule_id)
        c_fired = l_fired = enforced = live_enforced = False
        if c_rule is not None and event_type in c_rule.spec.event_types:
            result = results.get(rule_id, {})
            c_fired = bool(result.get("fired"))
            _count(self.cand[rule_id], self.targets[rule_id], result, c_fired, scenario)
            enforced = c_fired and c_rule.spec.mode == "enforce"
        if l_rule is not None and event_type in l_rule.spec.event_types:
            result = results.get(self.aliases[rule_id], {})
            l_fired = bool(result.get("fired"))
            _count(self.old[rule_id], self.targets[rule_id], result, l_fired, scenario)
            live_enforced = l_fired and l_rule.spec.mode == "enforce"
        if c_fired and not l_fired:
            _note(self.only_c[rule_id], event_id, self.examples)
        elif l_fired and not c_fired:
            _note(self.only_l[rule_id], event_id, self.examples)
        return enforced, live_enforced

    def report(self, *, has_labels: bool, live_source: str) -> BacktestReport:
        scenarios = tuple(
            ScenarioRow(name, n, self.scenario_caught.get(name, 0), self.scenario_live.get(name, 0))
            for name, n in sorted(self.scenario_events.items())
        )
        return BacktestReport(
            events=self.events, invalid=self.invalid, labelled=has_labels,
            labelled_events=self.labelled_events, candidate_fingerprint=self.candidate.fingerprint,
            live_fingerprint=self.live.fingerprint, live_source=live_source,
            rows=tuple(self._row(rule_id, has_labels) for rule_id in self.ids),
            scenarios=scenarios, flagged=self.flagged, live_flagged=self.live_flagged,
            flagged_labelled=self.flagged_labelled,
            live_flagged_labelled=self.live_flagged_labelled,
            events_by_type=dict(sorted(self.events_by_type.items())),
        )

    def _row(self, rule_id: str, has_labels: bool) -> RuleRow:
        c_rule, l_rule = self.cand_rules.get(rule_id), self.live_rules.get(rule_id)
        shown = c_rule or l_rule
        assert shown is not None
        mode = shown.spec.mode
        c, l_ = self.cand[rule_id], self.old[rule_id]
        return RuleRow(
            rule_id=rule_id, status=_status(c_rule, l_rule), mode=mode,
            live_mode=l_rule.spec.mode if l_rule else None,
            version=c_rule.spec.version if c_rule else None,
            live_version=l_rule.spec.version if l_rule else None,
            labels=tuple(shown.spec.labels),
            enforce_hits=c.hits if c_rule and mode == "enforce" else 0,
            shadow_hits=c.hits if c_rule and mode == "shadow" else 0,
            labelled_hits=c.labelled_hits, target_hits=c.target_hits,
            # Recall's denominator comes from whichever side defines the rule's labels.
            target_events=c.target_events, live_target_events=l_.target_events,
            errors=c.errors, live_hits=l_.hits, live_labelled_hits=l_.labelled_hits,
            live_target_hits=l_.target_hits,
            only_candidate=self.only_c[rule_id].hits, only_live=self.only_l[rule_id].hits,
            only_candidate_examples=tuple(self.only_c[rule_id].examples),
            only_live_examples=tuple(self.only_l[rule_id].examples),
            has_labels=has_labels,
            type_events=sum(self.events_by_type.get(t, 0) for t in c_rule.spec.event_types)
            if c_rule else 0,
        )


def _status(candidate: CompiledRule | None, live: CompiledRule | None) -> str:
    if live is None:
        return "added"
    if candidate is None:
        return "removed"
    if candidate.spec.version != live.spec.version:
        return "changed"
    return "unchanged" if candidate.spec == live.spec else "edited"


def _count(tally: _Tally, labels: frozenset[str], result: Mapping[str, Any], fired: bool,
           scenario: str | None) -> None:
    if str(result.get("skipped", "")).startswith("error"):
        tally.errors += 1
    targeted = scenario is not None and scenario in labels
    tally.target_events += targeted
    if fired:
        tally.hits += 1
        tally.labelled_hits += scenario is not None
        tally.target_hits += targeted


def _note(tally: _Tally, event_id: str, keep: int) -> None:
    tally.hits += 1
    if len(tally.examples) < keep:
        tally.examples.append(event_id)


def backtest_file(events: Path, candidate: RuleSet, live: RuleSet, *,
                  labels: Path | None = None, live_source: str = "") -> BacktestReport:
    truth = read_labels(labels.read_text(encoding="utf-8").splitlines()) if labels else None
    with events.open("rb") as raw:
        digest = hashlib.file_digest(raw, "sha256").hexdigest()
    with events.open(encoding="utf-8") as handle:
        report = backtest(handle, candidate, live, labels=truth, live_source=live_source)
    return replace(report, sample=str(events), sample_sha256=digest)


# ---- what a deploy records -------------------------------------------------------------------


def expectation_from_report(report: Mapping[str, Any], candidate: RuleSet) -> BacktestExpectation:
    """What ``candidate`` is expected to do live, from a backtest report of it (``as_dict()``,
    or the JSON ``vigil rules backtest --json`` saved).

    Per rule that runs (mode ``off`` rules expect nothing): its hits and the sample's events of
    its event types. Raises ValueError if the report is of another rule set (its candidate
    fingerprint differs) or lacks per-type event counts (written by an older Vigil).
    """
    fingerprint = report.get("candidate_fingerprint")
    if fingerprint != candidate.fingerprint:
        raise ValueError(f"the backtest report is of rule set {fingerprint}, not of the one being "
                         f"deployed ({candidate.fingerprint}); backtest these rules again")
    by_type = report.get("events_by_type")
    if not isinstance(by_type, Mapping):
        raise ValueError("the backtest report has no event counts per type (written by an older "
                         "Vigil); run the backtest again")
    rows = {row["rule_id"]: row for row in report.get("rules", ())}
    expected: dict[str, RuleExpectation] = {}
    for rule in candidate.rules:
        if rule.spec.mode == "off":
            continue
        row = rows.get(rule.id)
        if row is None:
            raise ValueError(f"the backtest report has no row for rule {rule.id}")
        expected[rule.id] = RuleExpectation(
            mode=rule.spec.mode, hits=int(row["enforce_hits"]) + int(row["shadow_hits"]),
            events=sum(int(by_type.get(t, 0)) for t in rule.spec.event_types))
    return BacktestExpectation(
        fingerprint=candidate.fingerprint, sample=str(report.get("sample", "")),
        sample_sha256=str(report.get("sample_sha256", "")), events=int(report["events"]),
        invalid=int(report.get("invalid_lines", 0)),
        events_by_type={str(k): int(v) for k, v in by_type.items()}, rules=expected)


def backtest_expectation(events: Path, candidate: RuleSet) -> BacktestExpectation:
    """Backtest ``candidate`` on the JSONL sample ``events`` and return what a deploy records.

    The sample runs through the candidate alone (no live set to compare with: only the
    candidate's figures are recorded).
    """
    report = backtest_file(events, candidate, candidate, live_source="the candidate itself")
    return expectation_from_report(report.as_dict(), candidate)
