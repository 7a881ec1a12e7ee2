"""Versioned, audited rule-set deploys in Redis, and the reader workers use to follow them.

A deploy validates the whole set first (:func:`detectors.ruleset.load_rules`); an invalid set
raises :class:`detectors.errors.RuleSetInvalid` and changes nothing. A valid one becomes a new
version in one Lua script (atomic): the version's record is written, ``vigil:rules:current``
points at it, an audit entry is appended and the version number is published on the
``vigil:rules`` channel. Deploying the rule set already in force is a no-op (unless the deploy
brings a backtest the version in force lacks or differs from). A rollback deploys an older
version's sources again, with that version's backtest, as a new version, so history only ever
grows.

A deploy may carry a :class:`BacktestExpectation`: what the candidate set did on a traffic
sample (``pipeline.backtest.expectation_from_report``), per rule its hits and the sample's events
of the rule's event types, whose quotient is the hit ratio the rule is expected to keep live. A
deploy without one (an emergency fix) is recorded with ``backtest: null``.

Keys (all under ``vigil:rules:``):

========================  ===================================================================
``vigil:rules:seq``       the last version number handed out (INCR)
``vigil:rules:current``   the version in force
``vigil:rules:v:<N>``     version N: its sources and audit record (JSON)
``vigil:rules:audit``     one JSON entry per deploy or rollback, oldest first
channel ``vigil:rules``   the new version number, published on every deploy
========================  ===================================================================

Workers hold a :class:`LiveRules`: calling it returns the rule set in force without I/O, and
:meth:`LiveRules.refresh` (run on a timer and whenever the channel speaks) switches to a newly
deployed version. It also exports what the deployment in force expects of its rules
(``vigil_rule_event_types``, ``vigil_rule_backtest_hit_ratio``, ``vigil_rule_backtest_events``),
which the ``VigilRuleAboveBacktest`` alert compares live hits with. The script derives the
version key from its arguments, so on Redis Cluster these keys would need a shared hash tag; a
single Redis (with a replica) is the supported setup.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Literal

import redis
import redis.asyncio
from prometheus_client import Gauge

from detectors.errors import RuleSetInvalid
from detectors.ruleset import RuleSet, load_rules
from pipeline import metrics
from schemas.errors import VigilError

log = logging.getLogger("vigil.rules")

PREFIX = "vigil:rules:"
SEQ = PREFIX + "seq"
CURRENT = PREFIX + "current"
AUDIT = PREFIX + "audit"
VERSION_PREFIX = PREFIX + "v:"
CHANNEL = "vigil:rules"

Action = Literal["deploy", "rollback"]


def version_key(version: int) -> str:
    return f"{VERSION_PREFIX}{version}"


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


# Writes one version atomically, and only if the version in force is still the one the caller
# compared against (else returns the version now in force, and the caller starts over).
# KEYS: seq, current, audit. ARGV: expected current ("" for none), version key prefix,
# record JSON and audit JSON (objects without their version, which is only known here).
_DEPLOY = """
local current = redis.call('GET', KEYS[2]) or ''
if current ~= ARGV[1] then
  return {0, current}
end
local version = redis.call('INCR', KEYS[1])
local head = '{"version":' .. version .. ','
redis.call('SET', ARGV[2] .. version, head .. string.sub(ARGV[3], 2))
redis.call('SET', KEYS[2], version)
redis.call('RPUSH', KEYS[3], head .. string.sub(ARGV[4], 2))
redis.call('PUBLISH', ARGV[5], version)
return {1, tostring(version)}
"""


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


class RuleStore:
    """Deploys, rollbacks and history of the rule set, on a synchronous Redis client."""

    def __init__(self, client: redis.Redis, *, max_attempts: int = 10) -> None:
        self.client = client
        self.max_attempts = max_attempts
        self._script = client.register_script(_DEPLOY)

    # ---- reading ---------------------------------------------------------------------------

    def current_version(self) -> int | None:
        raw = self.client.get(CURRENT)
        return int(raw) if raw is not None else None

    def current(self) -> Deployment | None:
        """The deployment in force, with its sources, or None if nothing was ever deployed."""
        version = self.current_version()
        return self.get(version) if version is not None else None

    def get(self, version: int) -> Deployment:
        raw = self.client.get(version_key(version))
        if raw is None:
            raise UnknownVersion(version)
        return Deployment.from_json(json.loads(raw))

    def history(self) -> list[Deployment]:
        """Every deploy and rollback, oldest first (without sources; see :meth:`get`)."""
        return [Deployment.from_json(json.loads(raw)) for raw in self.client.lrange(AUDIT, 0, -1)]

    # ---- writing ---------------------------------------------------------------------------

    def deploy(self, sources: Mapping[str, str], *, author: str, message: str,
               backtest: BacktestExpectation | None = None) -> Deployment:
        """Validate ``sources`` ({file name: YAML}) and make them the rule set in force.

        ``backtest`` is what these rules did on a traffic sample; it is recorded with the
        deployment (None: recorded as deployed without a backtest). Raises
        :class:`RuleSetInvalid` (nothing changes) if any rule is invalid, and
        :class:`RuleStoreError` if the backtest ran another rule set. Returns the current
        deployment unchanged if it already has exactly these sources and ``backtest`` adds
        nothing to it (None, or the one already recorded).
        """
        return self._deploy(sources, author=author, message=message, action="deploy",
                            backtest=backtest)

    def rollback(self, version: int, *, author: str, message: str) -> Deployment:
        """Deploy the sources of ``version`` again, as a new version recorded as its rollback,
        with the backtest ``version`` was deployed with (the expectations of those rules)."""
        target = self.get(version)
        return self._deploy(target.sources, author=author, message=message, action="rollback",
                            rollback_of=version, backtest=target.backtest)

    def _deploy(self, sources: Mapping[str, str], *, author: str, message: str, action: Action,
                rollback_of: int | None = None,
                backtest: BacktestExpectation | None = None) -> Deployment:
        if not author.strip():
            raise RuleStoreError("a deploy needs an author")
        if not message.strip():
            raise RuleStoreError("a deploy needs a message saying why")
        if not sources:
            raise RuleStoreError("refusing to deploy an empty rule set; "
                                 "to stop rules, deploy them with mode: off")
        candidate = load_rules(dict(sources))  # raises RuleSetInvalid: nothing is written
        if backtest is not None and backtest.fingerprint != candidate.fingerprint:
            raise RuleStoreError(
                f"the backtest ran rule set {backtest.fingerprint}, not the one being deployed "
                f"({candidate.fingerprint}); backtest these rules")
        for _ in range(self.max_attempts):
            current = self.current()
            if current is not None and current.fingerprint == candidate.fingerprint and (
                    action == "rollback" or backtest is None or backtest == current.backtest):
                return current
            previous = _previous_rules(current)
            added, removed, changed = diff_rules(previous, candidate)
            deployment = Deployment(
                version=0, fingerprint=candidate.fingerprint, author=author, message=message,
                deployed_at=datetime.now(timezone.utc), action=action, rollback_of=rollback_of,
                previous=current.version if current else None, added=tuple(added),
                removed=tuple(removed), changed=tuple(changed),
                rules={r.id: r.spec.version for r in candidate.rules},
                backtest=backtest, sources=dict(candidate.sources),
            )
            audit = deployment.audit()
            del audit["version"]
            record = {**audit, "sources": dict(candidate.sources)}
            expected = str(current.version) if current else ""
            ok, value = self._script(
                keys=[SEQ, CURRENT, AUDIT],
                args=[expected, VERSION_PREFIX, json.dumps(record), json.dumps(audit), CHANNEL],
            )
            if int(ok) == 1:
                version = int(value)
                log.info("rule set v%s deployed by %s (%s): %s", version, author,
                         candidate.fingerprint, deployment.summary)
                return replace(deployment, version=version)
            # Someone else deployed in between: compare against the new current and retry.
        raise RuleStoreError(f"the rule set kept changing under {self.max_attempts} deploy attempts")


def _previous_rules(current: Deployment | None) -> RuleSet | None:
    if current is None:
        return None
    try:
        return load_rules(dict(current.sources))
    except RuleSetInvalid:
        # A stored version that no longer validates (e.g. written by an older Vigil): diff by
        # file text alone.
        return RuleSet((), current.fingerprint, dict(current.sources))


# ---- the worker's side -------------------------------------------------------------------------

#: The label sets this process exports per gauge, so a reload removes exactly the stale ones.
_exported: dict[int, set[tuple[str, ...]]] = {}


def _set_gauge(gauge: Gauge, values: Mapping[tuple[str, ...], float]) -> None:
    """Make ``gauge`` hold exactly ``values``: new values first, then stale label sets removed,
    so a scrape during a reload never misses a series that stays (which would reset an
    alert's ``for`` clock)."""
    key = id(gauge)  # the gauges are module-level singletons
    for labels, value in values.items():
        gauge.labels(*labels).set(value)
    for labels in _exported.get(key, set()) - set(values):
        try:
            gauge.remove(*labels)
        except KeyError:  # already gone
            pass
    _exported[key] = set(values)


def export_expectations(rules: RuleSet, backtest: BacktestExpectation | None) -> None:
    """Export what the rule set in force is expected to do.

    ``vigil_rule_event_types{detector,type}`` = 1 for every rule and event type it applies to
    (PromQL sums ``vigil_events_total`` over it: events of a rule's types), and, for each rule
    the backtest covered with at least one event of its types, ``vigil_rule_backtest_hit_ratio``
    and ``vigil_rule_backtest_events`` labelled with the rule's mode. Label values are rule ids,
    event types and modes only.
    """
    _set_gauge(metrics.RULE_EVENT_TYPES,
               {(rule.id, event_type): 1.0 for rule in rules.rules
                for event_type in rule.spec.event_types})
    ratios: dict[tuple[str, ...], float] = {}
    events: dict[tuple[str, ...], float] = {}
    by_id = rules.by_id
    for rule_id, expected in (backtest.rules.items() if backtest is not None else ()):
        rule = by_id.get(rule_id)
        ratio = expected.hit_ratio
        if rule is None or ratio is None or rule.spec.mode == "off":
            continue
        # The mode in force labels it, as vigil_detector_hits_total does.
        ratios[rule_id, rule.spec.mode] = ratio
        events[rule_id, rule.spec.mode] = float(expected.events)
    _set_gauge(metrics.RULE_BACKTEST_HIT_RATIO, ratios)
    _set_gauge(metrics.RULE_BACKTEST_EVENTS, events)


class LiveRules:
    """The rule set in force for a worker: the deployed version, else ``fallback``.

    Calling the object returns the current :class:`RuleSet` without any I/O, so the processor
    can ask for it per event. :meth:`refresh` reads ``vigil:rules:current`` and, if it names a
    version this worker does not run yet, loads and compiles it. A stored version that fails
    to load is logged once and skipped; the rules already running stay in force.

    Whenever the rule set in force changes (and for the fallback, from the start) it exports
    that set's expectations (:func:`export_expectations`): the gauges always describe the
    rules this worker runs.
    """

    def __init__(self, client: redis.asyncio.Redis, fallback: RuleSet) -> None:
        self.client = client
        self.fallback = fallback
        self._rules = fallback
        self._version: int | None = None
        self._backtest: BacktestExpectation | None = None
        self._refused: set[int] = set()
        export_expectations(fallback, None)

    def __call__(self) -> RuleSet:
        return self._rules

    @property
    def version(self) -> int | None:
        """The deployed version in force, or None while running the fallback."""
        return self._version

    @property
    def backtest(self) -> BacktestExpectation | None:
        """The backtest recorded with the version in force (None: none, or the fallback)."""
        return self._backtest

    async def refresh(self) -> bool:
        """Switch to the deployed version if it changed; True if the rule set was switched."""
        raw = await self.client.get(CURRENT)
        if raw is None:
            return False
        version = int(raw)
        if version == self._version or version in self._refused:
            return False
        record = await self.client.get(version_key(version))
        try:
            if record is None:
                raise RuleStoreError(f"{version_key(version)} is missing")
            data = json.loads(record)
            rules = load_rules(dict(data["sources"]))
            backtest = (BacktestExpectation.from_json(data["backtest"])
                        if data.get("backtest") else None)
        except (RuleSetInvalid, RuleStoreError, ValueError, KeyError, TypeError) as exc:
            metrics.RULES_RELOADS.labels("refused").inc()
            self._refused.add(version)
            log.error("rule set v%s cannot be loaded; keeping v%s in force: %s", version,
                      self._version if self._version is not None else "(packaged)", exc)
            return False
        previous = self._version
        self._rules, self._version, self._backtest = rules, version, backtest
        metrics.RULES_RELOADS.labels("switched").inc()
        metrics.RULES_VERSION.set(version)
        export_expectations(rules, backtest)
        log.info("switched rule set v%s -> v%s (%s)", previous, version, rules.fingerprint)
        return True

    async def watch(self, *, poll_interval: float = 1.0, max_backoff: float = 10.0) -> None:
        """Follow deploys until cancelled: refresh on every message on the ``vigil:rules``
        channel and at least every ``poll_interval`` seconds (a missed message, or a deploy made
        while disconnected, is still picked up). Redis outages are waited out with back-off."""
        delay = poll_interval
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                await self.refresh()
                delay = poll_interval
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=poll_interval)
                    if message is not None:
                        log.debug("rule deploy announced: v%s", message.get("data"))
                    await self.refresh()
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
                log.warning("cannot follow rule deploys (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(max_backoff, delay * 2)
            finally:
                try:
                    await pubsub.aclose()
                except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                    pass
