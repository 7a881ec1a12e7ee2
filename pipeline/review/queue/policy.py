"""The queue's rules without Redis: statuses, outcomes, priority, SLA state, decision checks.

Priority is ``base - age_weight * created_at / 3600`` in a sorted set, where ``base`` comes from
severity, the highest score, reports and flags (``lua/priority.lua`` computes it, the only place
that does): ordering by it equals ordering by ``base + age_weight * age_hours`` at any moment, so
age raises priority without rescoring. :func:`priority` gives that value at a moment, for
showing. The weights, SLA and reasons are settings (:class:`pipeline.settings.QueueSettings`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from detectors.results import SEVERITY_RANK
from pipeline.review.queue.errors import InvalidDecision
from pipeline.settings import (
    DEFAULT_POLICY_REASONS as DEFAULT_POLICY_REASONS,  # re-exported
)
from pipeline.settings import QueueSettings
from schemas.outputs import Flag

SEVERITY_NAME = {rank: name for name, rank in SEVERITY_RANK.items()}
STATUSES = ("open", "escalated", "closed")
OUTCOMES = ("confirmed_fraud", "legitimate", "escalate")
SLA_STATES = ("ok", "due_soon", "breached")
REPORT_DETECTOR = "report.user_report"
REPORT_EVENT = "user_report.filed"
#: A decision event names at most this many events (the contract's limit).
MAX_EVENT_IDS = 1000

Outcome = Literal["confirmed_fraud", "legitimate", "escalate"]

def priority_weights(config: QueueSettings) -> list[float]:
    """The weights ``lua/priority.lua`` reads, in its order."""
    return [config.severity_weight, config.score_weight, config.report_weight, config.report_cap,
            config.flag_weight, config.flag_cap, config.age_weight_per_hour]


def priority(config: QueueSettings, base: float, created_at: float, now: float) -> float:
    """An open case's priority at ``now``: its base and the points its waiting earned.

    >>> priority(QueueSettings(), 4000.0, created_at=0.0, now=7200.0)
    4050.0
    """
    return base + config.age_weight_per_hour * max(0.0, now - created_at) / 3600


def sla_state(config: QueueSettings, due_at: float, severity: str, now: float) -> str:
    """``breached`` past the due time, ``due_soon`` in the last share of the SLA, else ``ok``.
    ``severity`` ``appeal``: an appeal case's SLA (``VIGIL_REVIEW_APPEAL_SLA``).

    >>> sla_state(QueueSettings(), due_at=1000.0, severity="critical", now=999.0)
    'due_soon'
    >>> sla_state(QueueSettings(), due_at=1000.0, severity="critical", now=1000.0)
    'breached'
    """
    left = due_at - now
    if left <= 0:
        return "breached"
    sla = (config.appeal_sla_seconds if severity == "appeal"
           else config.sla_seconds.get(severity, 86400))
    if left < config.due_soon_fraction * sla:
        return "due_soon"
    return "ok"


def validate_decision(outcome: str, policy_reason: str, policy_reasons: tuple[str, ...]) -> None:
    """Raise :class:`InvalidDecision` unless the outcome is known and names a known reason when
    it must (``confirmed_fraud``) or does.

    >>> validate_decision("legitimate", "", DEFAULT_POLICY_REASONS)
    >>> validate_decision("confirmed_fraud", "", ("spam",))
    Traceback (most recent call last):
    ...
    pipeline.review.queue.errors.InvalidDecision: confirmed_fraud needs a policy_reason, one of spam
    """
    if outcome not in OUTCOMES:
        raise InvalidDecision(f"outcome must be one of {', '.join(OUTCOMES)}")
    if outcome == "confirmed_fraud" and not policy_reason:
        raise InvalidDecision("confirmed_fraud needs a policy_reason, one of "
                              + ", ".join(policy_reasons))
    if policy_reason and policy_reason not in policy_reasons:
        raise InvalidDecision(f"unknown policy_reason {policy_reason!r}; use one of "
                              + ", ".join(policy_reasons))


def iso(ts: float | None) -> str | None:
    """Epoch seconds as RFC 3339 UTC (None stays None).

    >>> iso(0)
    '1970-01-01T00:00:00Z'
    """
    if ts is None:
        return None
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace(".000+00:00", "Z").replace("+00:00", "Z")


def is_report(flag: Flag) -> bool:
    return flag.detector_id == REPORT_DETECTOR or flag.event_type == REPORT_EVENT


def minute_of(ts: float) -> str:
    """The per-minute series bucket ``ts`` falls in.

    >>> minute_of(125.5)
    '120'
    """
    return str(int(ts // 60) * 60)
