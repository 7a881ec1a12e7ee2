"""The models a worker scores with, kept in step with the learner's snapshots.

Design (README, "Models in the worker"): every worker is a scorer. It polls the snapshot versions
the learner (:mod:`pipeline.models.learner`) publishes and restores newer ones, so all workers
score with a model that has learned from every label. For each event it scored it hands the
learner what the models saw, written in the batch's round trip: the inputs an analyst's label may
later teach (:meth:`Scorer.queue_inputs`), and, for models with an unsupervised part (the signup
model's Half-Space Trees), every unlabelled input on a capped Redis stream
(:meth:`Scorer.queue_unlabelled`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson
from redis.asyncio import Redis

from detectors.models.base import OnlineModel
from detectors.results import Decision
from detectors.sampling import content_of
from pipeline import metrics
from pipeline.models.keys import (
    content_key,
    input_key,
    snapshot_key,
    unlabelled_key,
    version_key,
)
from schemas.events import Envelope

#: Unlabelled inputs waiting for the learner, per model; it reads them every couple of seconds.
#: If the learner is away long enough the oldest are dropped: a little anomaly warm-up, no more.
UNLABELLED_MAXLEN = 20_000


class Scorer:
    """The models this worker scores with (calling it returns them, without I/O)."""

    def __init__(self, redis: Redis, models: Sequence[OnlineModel], *,
                 input_ttl_seconds: int = 30 * 86400, report_ttl_seconds: int = 0) -> None:
        self.redis = redis
        self.models = list(models)
        self.by_id = {m.id: m for m in self.models}
        #: The snapshot version each model runs (the learner advances it when it publishes).
        self.versions: dict[str, int] = {m.id: 0 for m in self.models}
        self.input_ttl = input_ttl_seconds
        #: How long the input of a message, proposal or job post neither flagged nor sampled is
        #: kept for a user report to label it (0: not kept).
        self.report_ttl = report_ttl_seconds
        #: Models with an unsupervised part: they learn from every input they scored.
        self.observers = {m.id for m in self.models if getattr(m, "observes_unlabelled", False)}
        # Learning, observing and restoring change the models in place: one at a time.
        self.lock = asyncio.Lock()

    def __call__(self) -> list[OnlineModel]:
        return self.models

    async def refresh(self) -> int:
        """Restore every model whose snapshot is newer than ours; returns how many."""
        async with self.lock:
            return await self.restore_newer()

    async def restore_newer(self, client: Redis | None = None) -> int:
        """:meth:`refresh` for a caller that holds :attr:`lock`. A learner round passes its
        WATCHing pipeline: the versions it read are then the ones watched."""
        client = client if client is not None else self.redis
        ids = list(self.by_id)
        current = await client.mget([version_key(i) for i in ids])
        restored = 0
        for model_id, raw in zip(ids, current):
            version = int(raw or 0)
            if version <= self.versions[model_id]:
                continue
            blob = await client.get(snapshot_key(model_id, version))
            if blob is None:
                continue
            self.by_id[model_id].restore(blob)
            self.versions[model_id] = version
            restored += 1
            self.export(self.by_id[model_id])
        return restored

    def export(self, model: OnlineModel) -> None:
        """Set the gauges of the version this worker runs."""
        metrics.MODEL_VERSION.labels(model.id).set(self.versions[model.id])
        metrics.MODEL_ERROR_RATE.labels(model.id).set(model.error_rate)

    def queue_inputs(self, pipe: Any, event: Envelope, decision: Decision,
                     keep: bool = True) -> int:
        """Remember what each AI detector saw, so a label however late can teach exactly it.

        ``keep``: the event may get an analyst's label (flagged or sampled): kept for the input
        TTL. Otherwise only content a user report can name (a message, proposal or job post),
        for the report window. Content also gets its index entry (content id -> event id), so a
        decision on a report about it finds what the models saw."""
        ttl = self.input_ttl if keep else self.report_ttl
        content = content_of(event) if ttl else None
        if not keep and content is None:
            return 0
        kept = 0
        for result in decision.results:
            if result.model_input is None or result.detector_id not in self.by_id:
                continue
            record = {"x": result.model_input, "subject_id": event.subject_id,
                      "occurred_at": event.occurred_at.isoformat()}
            pipe.set(input_key(event.id, result.detector_id), orjson.dumps(record), ex=ttl)
            kept += 1
        if kept and content is not None:
            pipe.set(content_key(*content), event.id, ex=ttl)
        return kept

    def queue_unlabelled(self, pipe: Any, event: Envelope, decision: Decision) -> int:
        """Hand the learner what each model with an unsupervised part saw of ``event``. Only a
        model that scored the event (the consent gate let it) has an input to hand over."""
        queued = 0
        for result in decision.results:
            if result.model_input is None or result.detector_id not in self.observers:
                continue
            pipe.xadd(unlabelled_key(result.detector_id), {
                "event_id": event.id, "subject_id": event.subject_id,
                "occurred_at": event.occurred_at.isoformat(),
                "x": orjson.dumps(result.model_input)},
                maxlen=UNLABELLED_MAXLEN, approximate=True)
            queued += 1
        return queued
