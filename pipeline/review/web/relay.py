"""The outbox relay: publishes the ``review.decided`` events that decisions wrote to the outbox
(to ``tns.decisions``) and their platform actions (to ``tns.actions``, keyed by subject).

A decision writes its event to ``vigil:outbox:pending`` in the same Lua step that records it, so a
crash between Redis and Kafka loses nothing: the next relay run (in this or another instance)
publishes it, and only a delivered event is marked published. The event id is derived from the
decision id, so in the one remaining window (Kafka acknowledged, the process died before marking)
a republished event carries the same ``event_id`` and consumers drop it as a duplicate; an
action carries its derived ``action_id`` the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable

from pipeline import metrics
from pipeline.kafka.publisher import Publisher, PublishError
from pipeline.review.queue import ReviewQueue
from pipeline.review.queue.outbox import ACTIONS_OUTBOX, DECISIONS_OUTBOX
from schemas.topics import Topics

log = logging.getLogger("vigil.review.relay")
LOCK = "vigil:outbox:lock"
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class OutboxRelay:
    def __init__(self, queue: ReviewQueue, publisher: Callable[[], Publisher], *,
                 lock_ms: int = 60_000) -> None:
        self.queue = queue
        self._make_publisher = publisher
        self._publisher: Publisher | None = None
        self.lock_ms = lock_ms
        self.wake = asyncio.Event()
        self._unlock = queue.redis.register_script(_UNLOCK)

    def publisher(self) -> Publisher:
        if self._publisher is None:
            self._publisher = self._make_publisher()
        return self._publisher

    async def run_once(self) -> int:
        """Publish every pending decision event and action; returns how many were published
        and marked."""
        pending = await self.queue.outbox_pending()
        actions = await self.queue.outbox_pending(ACTIONS_OUTBOX)
        if not pending and not actions:
            return 0
        token = secrets.token_hex(8)
        # One relay at a time, so two service instances do not both send the same backlog.
        if not await self.queue.redis.set(LOCK, token, nx=True, px=self.lock_ms):
            return 0
        try:
            delivered: list[str] = []
            sent: list[str] = []

            def send() -> None:
                publisher = self.publisher()
                for decision_id, event in pending.items():
                    publisher.publish(json.loads(event),
                                      on_delivered=lambda d=decision_id: delivered.append(d))
                for action_id, record in actions.items():
                    key = json.loads(record)["subject_id"].encode()
                    publisher.publish_record(Topics.ACTIONS, action_id, record.encode(), key=key,
                                             on_delivered=lambda a=action_id: sent.append(a))
                publisher.flush(timeout=30)

            try:
                await asyncio.to_thread(send)
            except PublishError as exc:
                log.warning("outbox: %s; will retry", exc)
            marked = 0
            for decision_id in delivered:
                marked += await self.queue.mark_published(decision_id, DECISIONS_OUTBOX)
            for action_id in sent:
                if await self.queue.mark_published(action_id, ACTIONS_OUTBOX):
                    marked += 1
                    metrics.ACTIONS_PUBLISHED.labels(json.loads(actions[action_id])["kind"]).inc()
            return marked
        finally:
            await self._unlock(keys=[LOCK], args=[token])

    async def run(self, interval: float) -> None:
        """Relay until cancelled: on each decision (``wake``) and every ``interval`` seconds."""
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # Kafka or Redis down: the events stay pending; try again
                log.exception("outbox relay failed; retrying")
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass
            self.wake.clear()

    def close(self) -> None:
        """Flush and drop the Kafka producer (its connections close with it)."""
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            try:
                publisher.flush(timeout=5)
            except PublishError:
                pass
