"""The transparency report (``vigil report transparency``), from the audit log alone.

What the EU DSA's transparency reports ask of a platform's own moderation (Art. 15 and 24):
actions taken, by policy ground and by the type of what was acted on; how many were detected and
how many decided by automated means; appeals filed and how they ended; the median time to a
decision. Every figure is a count over ``vigil:audit`` entries in the window (``decide`` with
the actions its decision took, ``auto_action``, ``appeal_filed``), so the report is what the log
says, nothing kept elsewhere. :func:`tally` is pure; :func:`read_audit` reads the stream.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from redis import Redis


@dataclass
class Report:
    start: str
    end: str
    #: Actions taken (not reversals), by (policy ground, entity type, action).
    actions: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    restrictive: int = 0
    automated_detection: int = 0
    automated_decision: int = 0
    reversals: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    appeals_filed: int = 0
    appeals_upheld: int = 0
    appeals_reversed: int = 0
    #: Median hours from a case opening to its final decision (detection cases; appeals apart).
    median_hours_to_decision: float | None = None
    median_hours_to_appeal_decision: float | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["actions"] = [{"policy_ground": g, "entity_type": t, "action": a, "count": n}
                          for (g, t, a), n in sorted(self.actions.items())]
        out["actions_total"] = sum(self.actions.values())
        out["decisions"] = dict(sorted(self.decisions.items()))
        return out

    def as_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n"

    def as_csv(self) -> str:
        """One row per figure: ``metric, policy_ground, entity_type, action, value``."""
        buffer = io.StringIO()
        rows = csv.writer(buffer, lineterminator="\n")
        rows.writerow(["metric", "policy_ground", "entity_type", "action", "value"])
        for (ground, kind, action), n in sorted(self.actions.items()):
            rows.writerow(["actions", ground, kind, action, n])
        for name, value in self.as_dict().items():
            if name in ("actions", "decisions", "start", "end"):
                continue
            rows.writerow([name, "", "", "", "" if value is None else value])
        for outcome, n in sorted(self.decisions.items()):
            rows.writerow([f"decisions_{outcome}", "", "", "", n])
        return buffer.getvalue()


def _hours(decision: Mapping[str, Any]) -> float | None:
    opened, decided = decision.get("opened_at"), decision.get("decided_at")
    if not opened or not decided:
        return None
    span = datetime.fromisoformat(decided) - datetime.fromisoformat(opened)
    return span.total_seconds() / 3600


def _count_actions(report: Report, actions: Iterable[Mapping[str, Any]], ground: str) -> None:
    for a in actions:
        if a.get("kind") == "reverse":
            report.reversals += 1
            continue
        report.actions[(ground, str(a["entity_type"]), str(a["action"]))] += 1
        report.restrictive += bool(a.get("restrictive"))
        report.automated_detection += bool(a.get("automated_detection"))
        report.automated_decision += bool(a.get("automated_decision"))


def tally(entries: Iterable[Mapping[str, Any]], start: str, end: str) -> Report:
    """The report of audit ``entries`` (``{"action", "details"}``, already in the window)."""
    report = Report(start, end)
    hours: list[float] = []
    appeal_hours: list[float] = []
    for entry in entries:
        details = entry.get("details") or {}
        if entry["action"] == "decide":
            report.decisions[str(details.get("outcome"))] += 1
            _count_actions(report, details.get("actions", []), str(details.get("policy_reason", "")))
            appeal = details.get("appeal")
            report.appeals_upheld += appeal == "upheld"
            report.appeals_reversed += appeal == "reversed"
            took = _hours(details) if details.get("outcome") != "escalate" else None
            if took is not None:
                (appeal_hours if appeal else hours).append(took)
        elif entry["action"] == "auto_action":
            _count_actions(report, [details], str(details.get("policy_reason", "")))
        elif entry["action"] == "appeal_filed":
            report.appeals_filed += 1
    report.median_hours_to_decision = round(statistics.median(hours), 3) if hours else None
    report.median_hours_to_appeal_decision = (round(statistics.median(appeal_hours), 3)
                                              if appeal_hours else None)
    return report


def read_audit(redis: Redis, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The audit entries recorded in ``[start, end)`` (by the stream's own ids: the time Redis
    appended each), details parsed."""
    lo, hi = int(start.timestamp() * 1000), int(end.timestamp() * 1000) - 1
    out = []
    last = f"{lo}-0"
    while True:
        batch = redis.xrange("vigil:audit", min=last, max=f"{hi}-18446744073709551615", count=1000)
        for entry_id, fields in batch:
            values = {k.decode(): v.decode() for k, v in fields.items()}
            out.append({"id": entry_id.decode(), "action": values.get("action", ""),
                        "details": json.loads(values.get("details") or "{}")})
        if len(batch) < 1000:
            return out
        last = "(" + batch[-1][0].decode()
