"""Online models in the worker: one learner, many scorers, state in Redis.

Design (README, "Models in the worker"): ``tns.decisions`` has a single partition, so exactly one
worker of the group consumes the analysts' labels; that worker is the learner. For each decision
it looks up what each model saw of the labelled events (stored when they were scored), asks the
consent-gated :func:`detectors.core.learn_from_label`, then writes a new snapshot of every model
that learned, the snapshot version and the decision id in one MULTI. Every worker (the learner
too) polls the snapshot versions and restores newer ones, so all score with a model that has
learned from every label. A redelivered decision is recognised by its id and skipped; a
restarted learner resumes from the latest snapshot.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from detectors.core import LABEL_OF_OUTCOME, learn_from_label
from detectors.models.base import OnlineModel
from detectors.results import Decision
from pipeline import metrics
from pipeline.consent_store import RedisConsentStore
from schemas.events import Envelope, ReviewDecided

log = logging.getLogger("vigil.models")
PREFIX = "vigil:model:"
APPLIED = PREFIX + "applied_decisions"


def input_key(event_id: str, model_id: str) -> str:
    return f"{PREFIX}input:{event_id}:{model_id}"


def version_key(model_id: str) -> str:
    return f"{PREFIX}{model_id}:version"


def snapshot_key(model_id: str, version: int) -> str:
    return f"{PREFIX}{model_id}:snapshot:{version}"


class ModelRuntime:
    """The models this worker scores with, kept in step with the learner's snapshots."""

    def __init__(self, redis: Redis, models: Sequence[OnlineModel], *,
                 input_ttl_seconds: int = 30 * 86400) -> None:
        self.redis = redis
        self.models = list(models)
        self.by_id = {m.id: m for m in self.models}
        self.versions: dict[str, int] = {m.id: 0 for m in self.models}
        self.input_ttl = input_ttl_seconds
        self.consent = RedisConsentStore(redis)
        self.exported_drifts: dict[str, int] = {m.id: 0 for m in self.models}

    def __call__(self) -> list[OnlineModel]:
        return self.models

    async def refresh(self) -> int:
        """Restore every model whose snapshot is newer than ours; returns how many."""
        ids = list(self.by_id)
        current = await self.redis.mget([version_key(i) for i in ids])
        restored = 0
        for model_id, raw in zip(ids, current):
            version = int(raw or 0)
            if version <= self.versions[model_id]:
                continue
            blob = await self.redis.get(snapshot_key(model_id, version))
            if blob is None:
                continue
            self.by_id[model_id].restore(blob)
            self.versions[model_id] = version
            restored += 1
            self._export(self.by_id[model_id])
        return restored

    def _export(self, model: OnlineModel) -> None:
        metrics.MODEL_VERSION.labels(model.id).set(self.versions[model.id])
        metrics.MODEL_ERROR_RATE.labels(model.id).set(model.error_rate)

    def queue_inputs(self, pipe: Any, event: Envelope, decision: Decision) -> int:
        """Remember what each AI detector saw, so a label however late can teach exactly it."""
        kept = 0
        for result in decision.results:
            if result.model_input is None or result.detector_id not in self.by_id:
                continue
            record = {"x": result.model_input, "subject_id": event.subject_id,
                      "occurred_at": event.occurred_at.isoformat()}
            pipe.set(input_key(str(event.event_id), result.detector_id),
                     json.dumps(record, separators=(",", ":")), ex=self.input_ttl)
            kept += 1
        return kept

    async def learn(self, decision: ReviewDecided) -> dict[str, Any]:
        """Apply one analyst decision to every model that scored its events (the learner)."""
        decision_id = str(decision.payload.decision_id)
        if await self.redis.sismember(APPLIED, decision_id):
            return {"skipped": "already applied"}
        await self.refresh()  # never learn on top of a stale snapshot
        label = LABEL_OF_OUTCOME[decision.payload.outcome]
        changed: set[str] = set()
        outcomes = []
        if label is not None:
            for event_id in dict.fromkeys(str(e) for e in decision.payload.event_ids):
                keys = [input_key(event_id, m) for m in self.by_id]
                for model_id, raw in zip(self.by_id, await self.redis.mget(keys)):
                    if raw is None:
                        continue
                    stored = json.loads(raw)
                    at = datetime.fromisoformat(stored["occurred_at"])
                    outcome = learn_from_label(
                        self.by_id[model_id], stored["x"], label,
                        consent_at_event=await self.consent.as_of(stored["subject_id"], at),
                        consent_now=await self.consent.latest(stored["subject_id"]),
                        event_time=at)
                    result = "learned" if outcome.learned else outcome.reason.split(":")[0]
                    metrics.MODEL_LABELS.labels(model_id, result).inc()
                    outcomes.append({"event_id": event_id, **outcome.as_dict()})
                    if outcome.learned:
                        changed.add(model_id)
        await self._publish(changed, decision_id)
        return {"learned": sorted(changed), "outcomes": outcomes}

    async def _publish(self, changed: set[str], decision_id: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        new_versions = {}
        for model_id in sorted(changed):
            model = self.by_id[model_id]
            version = self.versions[model_id] + 1
            pipe.set(snapshot_key(model_id, version), model.snapshot())
            pipe.set(version_key(model_id), version)
            # Keep the previous snapshot a while for scorers mid-restore; older ones expire.
            pipe.expire(snapshot_key(model_id, version - 1), 3600)
            new_versions[model_id] = version
        pipe.sadd(APPLIED, decision_id)
        await pipe.execute()
        for model_id, version in new_versions.items():
            model = self.by_id[model_id]
            self.versions[model_id] = version
            new_drifts = model.drift_count - self.exported_drifts[model_id]
            if new_drifts > 0:
                metrics.MODEL_DRIFTS.labels(model_id).inc(new_drifts)
                self.exported_drifts[model_id] = model.drift_count
            self._export(model)
