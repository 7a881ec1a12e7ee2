"""The rule set in force in a worker: the deployed version, followed without a restart.

:class:`LiveRules` is called for the rule set without I/O; :meth:`LiveRules.refresh` (on a timer
and whenever the ``vigil:rules`` channel speaks) switches to a newly deployed version, and the
gauges always describe the rules this worker runs (:func:`export_expectations`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping

import redis
import redis.asyncio
from prometheus_client import Gauge

from detectors.cost import WATCH
from detectors.errors import RuleSetInvalid
from detectors.ruleset import RuleSet, load_rules
from pipeline import metrics
from pipeline.rules.records import BacktestExpectation, RuleStoreError
from pipeline.rules.store import CHANNEL, CURRENT, version_key

log = logging.getLogger("vigil.rules")


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
    for rule in rules.rules:  # the counter's series exist (at 0) before a first slow evaluation
        metrics.RULE_OVER_BUDGET.labels(rule.id)
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


def _load_record(record: bytes | str) -> tuple[RuleSet, BacktestExpectation | None]:
    """The rule set and backtest a stored version record holds (raises as load_rules does)."""
    data = json.loads(record)
    rules = load_rules(dict(data["sources"]))
    backtest = BacktestExpectation.from_json(data["backtest"]) if data.get("backtest") else None
    return rules, backtest


def _count_over_budget(rule_id: str, seconds: float) -> None:
    metrics.RULE_OVER_BUDGET.labels(rule_id).inc()


class LiveRules:
    """The rule set in force for a worker: the deployed version, else ``fallback`` (a
    :class:`~pipeline.rules.source.RuleSource`).

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
        # Over-budget evaluations (detectors.cost) are counted per rule in this process.
        WATCH.listener = _count_over_budget
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
            # Off the event loop: compiling, running every example and measuring every rule's
            # cost is CPU work (about 0.3 s for the library). In a thread the loop still turns:
            # Python switches threads every few ms, and no single CEL evaluation of a set that
            # passes the cost checks holds the GIL longer than a few ms (detectors.cost).
            rules, backtest = await asyncio.to_thread(_load_record, record)
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
