"""The platform's answers: ``action.applied`` / ``action.failed`` and ``appeal.filed`` events,
handed to the review queue once their batch is decided.

They come through Kafka like every input (``tns.action_results``, ``tns.appeals``), so the
worker's guarantees hold for them: a fetch is acknowledged only once written, an invalid event
is a dead letter, a redelivered one changes nothing (the queue's scripts are idempotent by event
id, and by decision for appeals). An acknowledgement for an action nobody published to that
user, or an appeal the queue refuses (another user's decision, nothing to appeal), is
dead-lettered as ``refused`` with the reason, so a forged or mistaken event is never silently
dropped. Rare events: a batch without any costs one ``isinstance`` per event.
"""

from __future__ import annotations

from pipeline import metrics
from pipeline.review.queue import ReviewQueue
from pipeline.worker.batches import Done
from pipeline.worker.parking import PARKED, DeadLetterSink, Parking
from schemas.events import PLATFORM_EVENTS, ActionApplied, ActionFailed, AppealFiled


class PlatformStep:
    def __init__(self, queue: ReviewQueue, dead_letters: DeadLetterSink, parking: Parking) -> None:
        self.queue = queue
        self.dead_letters = dead_letters
        self.parking = parking

    async def apply(self, done: list[Done]) -> list[Done]:
        """Record the batch's platform events on their cases; returns the events kept (not
        refused or parked)."""
        if not any(isinstance(one.event, PLATFORM_EVENTS) for one in done):
            return done
        kept = []
        for one in done:
            event = one.event
            if isinstance(event, ActionApplied | ActionFailed):
                refusal = await self._acknowledge(one, event)
            elif isinstance(event, AppealFiled):
                refusal = await self._appeal(one, event)
            else:
                kept.append(one)
                continue
            if refusal is PARKED:
                continue
            if refusal:
                await self.dead_letters.send(one.message, "refused", refusal)
                continue
            kept.append(one)
        return kept

    async def _acknowledge(self, one: Done, event: ActionApplied | ActionFailed) -> object:
        result = await self.parking.attempt(one.message, event,
                                            lambda: self.queue.acknowledge(event))
        if result is PARKED:
            return PARKED
        metrics.ACTION_RESULTS.labels(result.action or "unknown", result.status).inc()
        return result.reason if result.status == "unknown" else None

    async def _appeal(self, one: Done, event: AppealFiled) -> object:
        result = await self.parking.attempt(one.message, event,
                                            lambda: self.queue.file_appeal(event))
        if result is PARKED:
            return PARKED
        return result.reason if result.status == "refused" else None
