"""What a rule deploy records, as plain data: deployments, what their backtests expect, diffs.

Pure: no Redis, no Prometheus. :mod:`pipeline.rules.store` writes these records and
:mod:`pipeline.rules.live` reads them back in the workers; the offline backtest builds
:class:`BacktestExpectation` from its report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from detectors.ruleset import RuleSet
from schemas.errors import VigilError

Action = Literal["deploy", "rollback"]


@dataclass(frozen=True)
class RuleExpectation:
    """What one rule did on a backtest sample."""

    mode: str
    hits: int
    #: Valid events of the rule's event types in the sample: the hit ratio's denominator.
    events: int

    @property
    def hit_ratio(self) -> float | None:
        """Hits per event of the rule's types; None if the sample held none of them."""
        return self.hits / self.events if self.events else None

    def as_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "hits": self.hits, "events": self.events,
                "hit_ratio": self.hit_ratio}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleExpectation:
        return cls(mode=str(data["mode"]), hits=int(data["hits"]), events=int(data["events"]))


@dataclass(frozen=True)
class BacktestExpectation:
    """What a rule set did on a traffic sample, recorded with its deployment.

    ``rules`` covers every rule of the set that runs (mode ``off`` rules run nowhere, so expect
    nothing). The sample's size and events per type stay with it, so a tiny sample, or one
    without a rule's event types, is recognised as such.
    """

    #: Fingerprint of the rule set the backtest ran; a deploy refuses any other.
    fingerprint: str
    #: The events file replayed, and its SHA-256 (which traffic, exactly).
    sample: str
    sample_sha256: str
    #: Valid events in the sample, and invalid lines skipped.
    events: int
    invalid: int
    events_by_type: Mapping[str, int]
    rules: Mapping[str, RuleExpectation]

    def as_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "sample": self.sample,
                "sample_sha256": self.sample_sha256, "events": self.events,
                "invalid": self.invalid, "events_by_type": dict(self.events_by_type),
                "rules": {rule_id: e.as_json() for rule_id, e in sorted(self.rules.items())}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BacktestExpectation:
        return cls(
            fingerprint=str(data["fingerprint"]), sample=str(data.get("sample", "")),
            sample_sha256=str(data.get("sample_sha256", "")), events=int(data["events"]),
            invalid=int(data.get("invalid", 0)),
            events_by_type={str(k): int(v) for k, v in (data.get("events_by_type") or {}).items()},
            rules={str(k): RuleExpectation.from_json(v) for k, v in (data.get("rules") or {}).items()},
        )


class RuleStoreError(VigilError):
    """A rule-store operation could not be carried out."""


class UnknownVersion(RuleStoreError, LookupError):
    """No rule-set version with this number was ever deployed."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"rule-set version {version} does not exist")


@dataclass(frozen=True)
class Deployment:
    """One deployed version of the rule set and its audit record.

    ``sources`` ({file name: YAML}) is filled by :meth:`RuleStore.get` and
    :meth:`RuleStore.current`; entries of :meth:`RuleStore.history` leave it empty.
    """

    version: int
    fingerprint: str
    author: str
    message: str
    deployed_at: datetime
    action: Action = "deploy"
    #: For a rollback, the version whose sources were deployed again.
    rollback_of: int | None = None
    #: The version that was in force before this one.
    previous: int | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    #: rule id -> that rule's own ``version`` field in this deployment.
    rules: Mapping[str, int] = field(default_factory=dict)
    #: What the backtest recorded with this deploy expects of each rule; None: deployed
    #: without one (and so not watched by the VigilRuleAboveBacktest alert).
    backtest: BacktestExpectation | None = None
    sources: Mapping[str, str] = field(default_factory=dict, repr=False)

    def audit(self) -> dict[str, Any]:
        """The audit entry (everything but the sources), JSON-ready."""
        return {
            "version": self.version, "action": self.action, "author": self.author,
            "message": self.message, "deployed_at": self.deployed_at.isoformat(),
            "fingerprint": self.fingerprint, "rollback_of": self.rollback_of,
            "previous": self.previous, "added": list(self.added), "removed": list(self.removed),
            "changed": list(self.changed), "rules": dict(self.rules),
            "backtest": self.backtest.as_json() if self.backtest is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Deployment:
        return cls(
            version=int(data["version"]), fingerprint=data["fingerprint"],
            author=data["author"], message=data["message"],
            deployed_at=datetime.fromisoformat(data["deployed_at"]),
            action=data.get("action", "deploy"), rollback_of=data.get("rollback_of"),
            previous=data.get("previous"), added=tuple(data.get("added", ())),
            removed=tuple(data.get("removed", ())), changed=tuple(data.get("changed", ())),
            rules={k: int(v) for k, v in (data.get("rules") or {}).items()},
            # Records written before backtests were recorded read as "no backtest".
            backtest=(BacktestExpectation.from_json(data["backtest"])
                      if data.get("backtest") else None),
            sources=dict(data.get("sources") or {}),
        )

    @property
    def summary(self) -> str:
        """What changed, in a few words (``+a -b ~c``)."""
        parts = [f"+{r}" for r in self.added] + [f"-{r}" for r in self.removed] + \
            [f"~{r}" for r in self.changed]
        return " ".join(parts) or "no rule changed"


def _rule_texts(rules: RuleSet) -> dict[str, str]:
    """rule id -> its source text (a rule's file is named after its id)."""
    texts: dict[str, str] = {}
    for name, text in rules.sources.items():
        texts[name.rsplit(".", 1)[0]] = text
    return texts


def diff_rules(before: RuleSet | None, after: RuleSet) -> tuple[list[str], list[str], list[str]]:
    """Rule ids added, removed and changed (any edit to the rule's file) from ``before``."""
    old = _rule_texts(before) if before is not None else {}
    new = _rule_texts(after)
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(r for r in set(new) & set(old) if new[r] != old[r])
    return added, removed, changed
