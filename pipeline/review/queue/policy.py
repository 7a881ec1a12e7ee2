"""The queue's rules without Redis: statuses, outcomes, SLA state, decision checks and settings.

Priority is ``base - age_weight * created_at / 3600`` in a sorted set, where ``base`` comes from
severity, the highest score, reports and flags (``lua/priority.lua`` computes it, the only place
that does): ordering by it equals ordering by ``base + age_weight * age_hours`` at any moment, so
age raises priority without rescoring. :meth:`QueueConfig.priority` gives that value at a moment,
for showing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from detectors.results import SEVERITY_RANK
from pipeline.review.queue.errors import InvalidDecision
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

DEFAULT_POLICY_REASONS = (
    "off_platform_payment", "payment_fraud", "fake_account", "account_takeover", "spam",
    "phishing", "harassment", "prohibited_content", "ai_policy_violation", "other_policy_violation",
)


def _duration(text: str) -> int:
    from detectors.rule import parse_duration
    return parse_duration(text.strip())


@dataclass(frozen=True)
class QueueConfig:
    """SLA, lease and priority weights. :meth:`from_env` reads ``VIGIL_REVIEW_*``."""

    #: Seconds from a flag joining a case to the decision being due, per severity.
    sla_seconds: Mapping[str, int] = field(default_factory=lambda: {
        "critical": 3600, "high": 4 * 3600, "medium": 24 * 3600, "low": 72 * 3600})
    #: An open case is ``due_soon`` when less than this share of its SLA is left.
    due_soon_fraction: float = 0.25
    lease_seconds: int = 900
    severity_weight: float = 1000.0
    score_weight: float = 500.0
    report_weight: float = 200.0
    report_cap: int = 5
    flag_weight: float = 10.0
    flag_cap: int = 20
    #: Priority points an open case gains per hour of waiting.
    age_weight_per_hour: float = 25.0
    policy_reasons: tuple[str, ...] = DEFAULT_POLICY_REASONS
    #: How long per-minute series are kept.
    series_retention_seconds: int = 2 * 86400

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> QueueConfig:
        """``VIGIL_REVIEW_SLA=critical=1h,high=4h,medium=24h,low=72h``, ``VIGIL_REVIEW_LEASE=15m``,
        ``VIGIL_REVIEW_POLICY_REASONS=a,b,c``.

        >>> QueueConfig.from_env({"VIGIL_REVIEW_SLA": "critical=30m", "VIGIL_REVIEW_LEASE": "5m"}).sla_seconds["critical"]
        1800
        """
        env = os.environ if env is None else env
        base = cls()
        sla = dict(base.sla_seconds)
        for item in filter(None, (env.get("VIGIL_REVIEW_SLA") or "").split(",")):
            name, _, value = item.partition("=")
            if name.strip() not in SEVERITY_RANK:
                raise ValueError(f"VIGIL_REVIEW_SLA: unknown severity {name.strip()!r}")
            sla[name.strip()] = _duration(value)
        reasons = tuple(r.strip() for r in (env.get("VIGIL_REVIEW_POLICY_REASONS") or "").split(",")
                        if r.strip()) or base.policy_reasons
        lease = env.get("VIGIL_REVIEW_LEASE")
        return cls(sla_seconds=sla, lease_seconds=_duration(lease) if lease else base.lease_seconds,
                   policy_reasons=reasons)

    def weights(self) -> list[float]:
        """The weights ``lua/priority.lua`` reads, in its order."""
        return [self.severity_weight, self.score_weight, self.report_weight, self.report_cap,
                self.flag_weight, self.flag_cap, self.age_weight_per_hour]

    def priority(self, base: float, created_at: float, now: float) -> float:
        """An open case's priority at ``now``: its base and the points its waiting earned.

        >>> QueueConfig().priority(4000.0, created_at=0.0, now=7200.0)
        4050.0
        """
        return base + self.age_weight_per_hour * max(0.0, now - created_at) / 3600

    def sla_state(self, due_at: float, severity: str, now: float) -> str:
        """``breached`` past the due time, ``due_soon`` in the last share of the SLA, else ``ok``.

        >>> QueueConfig().sla_state(due_at=1000.0, severity="critical", now=999.0)
        'due_soon'
        >>> QueueConfig().sla_state(due_at=1000.0, severity="critical", now=1000.0)
        'breached'
        """
        left = due_at - now
        if left <= 0:
            return "breached"
        if left < self.due_soon_fraction * self.sla_seconds.get(severity, 86400):
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
