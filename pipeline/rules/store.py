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
sample (``pipeline.offline.backtest.expectation_from_report``), per rule its hits and the sample's events
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

import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone

import redis

from detectors.errors import RuleSetInvalid
from detectors.ruleset import RuleSet, load_rules
from pipeline.rules.records import (
    Action,
    BacktestExpectation,
    Deployment,
    RuleStoreError,
    UnknownVersion,
    diff_rules,
)

log = logging.getLogger("vigil.rules")

PREFIX = "vigil:rules:"
SEQ = PREFIX + "seq"
CURRENT = PREFIX + "current"
AUDIT = PREFIX + "audit"
VERSION_PREFIX = PREFIX + "v:"
CHANNEL = "vigil:rules"



def version_key(version: int) -> str:
    return f"{VERSION_PREFIX}{version}"


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
