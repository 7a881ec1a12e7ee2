"""Labelling cases: events the sampler sent to review although no detector flagged them.

A :class:`detectors.sampling.Sample` opens a low-priority case of its own kind (``labelling``)
for the one event, in its own index (``vigil:labelling``), never the detection queue: queue
depth, SLA figures and their alerts stay about detections, and a labelling case has no SLA. It
is worked and decided like any case (claim, decide, ``review.decided``), and its decision teaches
the models exactly as a flag case's does. Every sample is recorded under ``vigil:sample:<event>``
(its reason, inclusion probability, the detectors that fired): a random sample whose event is in
a flag's case records that case instead of opening one (its label comes from there), so the
random stratum covers flagged events too, for the estimates (:mod:`.estimates`).

Idempotent by event id: a redelivered event opens no second case and spends no budget twice. A
model's pick also spends its budget here, in the same script, so the day's count in Redis is
exact across workers and restarts (the worker's own count is only a cache of it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from detectors.ruleset import case_entity
from detectors.sampling import Sample
from pipeline import metrics
from pipeline.review.queue.base import QueueBase, as_str
from pipeline.review.queue.policy import minute_of
from schemas.events import Envelope

#: The sorted sets of labelling cases by status (the detection ones are in keys.STATUS_SET).
LABELLING_SET = {"open": "vigil:labelling", "escalated": "vigil:labelling:escalated",
                 "closed": "vigil:labelling:closed"}
NOT_A_DETECTION = "sampled for labelling, not a detection"


def budget_key(model_id: str, day: str) -> str:
    """The day's count of a model's picks (event-time day)."""
    return f"vigil:sample_budget:{model_id}:{day}"


def labelling_case_id(event_id: str) -> str:
    """One labelling case per sampled event.

    >>> labelling_case_id("5f1c3a52-3d6a-4c37-9d8c-1d1c2f64b7a0")
    'lab_5f1c3a523d6a4c379d8c'
    """
    return "lab_" + event_id.replace("-", "")[:20]


def describe(sample: Sample) -> str:
    """The reason a labelling case shows in the queue.

    >>> describe(Sample("e", "message.sent", "2026-01-01", "random", 0.01))
    'sampled for labelling, not a detection: random sample (p=0.01)'
    """
    if sample.random:
        return f"{NOT_A_DETECTION}: random sample (p={sample.inclusion_probability:g})"
    why = "score near its threshold" if sample.reason == "uncertainty" else "cold start"
    return f"{NOT_A_DETECTION}: {sample.model_id} asks ({why})"


@dataclass(frozen=True)
class SampleResult:
    """What adding one sample did: ``opened``, ``linked``, ``duplicate``, ``flagged``,
    ``budget`` (or ``error`` with the reason Redis gave)."""

    written: bool
    case_id: str
    status: str
    #: The model's picks that day after this one (None: a random sample, or not counted).
    spent: int | None
    error: str | None = None


class Labelling(QueueBase):
    """Adding the sampler's events to the queue: the worker's side."""

    def add_samples_to(self, pipe: Any, samples: Sequence[tuple[Envelope, Sample, Sequence[str]]],
                       budget: int) -> Callable[[Any], list[SampleResult]]:
        """Queue the samples (each with its event and its flags' ids) on a pipeline, one
        ``EVALSHA`` after the batch's flags (so a flag's case is seen); returns what reads the
        reply. ``budget`` is the picks a model may make per day. A reply of
        :class:`redis.exceptions.NoScriptError` means :meth:`load_scripts`, then again."""
        pipe.evalsha(self.scripts.add_samples.sha, 0, self._argument(samples, budget))
        return lambda reply: self._results(samples, reply)

    async def add_samples(self, samples: Sequence[tuple[Envelope, Sample, Sequence[str]]],
                          budget: int) -> list[SampleResult]:
        """:meth:`add_samples_to` in a call of its own."""
        reply = await self.scripts.add_samples(args=[self._argument(samples, budget)])
        return self._results(samples, reply)

    def _argument(self, samples: Sequence[tuple[Envelope, Sample, Sequence[str]]],
                  budget: int) -> bytes:
        now = self.clock()
        return orjson.dumps([self._sample_args(event, sample, flag_ids, budget, now)
                             for event, sample, flag_ids in samples])

    def _sample_args(self, event: Envelope, sample: Sample, flag_ids: Sequence[str],
                     budget: int, now: float) -> list[str]:
        entity_type, entity_id = case_entity(event)
        envelope = orjson.dumps(event.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS,
                                default=str).decode()
        zscore = -self.config.age_weight_per_hour * now / 3600  # oldest first, as priority ages
        return [
            sample.event_id, orjson.dumps(sample.as_dict()).decode(),
            f"{entity_type}:{entity_id}", entity_type, entity_id, event.subject_id,
            labelling_case_id(sample.event_id), repr(now), envelope,
            orjson.dumps(list(flag_ids)).decode(),
            budget_key(sample.model_id, sample.day) if sample.model_id else "", str(budget),
            minute_of(now), "1" if sample.random else "0", describe(sample), sample.event_type,
            sample.reason, repr(zscore),
        ]

    @staticmethod
    def _results(samples: Sequence[tuple[Envelope, Sample, Sequence[str]]],
                 reply: Any) -> list[SampleResult]:
        out = []
        for (_, sample, _), item in zip(samples, reply):
            if item[0] == -1:
                out.append(SampleResult(False, "", "error", None, as_str(item[1])))
                metrics.SAMPLES.labels(sample.event_type, sample.reason, "error").inc()
                continue
            written, case_id, status, spent = item
            status = as_str(status)
            metrics.SAMPLES.labels(sample.event_type, sample.reason, status).inc()
            out.append(SampleResult(bool(written), as_str(case_id), status,
                                    int(spent) if int(spent) >= 0 else None))
        return out
