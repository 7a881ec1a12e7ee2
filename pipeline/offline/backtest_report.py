"""The backtest's report: per rule and per labelled scenario, as numbers (:class:`BacktestReport`,
``as_dict()`` for ``--json``) and as rich tables (:func:`render`).

:mod:`pipeline.offline.backtest` runs the backtest that fills it in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table


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
