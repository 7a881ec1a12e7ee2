"""The learner: the one worker that changes the models, from labels and from unlabelled inputs.

Design (README, "Models in the worker"): ``tns.decisions`` has a single partition, so exactly one
worker of the group consumes the analysts' labels; that worker is the learner. For each decision
it looks up what each model saw of the labelled events (stored when they were scored), asks the
consent-gated :func:`detectors.core.learn_from_label`, then writes a new snapshot of every model
that learned, the snapshot version and the decision id in one MULTI. Every worker (the learner
too) polls the snapshot versions and restores newer ones (:class:`~pipeline.models.scorer.Scorer`).
A redelivered decision is recognised by its id and skipped; a restarted learner resumes from
the latest snapshot. What each model learned goes into its training log in the same MULTI
(:mod:`pipeline.models.training_log`), under the subject's pseudonym, so an erased user can be
unlearned (:mod:`pipeline.models.unlearning`).

Models with an unsupervised part also learn from every unlabelled input they scored: the learner
reads the scorers' stream every few seconds, checks consent again (an opt-out since scoring
wins), and publishes the new snapshot with its stream position in the same MULTI, so a crash
neither skips nor repeats an input.

During a consumer-group rebalance two workers can briefly both act as learner. Each round
therefore WATCHes what it decides on (the model versions, and the applied decisions or the
stream cursors) and publishes in MULTI/EXEC on that connection: if the other learner published
first, EXEC fails, the models go back to how they were and the round starts over on top of the
other learner's snapshot (a decision it already applied is then skipped), so neither learner's
snapshot silently overwrites what the other learned.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.exceptions import WatchError

from detectors.core import LABEL_OF_OUTCOME, learn_from_label, observe_unlabelled
from detectors.models.base import OnlineModel
from detectors.sampling import CONTENT_TYPES
from detectors.unlearning import Contribution
from pipeline import metrics
from pipeline.models.keys import (
    APPLIED,
    content_key,
    cursor_key,
    input_key,
    observed_key,
    snapshot_key,
    unlabelled_key,
    version_key,
)
from pipeline.models.scorer import Scorer
from pipeline.models.training_log import TrainingLog
from pipeline.review.queue.keys import sample_key
from pipeline.stores.consent import ConsentHistory
from schemas.events import ReviewDecided

log = logging.getLogger("vigil.models")
T = TypeVar("T")

#: How many times a learner round starts over because another learner published first. Each
#: conflict means the other made progress, so a few tries suffice; then the WatchError is raised.
ROUND_ATTEMPTS = 5
#: How many unlabelled inputs the learner takes per model and round.
OBSERVE_BATCH = 1_000
#: How long the learner remembers which events a model observed (redeliveries come sooner).
OBSERVED_RETENTION = 2 * 86400


def queue_snapshot(pipe: Any, model: OnlineModel, version: int) -> None:
    """Queue publishing ``model``'s snapshot as ``version`` (inside the caller's MULTI)."""
    pipe.set(snapshot_key(model.id, version), model.snapshot())
    pipe.set(version_key(model.id), version)
    # Keep the previous snapshot a while for scorers mid-restore; older ones expire.
    pipe.expire(snapshot_key(model.id, version - 1), 3600)


@dataclass
class _Round:
    """One attempt of a learner round. ``pipe`` WATCHes what the round read; ``before`` holds
    the snapshots of the models it is about to change (to undo them if it cannot publish);
    ``tallies`` holds metric increments, counted only once the round has landed, so a round
    that starts over does not count its labels or inputs twice."""

    pipe: Pipeline
    before: dict[str, bytes] = field(default_factory=dict)
    tallies: list[tuple[Any, tuple[str, ...]]] = field(default_factory=list)
    #: What each model learned this round, for its training log (written with the snapshot).
    learned: dict[str, list[Contribution]] = field(default_factory=dict)

    def keep(self, model: OnlineModel) -> None:
        if model.id not in self.before:
            self.before[model.id] = model.snapshot()

    def tally(self, counter: Any, *labels: str) -> None:
        self.tallies.append((counter, labels))

    def log(self, model_id: str, contribution: Contribution) -> None:
        self.learned.setdefault(model_id, []).append(contribution)


class Learner:
    """Teaches the scorer's models in place and publishes their snapshots.

    ``consent`` is asked again before a model learns anything (an opt-out since scoring wins).
    """

    def __init__(self, redis: Redis, scorer: Scorer, consent: ConsentHistory,
                 training_log: TrainingLog | None = None) -> None:
        self.redis = redis
        self.scorer = scorer
        self.consent = consent
        #: Where what the models learn is logged for unlearning (None: not logged).
        self.training_log = training_log
        # The scorer's own tables: what the learner changes is what the worker scores with.
        self.by_id = scorer.by_id
        self.versions = scorer.versions
        self.observers = scorer.observers
        self.exported_drifts: dict[str, int] = {i: 0 for i in self.by_id}

    async def observe_unlabelled(self) -> dict[str, int]:
        """Let each model with an unsupervised part learn from the unlabelled inputs scorers
        queued since its last snapshot; returns how many each observed."""
        # The observed sets and the stream's trimming change only with the cursors, in the
        # same MULTI, so watching the cursors (and versions) covers everything the round reads.
        keys = [version_key(i) for i in self.by_id]
        keys += [cursor_key(i) for i in sorted(self.observers)]
        async with self.scorer.lock:
            return await self._rounds("unlabelled", keys, self._observe_round)

    async def _observe_round(self, run: _Round) -> dict[str, int]:
        pipe = run.pipe
        await self.scorer.restore_newer(pipe)  # never learn on top of a stale snapshot
        changed: set[str] = set()
        observed: dict[str, int] = {}
        progress: dict[str, tuple[bytes, dict[str, float]]] = {}  # model: (last entry, fresh)
        for model_id in sorted(self.observers):
            cursor = (await pipe.get(cursor_key(model_id))) or b"0-0"
            entries = await pipe.xrange(unlabelled_key(model_id), min=b"(" + cursor,
                                        count=OBSERVE_BATCH)
            if not entries:
                continue
            events = [fields[b"event_id"].decode() for _, fields in entries]
            seen = await pipe.zmscore(observed_key(model_id), events)
            observed[model_id] = 0
            run.keep(self.by_id[model_id])
            fresh: dict[str, float] = {}
            for (_, fields), event_id, seen_at in zip(entries, events, seen):
                if seen_at is not None or event_id in fresh:  # a redelivered event
                    run.tally(metrics.MODEL_OBSERVED, model_id, "duplicate")
                    continue
                fresh[event_id] = time.time()
                subject = fields[b"subject_id"].decode()
                at = datetime.fromisoformat(fields[b"occurred_at"].decode())
                outcome = observe_unlabelled(
                    self.by_id[model_id], json.loads(fields[b"x"]),
                    consent_at_event=await self.consent.as_of(subject, at),
                    consent_now=await self.consent.latest(subject), event_time=at)
                result = "observed" if outcome.learned else outcome.reason.split(":")[0]
                run.tally(metrics.MODEL_OBSERVED, model_id, result)
                if outcome.learned:
                    changed.add(model_id)
                    observed[model_id] += 1
                    self._log(run, model_id, subject, json.loads(fields[b"x"]), None, at)
            progress[model_id] = (entries[-1][0], fresh)
        if not observed:
            return observed
        await self._before_publish("unlabelled")
        # Writes go after MULTI: before it, a watching pipeline runs every command at once.
        pipe.multi()
        for model_id, (last, fresh) in progress.items():
            pipe.set(cursor_key(model_id), last)
            if fresh:
                pipe.zadd(observed_key(model_id), fresh)
            pipe.zremrangebyscore(observed_key(model_id), "-inf", time.time() - OBSERVED_RETENTION)
            pipe.xtrim(unlabelled_key(model_id), minid=last, approximate=False)
        await self._publish(changed, run)
        return observed

    async def learn(self, decision: ReviewDecided) -> dict[str, Any]:
        """Apply one analyst decision to every model that scored its events."""
        async with self.scorer.lock:
            keys = [APPLIED] + [version_key(i) for i in self.by_id]
            return await self._rounds("label", keys,
                                      lambda run: self._label_round(run, decision))

    async def _label_round(self, run: _Round, decision: ReviewDecided) -> dict[str, Any]:
        pipe = run.pipe
        decision_id = str(decision.payload.decision_id)
        if await pipe.sismember(APPLIED, decision_id):
            return {"skipped": "already applied"}
        await self.scorer.restore_newer(pipe)  # never learn on top of a stale snapshot
        label = LABEL_OF_OUTCOME[decision.payload.outcome]
        changed: set[str] = set()
        outcomes = []
        if label is not None:
            for event_id, source in (await self._labelled(pipe, decision)).items():
                keys = [input_key(event_id, m) for m in self.by_id]
                for model_id, raw in zip(self.by_id, await pipe.mget(keys)):
                    if raw is None:
                        continue
                    stored = json.loads(raw)
                    at = datetime.fromisoformat(stored["occurred_at"])
                    run.keep(self.by_id[model_id])
                    outcome = learn_from_label(
                        self.by_id[model_id], stored["x"], label,
                        consent_at_event=await self.consent.as_of(stored["subject_id"], at),
                        consent_now=await self.consent.latest(stored["subject_id"]),
                        event_time=at)
                    result = "learned" if outcome.learned else outcome.reason.split(":")[0]
                    run.tally(metrics.MODEL_LABELS, model_id, result)
                    outcomes.append({"event_id": event_id, **outcome.as_dict(), "source": source})
                    if outcome.learned:
                        run.tally(metrics.MODEL_LABEL_SOURCES, model_id, source)
                        changed.add(model_id)
                        self._log(run, model_id, stored["subject_id"], stored["x"], label, at,
                                  decision_id)
        await self._before_publish("label")
        pipe.multi()
        pipe.sadd(APPLIED, decision_id)
        await self._publish(changed, run)
        return {"learned": sorted(changed), "outcomes": outcomes}

    @staticmethod
    async def _labelled(pipe: Pipeline, decision: ReviewDecided) -> dict[str, str]:
        """The events a decision labels, each with its label's source: the events of the
        case's flags (``flag``) or its sample (``sample``), and, for a case about a message,
        proposal or job post (a user report's target), the event that carried it (``report``),
        found through the content index the scorers keep."""
        payload = decision.payload
        named = list(dict.fromkeys(str(e) for e in payload.event_ids))
        out = {}
        for event_id in named:
            kind = await pipe.hget(sample_key(event_id), "kind")
            out[event_id] = "sample" if kind == b"labelling" else "flag"
        if payload.entity_type in CONTENT_TYPES:
            found = await pipe.get(content_key(payload.entity_type, payload.entity_id))
            if found is not None and found.decode() not in out:
                out[found.decode()] = "report"
        return out

    def _log(self, run: _Round, model_id: str, subject_id: str, x: Any, label: bool | None,
             at: datetime, decision_id: str | None = None) -> None:
        if self.training_log is not None:
            run.log(model_id, self.training_log.contribution(subject_id, x, label, at.timestamp(),
                                                             decision_id))

    async def _before_publish(self, kind: str) -> None:
        """Called after a round has read and learned, just before it publishes: a seam for
        tests that interleave two learners. Does nothing."""

    async def _rounds(self, kind: str, watch: list[str],
                      round_: Callable[[_Round], Awaitable[T]]) -> T:
        """Run a learner round with ``watch`` WATCHed until it publishes without another
        learner having published in between (at most ``ROUND_ATTEMPTS`` times).

        Whatever stops a round (a conflict, an outage, a bug, a cancellation), the models it
        changed go back to their snapshots from before it: a retried round must not teach them
        the same labels or inputs twice, and after a conflict it learns on top of the other
        learner's snapshot instead.
        """
        attempt = 1
        while True:
            run = _Round(self.redis.pipeline(transaction=True))
            try:
                async with run.pipe:
                    await run.pipe.watch(*watch)
                    result = await round_(run)
            except BaseException as exc:
                for model_id, blob in run.before.items():
                    self.by_id[model_id].restore(blob)
                if not isinstance(exc, WatchError):
                    raise
                if isinstance(exc.__context__, (RedisConnectionError, RedisTimeoutError)):
                    # redis-py reports a connection lost while watching as a WatchError: that
                    # is an outage (the caller backs off and retries), not another learner.
                    raise RedisConnectionError(f"connection lost in a learner round: "
                                               f"{exc.__context__}") from exc
                metrics.MODEL_PUBLISH_CONFLICTS.labels(kind).inc()
                if attempt >= ROUND_ATTEMPTS:
                    raise
                log.warning("another learner published during a %s round (attempt %d of %d); "
                            "starting over on top of its snapshot", kind, attempt, ROUND_ATTEMPTS)
                attempt += 1
                continue
            for counter, labels in run.tallies:
                counter.labels(*labels).inc()
            return result

    async def _publish(self, changed: set[str], run: _Round) -> None:
        """Queue the new snapshot of every changed model in ``run.pipe`` (after MULTI, holding
        what the learner consumed to change them, so both land or neither does) and EXEC it.
        It fails with WatchError if another learner published since the round's WATCH; the
        caller (:meth:`_rounds`) then puts the models back and starts over."""
        pipe = run.pipe
        new_versions = {}
        for model_id, contributions in run.learned.items():
            TrainingLog.queue_append(pipe, self.by_id[model_id], contributions)
        for model_id in sorted(changed):
            version = self.versions[model_id] + 1
            queue_snapshot(pipe, self.by_id[model_id], version)
            new_versions[model_id] = version
        await pipe.execute()
        for model_id, version in new_versions.items():
            model = self.by_id[model_id]
            self.versions[model_id] = version
            new_drifts = model.drift_count - self.exported_drifts[model_id]
            if new_drifts > 0:
                metrics.MODEL_DRIFTS.labels(model_id).inc(new_drifts)
                self.exported_drifts[model_id] = model.drift_count
            self.scorer.export(model)
