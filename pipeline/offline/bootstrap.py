"""``vigil models bootstrap``: train the models from a platform's history before go-live.

    vigil models bootstrap --events HISTORY.jsonl --labels DECISIONS.jsonl

The history (events as the platform published them, consent changes among them) goes through
``vigil replay``'s path (:mod:`pipeline.offline.replay`): features, the consent gate, what each
model saw of each event. Then the past decisions (``review.decided`` events) teach the models
through :func:`detectors.core.learn_from_label`, each subject's consent judged per event and
policy version as the worker's learner judges it, the live registry's latest record (an opt-out
since the history was exported) winning over the file's. The models start from the snapshots
the workers run (Redis), decisions the learner or an earlier bootstrap applied are skipped (by
decision id: running it twice teaches nothing twice), and the new snapshots are published with
the applied decision ids in one MULTI, WATCHing the versions: if a learner published meanwhile,
nothing is written and the command says to run again. Workers restore the snapshots within
seconds. A model that learned says so in every explanation from then on (``warm_start``: when,
from which span of history, how many labels). The signup model's anomaly part is not fed the
history (a second run would feed it twice): it warms up live.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import redis as redis_lib

from detectors.models.base import OnlineModel
from detectors.sampling import SamplingPolicy
from detectors.unlearning import Contribution
from pipeline.models.keys import APPLIED, snapshot_key, version_key
from pipeline.models.learner import queue_snapshot
from pipeline.models.training_log import TrainingLog
from pipeline.offline.replay import InvalidLine, ReplaySummary, replay_lines
from pipeline.stores.consent import PREFIX as CONSENT_PREFIX
from pipeline.stores.consent import RedisConsentStore

#: No labelling sample: history is not reviewed again.
NO_SAMPLE = SamplingPolicy(rate=0.0, daily_budget=0)


class BootstrapConflict(RuntimeError):
    """A learner published new snapshots while the bootstrap ran: nothing was written."""


@dataclass
class BootstrapResult:
    events: int = 0
    decisions: int = 0
    skipped: int = 0
    invalid: list[InvalidLine] = field(default_factory=list)
    #: Labels learned and refused per model, and the versions published.
    learned: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    published: dict[str, int] = field(default_factory=dict)


class _Registry:
    """The live consent registry, read with a synchronous client (replay runs its own loop)."""

    def __init__(self, client: redis_lib.Redis) -> None:
        self.client = client

    async def latest(self, user_id: str) -> Any:
        return RedisConsentStore.parse(self.client.zrevrange(CONSENT_PREFIX + user_id, 0, 0))

    async def as_of(self, user_id: str, at: datetime) -> Any:
        return RedisConsentStore.parse(self.client.zrevrangebyscore(
            CONSENT_PREFIX + user_id, at.timestamp(), "-inf", start=0, num=1))


def _lines(events: Iterable[str], labels: Iterable[str]) -> Iterator[str]:
    """History first, then the decisions in file order: every event's input is known by the
    time a decision names it."""
    yield from events
    yield from labels


def restore(client: redis_lib.Redis, models: Sequence[OnlineModel]) -> dict[str, int]:
    """Load each model's latest published snapshot; returns the versions loaded (0: none)."""
    versions = {}
    for model in models:
        version = int(client.get(version_key(model.id)) or 0)
        blob = client.get(snapshot_key(model.id, version)) if version else None
        if blob is not None:
            model.restore(blob)
        versions[model.id] = version if blob is not None else 0
    return versions


def bootstrap(client: redis_lib.Redis, events: Iterable[str], labels: Iterable[str], *,
              models: Sequence[OnlineModel], policy_version: str,
              now: datetime | None = None,
              training_log: TrainingLog | None = None) -> BootstrapResult:
    """Teach ``models`` the history's decisions and publish their snapshots (see the module);
    every label learned goes to the models' ``training_log`` with them."""
    versions = restore(client, models)
    logged: dict[str, list[Contribution]] = {}

    def log(model_id: str, subject_id: str, x: dict[str, Any], label: bool, at: datetime,
            decision_id: str) -> None:
        if training_log is not None:
            logged.setdefault(model_id, []).append(training_log.contribution(
                subject_id, x, label, at.timestamp(), decision_id))

    applied = {m.decode() for m in client.smembers(APPLIED)}
    summary, result = ReplaySummary(), BootstrapResult()
    taught: set[str] = set()

    def skip(decision_id: str) -> bool:
        if decision_id in applied:
            result.skipped += 1
            return True
        taught.add(decision_id)
        return False

    for record in replay_lines(_lines(events, labels), models=models, summary=summary,
                               policy_version=policy_version, sampling=NO_SAMPLE,
                               registry=_Registry(client), skip_decisions=skip,
                               on_learned=log):
        if isinstance(record, InvalidLine):
            result.invalid.append(record)
        elif record["type"] != "review.decided":
            result.events += 1
    result.decisions = len(taught)
    for model_id, stats in summary.models.items():
        result.learned[model_id] = sum(stats.learned.values())
        result.refused[model_id] = stats.refused
    changed = [m for m in models if result.learned.get(m.id)]
    if changed:
        _warm(changed, result, summary, now or datetime.now(timezone.utc))
        result.published = _publish(client, changed, versions, taught, logged)
    elif taught:  # decisions that taught nothing (escalations, no consent): applied all the same
        client.sadd(APPLIED, *sorted(taught))
    return result


def _warm(models: Sequence[OnlineModel], result: BootstrapResult, summary: ReplaySummary,
          now: datetime) -> None:
    """Say in each model's state (so in every explanation) that it starts warm, and from what."""
    for model in models:
        before = (model.warm_start or {}).get("labels", 0)
        model.warm_start = {
            "source": "bootstrap", "at": now.isoformat(timespec="seconds"),
            "labels": before + result.learned[model.id],
            "history_from": summary.first_at.isoformat() if summary.first_at else None,
            "history_to": summary.last_at.isoformat() if summary.last_at else None,
        }


def _publish(client: redis_lib.Redis, models: Sequence[OnlineModel], versions: dict[str, int],
             decisions: set[str], logged: dict[str, list[Contribution]]) -> dict[str, int]:
    """Publish the snapshots and the applied decisions in one MULTI, unless a learner published
    since they were loaded (then :class:`BootstrapConflict`, nothing written)."""
    with client.pipeline(transaction=True) as pipe:
        pipe.watch(APPLIED, *(version_key(m.id) for m in models))
        for model in models:
            if int(pipe.get(version_key(model.id)) or 0) != versions[model.id]:
                raise BootstrapConflict(f"{model.id} was published meanwhile: run the bootstrap "
                                        "again (decisions applied are skipped)")
        pipe.multi()
        published = {}
        for model in models:
            queue_snapshot(pipe, model, versions[model.id] + 1)
            published[model.id] = versions[model.id] + 1
        if decisions:
            pipe.sadd(APPLIED, *sorted(decisions))
        by_id = {m.id: m for m in models}
        for model_id, contributions in logged.items():
            TrainingLog.queue_append(pipe, by_id[model_id], contributions)
        try:
            pipe.execute()
        except redis_lib.WatchError as exc:
            raise BootstrapConflict("a learner published meanwhile: run the bootstrap again "
                                    "(decisions applied are skipped)") from exc
    return published


def read_lines(path: str) -> Iterator[str]:
    with open(path, encoding="utf-8") as handle:
        yield from handle


def summary_lines(result: BootstrapResult) -> list[str]:
    out = [f"history: {result.events} events, {len(result.invalid)} invalid line(s); "
           f"decisions: {result.decisions} applied, {result.skipped} applied before (skipped)"]
    for model_id in sorted(set(result.learned) | set(result.refused)):
        version = result.published.get(model_id)
        out.append(f"{model_id}: {result.learned.get(model_id, 0)} labels learned, "
                   f"{result.refused.get(model_id, 0)} refused (consent or no input)"
                   + (f"; published as version {version}" if version else "; nothing to publish"))
    return out


__all__ = ["BootstrapConflict", "BootstrapResult", "bootstrap", "read_lines", "summary_lines"]
