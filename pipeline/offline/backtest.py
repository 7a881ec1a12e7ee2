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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from detectors.errors import RuleSetInvalid
from detectors.ruleset import RuleSet, load_rules
from pipeline.offline.replay import InvalidLine, replay_lines
from pipeline.rules.records import BacktestExpectation, RuleExpectation

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


# ---- the report ------------------------------------------------------------------------------


@dataclass
class _Tally:
    hits: int = 0
    labelled_hits: int = 0
    target_hits: int = 0
    target_events: int = 0
    errors: int = 0
    examples: list[str] = field(default_factory=list)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class RuleRow:
    """One rule's line in the backtest: the candidate's figures, the live version's, the diff."""

    rule_id: str
    #: ``added`` (candidate only), ``removed`` (live only), ``changed`` (version differs),
    #: ``edited`` (content differs, same version) or ``unchanged``.
    status: str
    mode: str
    live_mode: str | None
    version: int | None
    live_version: int | None
    labels: tuple[str, ...]
    enforce_hits: int
    shadow_hits: int
    labelled_hits: int
    target_hits: int
    target_events: int
    errors: int
    live_hits: int
    live_labelled_hits: int
    live_target_hits: int
    live_target_events: int
    only_candidate: int
    only_live: int
    only_candidate_examples: tuple[str, ...] = ()
    only_live_examples: tuple[str, ...] = ()
    has_labels: bool = True
    #: Valid events of the candidate rule's event types in the sample.
    type_events: int = 0

    @property
    def hits(self) -> int:
        return self.enforce_hits + self.shadow_hits

    @property
    def hit_ratio(self) -> float | None:
        """The candidate's hits per event of its event types (None: none in the sample)."""
        return _ratio(self.hits, self.type_events)

    @property
    def precision(self) -> float | None:
        return _ratio(self.labelled_hits, self.hits) if self.has_labels else None

    @property
    def recall(self) -> float | None:
        return _ratio(self.target_hits, self.target_events) if self.has_labels else None

    @property
    def live_precision(self) -> float | None:
        return _ratio(self.live_labelled_hits, self.live_hits) if self.has_labels else None

    @property
    def live_recall(self) -> float | None:
        return _ratio(self.live_target_hits, self.live_target_events) if self.has_labels else None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("has_labels")
        out.update(hits=self.hits, precision=self.precision, recall=self.recall,
                   live_precision=self.live_precision, live_recall=self.live_recall,
                   hit_ratio=self.hit_ratio)
        return out


@dataclass(frozen=True)
class ScenarioRow:
    """How much of one labelled scenario the enforced rules catch (any rule, any event type)."""

    scenario: str
    events: int
    caught: int
    live_caught: int

    @property
    def recall(self) -> float | None:
        return _ratio(self.caught, self.events)

    @property
    def live_recall(self) -> float | None:
        return _ratio(self.live_caught, self.events)


@dataclass(frozen=True)
class BacktestReport:
    events: int
    invalid: int
    labelled: bool
    labelled_events: int
    candidate_fingerprint: str
    live_fingerprint: str
    live_source: str
    rows: tuple[RuleRow, ...]
    scenarios: tuple[ScenarioRow, ...]
    #: Events at least one enforced rule flags (these would open or join cases).
    flagged: int
    live_flagged: int
    flagged_labelled: int
    live_flagged_labelled: int
    #: Valid events per event type: the denominators of the rules' hit ratios.
    events_by_type: Mapping[str, int] = field(default_factory=dict)
    #: The events file replayed and its SHA-256 (empty for lines not read from a file).
    sample: str = ""
    sample_sha256: str = ""

    def row(self, rule_id: str) -> RuleRow:
        for row in self.rows:
            if row.rule_id == rule_id:
                return row
        raise KeyError(rule_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events, "invalid_lines": self.invalid, "labelled": self.labelled,
            "labelled_events": self.labelled_events,
            "candidate_fingerprint": self.candidate_fingerprint,
            "live_fingerprint": self.live_fingerprint, "live_source": self.live_source,
            "flagged": self.flagged, "live_flagged": self.live_flagged,
            "flagged_labelled": self.flagged_labelled,
            "live_flagged_labelled": self.live_flagged_labelled,
            "events_by_type": dict(self.events_by_type), "sample": self.sample,
            "sample_sha256": self.sample_sha256,
            "rules": [row.as_dict() for row in self.rows],
            "scenarios": [{**asdict(s), "recall": s.recall, "live_recall": s.live_recall}
                          for s in self.scenarios],
        }


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


def _status(candidate: Any, live: Any) -> str:
    if live is None:
        return "added"
    if candidate is None:
        return "removed"
    if candidate.spec.version != live.spec.version:
        return "changed"
    return "unchanged" if candidate.spec == live.spec else "edited"


def backtest(lines: Iterable[str], candidate: RuleSet, live: RuleSet, *,
             labels: Mapping[str, str] | None = None, live_source: str = "",
             examples: int = 5) -> BacktestReport:
    """Replay ``lines`` (JSONL envelopes) once through both rule sets and score them."""
    merged, aliases = merged_rules(candidate, live)
    cand_rules, live_rules = candidate.by_id, live.by_id
    ids = sorted(set(cand_rules) | set(live_rules))
    # Both versions of a rule are scored against the same abuse categories (the candidate's,
    # or the live one's for a removed rule), so their recalls compare.
    targets = {rule_id: frozenset((cand_rules.get(rule_id) or live_rules[rule_id]).spec.labels)
               for rule_id in ids}
    cand = {rule_id: _Tally() for rule_id in ids}
    old = {rule_id: _Tally() for rule_id in ids}
    only_c = {rule_id: _Tally() for rule_id in ids}
    only_l = {rule_id: _Tally() for rule_id in ids}
    scenario_events: dict[str, int] = {}
    scenario_caught: dict[str, int] = {}
    scenario_live: dict[str, int] = {}
    events_by_type: dict[str, int] = {}
    events = invalid = labelled_events = 0
    flagged = live_flagged = flagged_labelled = live_flagged_labelled = 0
    truth = labels or {}

    for record in replay_lines(lines, rules=merged):
        if isinstance(record, InvalidLine):
            invalid += 1
            continue
        events += 1
        event_id, event_type = record["event_id"], record["type"]
        events_by_type[event_type] = events_by_type.get(event_type, 0) + 1
        scenario = truth.get(event_id)
        if scenario is not None:
            labelled_events += 1
            scenario_events[scenario] = scenario_events.get(scenario, 0) + 1
        results = {r["detector_id"]: r for r in record["results"]}
        any_enforce = any_live_enforce = False
        for rule_id in ids:
            c_rule, l_rule = cand_rules.get(rule_id), live_rules.get(rule_id)
            c_fired = l_fired = False
            if c_rule is not None and event_type in c_rule.spec.event_types:
                result = results.get(rule_id, {})
                c_fired = bool(result.get("fired"))
                _count(cand[rule_id], targets[rule_id], result, c_fired, scenario)
                any_enforce |= c_fired and c_rule.spec.mode == "enforce"
            if l_rule is not None and event_type in l_rule.spec.event_types:
                result = results.get(aliases[rule_id], {})
                l_fired = bool(result.get("fired"))
                _count(old[rule_id], targets[rule_id], result, l_fired, scenario)
                any_live_enforce |= l_fired and l_rule.spec.mode == "enforce"
            if c_fired and not l_fired:
                _note(only_c[rule_id], event_id, examples)
            elif l_fired and not c_fired:
                _note(only_l[rule_id], event_id, examples)
        flagged += any_enforce
        live_flagged += any_live_enforce
        flagged_labelled += any_enforce and scenario is not None
        live_flagged_labelled += any_live_enforce and scenario is not None
        if scenario is not None:
            scenario_caught[scenario] = scenario_caught.get(scenario, 0) + any_enforce
            scenario_live[scenario] = scenario_live.get(scenario, 0) + any_live_enforce

    rows = []
    for rule_id in ids:
        c_rule, l_rule = cand_rules.get(rule_id), live_rules.get(rule_id)
        shown = c_rule or l_rule
        assert shown is not None
        mode = shown.spec.mode
        c, l_ = cand[rule_id], old[rule_id]
        rows.append(RuleRow(
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
            only_candidate=only_c[rule_id].hits, only_live=only_l[rule_id].hits,
            only_candidate_examples=tuple(only_c[rule_id].examples),
            only_live_examples=tuple(only_l[rule_id].examples),
            has_labels=labels is not None,
            type_events=sum(events_by_type.get(t, 0) for t in c_rule.spec.event_types)
            if c_rule else 0,
        ))
    scenarios = tuple(
        ScenarioRow(name, n, scenario_caught.get(name, 0), scenario_live.get(name, 0))
        for name, n in sorted(scenario_events.items())
    )
    return BacktestReport(
        events=events, invalid=invalid, labelled=labels is not None,
        labelled_events=labelled_events, candidate_fingerprint=candidate.fingerprint,
        live_fingerprint=live.fingerprint, live_source=live_source, rows=tuple(rows),
        scenarios=scenarios, flagged=flagged, live_flagged=live_flagged,
        flagged_labelled=flagged_labelled, live_flagged_labelled=live_flagged_labelled,
        events_by_type=dict(sorted(events_by_type.items())),
    )


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


# ---- rendering -------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def share(value: float | None) -> str:
    """A hit ratio as a percentage with 3 significant digits (rule ratios span 0.01 %-50 %).

    >>> share(0.000267), share(0.5), share(0.0), share(None)
    ('0.0267%', '50%', '0%', '-')
    """
    return "-" if value is None else f"{value * 100:.3g}%"


def render(report: BacktestReport, console: Console) -> None:
    """The report as rich tables: one row per rule, then (with labels) per scenario."""
    table = Table(title="Backtest: candidate rule set vs live", title_justify="left")
    table.add_column("rule", overflow="fold")
    for name, justify in [("change", "left"), ("mode", "left"),
                          ("enforce hits", "right"), ("shadow hits", "right"),
                          ("hits/event", "right"),
                          ("precision", "right"), ("recall", "right"), ("live hits", "right"),
                          ("only candidate", "right"), ("only live", "right"),
                          ("errors", "right")]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in report.rows:
        change = row.status
        if row.status == "changed":
            change = f"changed v{row.live_version}→v{row.version}"
        elif row.status == "edited":
            change = f"[yellow]edited, still v{row.version}[/]"
        if row.live_mode and row.mode != row.live_mode and row.status != "removed":
            change += f" ({row.live_mode}→{row.mode})"
        mode = "[magenta]shadow[/]" if row.mode == "shadow" else row.mode
        diff_style = "" if row.only_candidate == row.only_live == 0 else "bold "
        table.add_row(
            row.rule_id, change, mode,
            str(row.enforce_hits) if row.status != "removed" else "-",
            str(row.shadow_hits) if row.status != "removed" else "-",
            share(row.hit_ratio) if row.status != "removed" else "-",
            _pct(row.precision) if row.status != "removed" else _pct(row.live_precision),
            _pct(row.recall) if row.status != "removed" else _pct(row.live_recall),
            str(row.live_hits) if row.status != "added" else "-",
            f"[{diff_style}green]{row.only_candidate}[/]" if diff_style else "0",
            f"[{diff_style}red]{row.only_live}[/]" if diff_style else "0",
            f"[red]{row.errors}[/]" if row.errors else "0",
        )
    table.caption = (
        f"{report.events} events ({report.invalid} invalid line(s) skipped) · candidate "
        f"{report.candidate_fingerprint} · live {report.live_fingerprint} = {report.live_source} · "
        f"{report.flagged} event(s) flagged by enforced candidate rules, {report.live_flagged} by live"
        " · hits/event: per event of the rule's own types (what a deploy records)"
        + ("" if report.labelled else " · no labels: precision and recall need --labels")
    )
    console.print(table)
    if not report.labelled:
        return
    coverage = Table(title="Labelled scenarios caught by enforced rules (any event type)",
                     title_justify="left")
    for name in ("scenario", "events", "caught", "recall", "live recall"):
        coverage.add_column(name, justify="left" if name == "scenario" else "right")
    for s in report.scenarios:
        coverage.add_row(s.scenario, str(s.events), str(s.caught), _pct(s.recall), _pct(s.live_recall))
    precision = _ratio(report.flagged_labelled, report.flagged)
    coverage.caption = (f"{report.labelled_events} labelled event(s); precision of the enforced set "
                        f"{_pct(precision)} (live {_pct(_ratio(report.live_flagged_labelled, report.live_flagged))})")
    console.print(coverage)
