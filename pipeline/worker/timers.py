"""Everything a worker runs besides its stages: timers, one task and a rebalance hook.

:meth:`Timers.install` puts them all on the faust app, in one place:

* a task following rule deploys (``vigil:rules`` pub/sub plus a 1 s poll: in force in ~1-2 s);
* every 2 s: restoring newer model snapshots (every worker), observing unlabelled inputs and
  unlearning erased and withdrawn users (the learner only), reading the erased users again
  (every worker) and running due erasure passes (the owner of ``tns.privacy``), and the
  heartbeat (``vigil:worker:<host-pid>``) with the consumer-lag gauges, the ledger's trim and
  the metric series of the rules and models in force (created at 0);
* on a revoke: dropping the lag gauges of partitions another worker reports now.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust

from pipeline import metrics
from pipeline.models.learner import Learner
from pipeline.models.scorer import Scorer
from pipeline.models.unlearning import Unlearner
from pipeline.privacy.erased import ErasedUsers
from pipeline.privacy.erasure import Eraser
from pipeline.rules.source import RuleSource
from pipeline.stores import ledger
from pipeline.stores.heartbeat import write_beat
from pipeline.stores.outages import OUTAGES, is_outage
from pipeline.worker.observe import start_series
from pipeline.worker.stats import WorkerStats
from schemas.topics import Topics

log = logging.getLogger("vigil.worker")


class Timers:
    def __init__(self, app: faust.App, *, worker_id: str, stats: WorkerStats, rules: RuleSource,
                 scorer: Scorer, learner: Learner, redis: Any, ledger_retention: float,
                 unlearner: Unlearner | None = None, eraser: Eraser | None = None,
                 erased: ErasedUsers | None = None, interval: float = 2.0) -> None:
        self.app = app
        self.worker_id = worker_id
        self.stats = stats
        self.rules = rules
        self.scorer = scorer
        self.learner = learner
        self.unlearner = unlearner
        self.eraser = eraser
        self.erased = erased
        self.redis = redis
        self.ledger_retention = ledger_retention
        self.interval = interval

    def install(self) -> None:
        app = self.app
        start_series(self.rules(), self.scorer())
        app.task(self.follow_rule_deploys)
        for timer in (self.follow_model_snapshots, self.observe_unlabelled, self.unlearn,
                      self.erase, self.heartbeat):
            app.timer(interval=self.interval)(timer)
        app.on_partitions_revoked.connect(self.forget_lag)

    async def follow_rule_deploys(self) -> None:
        # Pub/sub for speed plus a 1 s poll for safety (fixed rules: returns at once).
        await self.rules.watch()

    async def follow_model_snapshots(self) -> None:
        try:
            await self.scorer.refresh()
        except OUTAGES:
            pass

    async def observe_unlabelled(self) -> None:
        # Only the learner, the worker that owns tns.decisions, changes the models.
        if not self.learner.observers or not assigned(self.app, Topics.DECISIONS):
            return
        try:
            observed = await self.learner.observe_unlabelled()
        except Exception as exc:  # the inputs wait in Redis for the next round
            if not is_outage(exc):  # a bug here must not stop the worker
                log.exception("observing unlabelled inputs failed")
            return
        if any(observed.values()):
            log.info("models observed unlabelled inputs: %s", observed)

    async def unlearn(self) -> None:
        # The learner takes erased and withdrawn users out of the models it publishes
        # (debounced: README, "Unlearning"), and old entries out of their training logs.
        if self.unlearner is None or not assigned(self.app, Topics.DECISIONS):
            return
        try:
            done = await self.unlearner.run()
        except Exception as exc:  # the requests wait in Redis for the next round
            if not is_outage(exc):
                log.exception("unlearning failed")
            return
        if done:
            log.info("models unlearned: %s", done)

    async def erase(self) -> None:
        # Every worker drops events about erased users (it must know them within a tick); the
        # owner of tns.privacy, one worker, runs the erasures' passes (a pass runs for seconds
        # and holds no lock: two owners during a rebalance would do the same idempotent work).
        try:
            if self.erased is not None:
                await self.erased.refresh(self.redis)
            if self.eraser is None or not assigned(self.app, Topics.PRIVACY):
                return
            pending = await self.eraser.pending()
            metrics.ERASURES_PENDING.set(len(pending))
            if pending:
                for outcome in await self.eraser.run_due():
                    log.info("erasure %s: %s", outcome.pseudonym, outcome.status)
        except Exception as exc:  # the requests wait in Redis for the next tick
            if not is_outage(exc):
                log.exception("erasure failed")

    async def heartbeat(self) -> None:
        # Lets `vigil up`, `vigil status` and tests see that this worker joined the group.
        start_series(self.rules(), self.scorer())  # a rule deployed since: its series at 0
        beat = {"worker": self.worker_id, "assigned_partitions": update_lag(self.app),
                "at": time.time(), "rules_version": self.rules.version, **self.stats.as_dict()}
        try:
            await write_beat(self.redis, self.worker_id, beat)
            await ledger.trim(self.redis, time.time() - self.ledger_retention)
        except OUTAGES:
            pass

    async def forget_lag(self, app: faust.App, revoked: set[Any], **_: Any) -> None:
        # Another worker reports these partitions now; a stale gauge here would overstate lag.
        for tp in revoked:
            try:
                metrics.CONSUMER_LAG.remove(tp.topic, str(tp.partition))
            except KeyError:
                pass


def assigned(app: faust.App, topic: str) -> bool:
    """True if this worker consumes a partition of ``topic`` now."""
    try:
        return any(tp.topic == topic for tp in app.consumer.assignment())
    except Exception:  # consumer not started yet
        return False


def update_lag(app: faust.App) -> int:
    """Set the consumer-lag gauge per assigned partition; returns how many are assigned."""
    try:
        consumer = app.consumer
        assignment = consumer.assignment()
    except Exception:  # consumer not started yet
        return 0
    read = getattr(consumer, "_read_offset", {})
    for tp in assignment:
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # no fetch yet for this partition
            continue
        if highwater is None:
            continue
        position = read.get(tp)
        lag = highwater - (position + 1 if position is not None else 0)
        metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, lag))
    return len(assignment)
