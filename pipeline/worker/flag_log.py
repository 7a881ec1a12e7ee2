"""``tns.flags``, the flag log: every flag whose case exists, published for downstream readers."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pipeline import metrics
from pipeline.review.queue import AddResult
from pipeline.worker.observe import seconds_since
from schemas.outputs import Flag, FlagRecord
from schemas.topics import Topics

log = logging.getLogger("vigil.worker")


class FlagLog:
    """Publishes flags through ``app``'s producer (read when sending: faust builds it lazily)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def publish(self, flag: Flag, added: AddResult) -> None:
        """Publish a flag whose case exists to ``tns.flags``: its :class:`FlagRecord`, with the
        case id from the queue's reply (``added``), keyed by the case entity.

        Straight to faust's producer, not through ``Topic.send`` (whose channel machinery cost
        more than the send): offsets are still committed only after that producer is flushed.
        The partition is aiokafka's choice for the key (murmur2, as a Java client's).
        """
        record = FlagRecord.of(flag, added.case_id, added.suppressed)
        delivery = await self.app.producer.send(
            Topics.FLAGS, f"{flag.entity_type}:{flag.entity_id}".encode(),
            record.model_dump_json().encode(), None, None, None)
        delivery.add_done_callback(_delivered)
        metrics.FLAGS_PUBLISHED.labels(flag.detector_id).inc()
        metrics.EVENT_TO_FLAG.observe(seconds_since(flag.occurred_at))


def _delivered(delivery: asyncio.Future[Any]) -> None:
    # The case exists already; the flag log misses this one (the alert says so).
    if not delivery.cancelled() and delivery.exception() is not None:
        log.error("a flag was not written to %s: %r", Topics.FLAGS, delivery.exception())
        metrics.FLAGS_PUBLISH_FAILED.inc()
