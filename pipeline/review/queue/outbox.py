"""The outbox of ``review.decided`` events a decision wrote in the same step as itself; the
review service's relay (:class:`pipeline.review.web.relay.OutboxRelay`) publishes and marks them."""

from __future__ import annotations

from pipeline.review.queue.base import QueueBase, as_str
from pipeline.review.queue.keys import K


class Outbox(QueueBase):
    async def outbox_pending(self) -> dict[str, str]:
        """Events not yet published, by decision id (JSON text)."""
        raw = await self.redis.hgetall(K + "outbox:pending")
        return {as_str(k): as_str(v) for k, v in raw.items()}

    async def mark_published(self, decision_id: str) -> bool:
        """Mark a decision's event delivered; False if it was not pending (another relay was first)."""
        return bool(await self.scripts.mark_published(args=[decision_id, repr(self.clock())]))
