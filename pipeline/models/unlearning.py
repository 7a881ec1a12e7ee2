"""The unlearner: takes erased users, and users who withdrew consent with their learning undone,
back out of every model the learner publishes.

Requests are two sorted sets of pseudonyms (:data:`~pipeline.models.keys.ERASED`, written by
erasure; :data:`~pipeline.models.keys.LEARNING_WITHDRAWN`, by the worker from a
``consent.changed`` with ``undo_learning``), each scored with the time it was made. A request
covers the subject's contributions from events up to then (:mod:`detectors.unlearning`).

Each learner tick (every 2 s, the learner only), :meth:`Unlearner.run`:

- finds, per model, the requests newer than the latest one its published state excludes (the
  status hash :data:`~pipeline.models.keys.UNLEARNING`); once the oldest of them is
  ``debounce`` seconds old (a burst of erasures costs one rebuild), it
- **subtracts** the covered entries of the model's training log from a count model
  (``exact_unlearning``: exact, cheap), or **rebuilds** any other model: a fresh model trained
  on its whole log without the covered entries, in log order (what it learned before the log,
  or what left the log, is forgotten with it);
- also takes entries out of the log that are past its retention or beyond its cap, subtracting
  them from the count models as they go (so a count model always equals its log);
- and publishes, in one MULTI watched like every learner round, the new snapshots, the log
  entries deleted, and each model's status: "excluded every request up to T".
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from detectors.models.base import OnlineModel
from detectors.privacy import subject_pseudonym
from detectors.unlearning import Contribution, rebuild, split, subtract
from pipeline import metrics
from pipeline.models.keys import (
    ERASED,
    LEARNING_WITHDRAWN,
    UNLEARNING,
    snapshot_key,
    training_log_key,
    version_key,
)
from pipeline.models.learner import Learner, _Round
from pipeline.models.training_log import TrainingLog
from schemas.events import ConsentChanged, Envelope

log = logging.getLogger("vigil.models")

#: Oldest log entries looked at per model and tick for retention (the rest wait a tick).
EXPIRE_BATCH = 1_000


@dataclass
class _Plan:
    """What one model's part of a round does."""

    requests: dict[str, float] = field(default_factory=dict)
    #: The log without what leaves it (read only when there are requests), in order.
    keep: list[Contribution] = field(default_factory=list)
    #: Entries the requests cover; entries past retention or the cap; entries another model
    #: version learned (this state never held them: deleted, nothing to subtract).
    forget: list[Contribution] = field(default_factory=list)
    expired: list[Contribution] = field(default_factory=list)
    stale: list[Contribution] = field(default_factory=list)
    method: str = "exact"
    #: The snapshot of a rebuild done before the round, which ``keep`` continues.
    base: bytes | None = None

    @property
    def gone(self) -> list[str]:
        return [c.entry_id for c in self.forget + self.expired + self.stale]


@dataclass(frozen=True)
class _Prebuilt:
    """A model rebuilt from its log up to entry ``last`` without what ``requests`` cover."""

    requests: dict[str, float]
    last: str
    snapshot: bytes
    forget: list[Contribution]
    stale: list[Contribution]


class Unlearner:
    """Runs unlearning rounds on the learner's models (holding the scorer's lock)."""

    def __init__(self, learner: Learner, training_log: TrainingLog, *, debounce: float = 600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.learner = learner
        self.training_log = training_log
        self.debounce = debounce
        self.clock = clock
        self._withdrawals_done = 0.0

    async def run(self, *, force: bool = False) -> dict[str, Any]:
        """One round; ``force`` ignores the debounce. Returns per model what it did.

        A rebuild replays a model's whole log (seconds to minutes: README, "Unlearning"), so it
        is done first, in a thread, without the scorer's lock (labels keep being learned
        meanwhile); the round then only teaches the rebuilt model what was logged since, and
        publishes.
        """
        learner = self.learner
        prebuilt = await self._prebuild(force)
        keys = [version_key(i) for i in learner.by_id]
        keys += [training_log_key(i) for i in learner.by_id] + [UNLEARNING]
        async with learner.scorer.lock:
            done = await learner._rounds("unlearn", keys,
                                         lambda run: self._round(run, force, prebuilt))
        await self.export_status()
        return done

    async def _due(self, client: Any, now: float, force: bool) -> dict[str, dict[str, float]]:
        """Per model, the requests it does not exclude yet, if they are due (debounce)."""
        learner = self.learner
        status = await read_status(client)
        floor = min((s.get("excluded_up_to", 0.0) for s in status.values()), default=0.0)
        floor = floor if len(status) == len(learner.by_id) else 0.0
        requests = await pending_requests(client, floor)
        #: Withdrawals every model excludes and whose log entries would have expired anyway
        #: are no longer needed (erasure keeps its own set).
        self._withdrawals_done = min(floor, now - self.training_log.retention_seconds)
        out = {}
        for model_id in learner.by_id:
            upto = status.get(model_id, {}).get("excluded_up_to", 0.0)
            mine = {p: t for p, t in requests.items() if t > upto}
            due = bool(mine) and (force or now - min(mine.values()) >= self.debounce)
            metrics.MODEL_UNLEARNING_PENDING.labels(model_id).set(len(mine))
            out[model_id] = mine if due else {}
        return out

    async def _prebuild(self, force: bool) -> dict[str, _Prebuilt]:
        """Rebuild every model that is due, from its log as it is now, off the event loop."""
        learner, out = self.learner, {}
        for model_id, requests in (await self._due(learner.redis, self.clock(), force)).items():
            model = learner.by_id[model_id]
            if not requests or getattr(model, "exact_unlearning", False):
                continue
            entries = await TrainingLog.read(learner.redis, model_id)
            stale = [c for c in entries if c.model_version != model.version]
            keep, forget = split((c for c in entries if c.model_version == model.version),
                                 requests)
            fresh = await asyncio.to_thread(rebuild, model.fresh(), keep)
            out[model_id] = _Prebuilt(requests, entries[-1].entry_id if entries else "0-0",
                                      fresh.snapshot(), forget, stale)
        return out

    async def _round(self, run: _Round, force: bool,
                     prebuilt: dict[str, _Prebuilt]) -> dict[str, Any]:
        pipe, learner = run.pipe, self.learner
        await learner.scorer.restore_newer(pipe)  # never rebuild over a stale snapshot
        now = self.clock()
        plans: dict[str, _Plan] = {}
        for model_id, requests in (await self._due(pipe, now, force)).items():
            plan = await self._plan(pipe, learner.by_id[model_id], requests, now,
                                    prebuilt.get(model_id))
            if plan is not None:
                plans[model_id] = plan
        if not plans:
            return {}
        changed = set()
        for model_id, plan in plans.items():
            if await self._apply(pipe, run, learner.by_id[model_id], plan):
                changed.add(model_id)
        # The snapshots a changed model published before still hold what it unlearned: gone
        # with the round (a scorer that misses one mid-restore loads the new one next poll).
        superseded = [key for model_id in sorted(changed)
                      for key in await _published_snapshots(pipe, model_id,
                                                            learner.versions[model_id])]
        pipe.multi()
        if superseded:
            pipe.delete(*superseded)
        if self._withdrawals_done > 0:
            pipe.zremrangebyscore(LEARNING_WITHDRAWN, "-inf", self._withdrawals_done)
        for model_id, plan in plans.items():
            if plan.gone:
                pipe.xdel(training_log_key(model_id), *plan.gone)
            if plan.requests:
                version = learner.versions[model_id] + (model_id in changed)
                pipe.hset(UNLEARNING, model_id, json.dumps({
                    "excluded_up_to": max(plan.requests.values()), "at": now,
                    "method": plan.method, "forgotten": len(plan.forget), "version": version}))
        await learner._publish(changed, run)
        return self._report(plans)

    async def _plan(self, pipe: Any, model: OnlineModel, requests: dict[str, float],
                    now: float, prebuilt: _Prebuilt | None = None) -> _Plan | None:
        """What to take out of ``model``: entries ``requests`` cover (reading its whole log
        only then, or what was logged since its prebuilt rebuild) and entries past the log's
        retention or cap (a prebuilt model's wait for its next round)."""
        exact = getattr(model, "exact_unlearning", False)
        if not exact and requests:
            # Never a whole rebuild here, on the event loop, holding the lock: the requests the
            # rebuild before the round took (later ones wait for the next), or none this tick.
            ready = prebuilt is not None and prebuilt.requests.items() <= requests.items()
            requests = prebuilt.requests if ready else {}  # type: ignore[union-attr]
        plan = _Plan(requests=requests, method="exact" if exact else "rebuild")
        if requests and not exact and prebuilt is not None:
            tail = await TrainingLog.read(pipe, model.id, start="(" + prebuilt.last)
            plan.base, plan.stale = prebuilt.snapshot, prebuilt.stale + [
                c for c in tail if c.model_version != model.version]
            keep, forget = split((c for c in tail if c.model_version == model.version), requests)
            plan.keep, plan.forget = keep, prebuilt.forget + forget
            return plan
        for c in await self._expired(pipe, model.id, now):
            (plan.expired if c.model_version == model.version else plan.stale).append(c)
        if requests:
            gone = set(plan.gone)
            entries = [c for c in await TrainingLog.read(pipe, model.id) if c.entry_id not in gone]
            plan.stale += [c for c in entries if c.model_version != model.version]
            plan.keep, plan.forget = split(
                (c for c in entries if c.model_version == model.version), requests)
        return plan if requests or plan.gone else None

    async def _expired(self, pipe: Any, model_id: str, now: float) -> list[Contribution]:
        """The oldest entries past the retention, or beyond the cap (at most a batch)."""
        cutoff = int((now - self.training_log.retention_seconds) * 1000)
        old = await TrainingLog.read(pipe, model_id, upto=str(max(cutoff - 1, 0)),
                                     count=EXPIRE_BATCH)
        excess = await pipe.xlen(training_log_key(model_id)) - len(old) - self.training_log.maxlen
        if excess > 0:
            more = await TrainingLog.read(pipe, model_id, count=len(old) + min(excess,
                                                                               EXPIRE_BATCH))
            old += more[len(old):]
        return old

    async def _apply(self, pipe: Any, run: _Round, model: OnlineModel, plan: _Plan) -> bool:
        """Change ``model`` as planned (in memory; the round publishes it). True if changed.

        A count model whose state lacks what its log says it learned (a snapshot lost, say)
        cannot be subtracted from: it is rebuilt from the log like any other model.
        """
        run.keep(model)
        self._tally(run, model.id, plan)
        if plan.method == "exact":
            try:
                return subtract(model, plan.forget) + subtract(model, plan.expired) > 0
            except ValueError:
                log.warning("%s does not hold what its training log says: rebuilding it",
                            model.id)
                model.restore(run.before[model.id])
                if not plan.requests:
                    gone = set(plan.gone)
                    plan.keep = [c for c in await TrainingLog.read(pipe, model.id)
                                 if c.entry_id not in gone and c.model_version == model.version]
                plan.method = "rebuild"
        elif not plan.requests:
            return False  # a rebuilt model's expired entries: forgotten at its next rebuild
        fresh = model.fresh()
        if plan.base is not None:  # rebuilt before the round: only what was logged since
            fresh.restore(plan.base)
        fresh = rebuild(fresh, plan.keep)
        if model.warm_start is not None:  # bootstrapped: its labels are in the log too
            fresh.warm_start = model.warm_start
        model.restore(fresh.snapshot())
        return True

    @staticmethod
    def _tally(run: _Round, model_id: str, plan: _Plan) -> None:
        for _ in plan.forget:
            run.tally(metrics.MODEL_UNLEARNED, model_id, "request", plan.method)
        for _ in plan.expired:
            run.tally(metrics.MODEL_UNLEARNED, model_id, "retention", plan.method)

    @staticmethod
    def _report(plans: dict[str, _Plan]) -> dict[str, Any]:
        return {m: {"method": p.method, "requests": len(p.requests), "forgotten": len(p.forget),
                    "expired": len(p.expired)} for m, p in plans.items()}

    async def export_status(self) -> None:
        """Set the gauges of what each model's published state excludes."""
        for model_id, one in (await read_status(self.learner.redis)).items():
            metrics.MODEL_UNLEARNED_UP_TO.labels(model_id).set(one.get("excluded_up_to", 0.0))


def queue_withdrawal(pipe: Any, event: Envelope, pseudonym_key: bytes, now: float) -> bool:
    """Record a withdrawal of consent that asks for past learning to be undone (a
    ``consent.changed`` with ``undo_learning``), as its subject's pseudonym and the time it was
    recorded. The recording time, not the change's own, so a request read late is still newer
    than what the models already exclude; NX, so a redelivery does not move it."""
    if not isinstance(event, ConsentChanged) or not event.payload.undo_learning:
        return False
    pseudonym = subject_pseudonym(event.subject_id, pseudonym_key)
    pipe.zadd(LEARNING_WITHDRAWN, {pseudonym: now}, nx=True)
    return True


async def _published_snapshots(pipe: Any, model_id: str, version: int) -> list[str]:
    """The model's snapshot keys still in Redis, ``version`` and down: each publish lets the
    one before it expire an hour later, so those left are a contiguous run of versions."""
    keys: list[str] = []
    while version > 0:
        batch = [snapshot_key(model_id, v) for v in range(version, max(version - 100, 0), -1)]
        found = [k for k, n in zip(batch, [await pipe.exists(k) for k in batch]) if n]
        keys += found
        if len(found) < len(batch):
            break
        version -= len(batch)
    return keys


async def read_status(client: Any) -> dict[str, dict[str, Any]]:
    """Per model: the latest request its published state excludes, when, how."""
    raw = await client.hgetall(UNLEARNING)
    return {_text(k): json.loads(v) for k, v in raw.items()}


async def pending_requests(client: Any, after: float) -> dict[str, float]:
    """Erasures and withdrawals made after ``after`` (pseudonym -> the latest time)."""
    out: dict[str, float] = {}
    for key in (ERASED, LEARNING_WITHDRAWN):
        for member, at in await client.zrangebyscore(key, f"({after}", "+inf", withscores=True):
            name = _text(member)
            out[name] = max(out.get(name, 0.0), float(at))
    return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def unlearning_status(client: Any, model_ids: list[str], now: float | None = None,
                            ) -> list[dict[str, Any]]:
    """Per model: the latest request its published state excludes, with every one before it,
    the requests still waiting, and a sentence saying so (the CLI's and the API's view)."""
    now = time.time() if now is None else now
    status = await read_status(client)
    rows = []
    for model_id in model_ids:
        one = status.get(model_id, {})
        upto = float(one.get("excluded_up_to", 0.0))
        pending = list((await pending_requests(client, upto)).values())
        rows.append({"model": model_id, "excluded_up_to": upto or None, "at": one.get("at"),
                     "method": one.get("method"), "forgotten": one.get("forgotten", 0),
                     "version": one.get("version"), "pending": len(pending),
                     "oldest_pending_age": round(now - min(pending), 1) if pending else None,
                     "log_entries": await client.xlen(training_log_key(model_id)),
                     "summary": describe(upto, one, pending, now)})
    return rows


def describe(upto: float, one: dict[str, Any], pending: list[float], now: float) -> str:
    """The status as a sentence: ``excluded all erasures and withdrawals up to T``.

    >>> describe(0.0, {}, [], 0.0)
    'no erasure or withdrawal recorded yet'
    >>> describe(86400.0, {"method": "exact", "at": 86460.0}, [172800.0], 172830.0)
    'excluded all erasures and withdrawals up to 1970-01-02T00:00:00Z (exact, at 1970-01-02T00:01:00Z); 1 waiting, the oldest 30 s'
    """
    parts = []
    if upto:
        parts.append(f"excluded all erasures and withdrawals up to {_iso(upto)} "
                     f"({one.get('method')}, at {_iso(float(one.get('at', upto)))})")
    elif not pending:
        return "no erasure or withdrawal recorded yet"
    else:
        parts.append("has excluded no erasure or withdrawal yet")
    if pending:
        parts.append(f"{len(pending)} waiting, the oldest {now - min(pending):.0f} s")
    return "; ".join(parts)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
