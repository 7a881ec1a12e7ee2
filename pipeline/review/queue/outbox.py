"""The outboxes a decision writes in the same step as itself: its ``review.decided`` event
(``outbox``) and its platform actions (``outbox:actions``, by action id); the review service's
relay (:class:`pipeline.review.web.relay.OutboxRelay`) publishes and marks them."""

from __future__ import annotations

from pipeline.review.queue.base import QueueBase, as_str
from pipeline.review.queue.keys import K

#: The decision events' outbox and the actions' (each a ``:pending`` and a ``:published`` hash).
DECISIONS_OUTBOX = K + "outbox"
ACTIONS_OUTBOX = K + "outbox:actions"


class Outbox(QueueBase):
    async def outbox_pending(self, outbox: str = DECISIONS_OUTBOX) -> dict[str, str]:
        """Entries not yet published, by id (decision id or action id; JSON text)."""
        raw = await self.redis.hgetall(outbox + ":pending")
        return {as_str(k): as_str(v) for k, v in raw.items()}

    async def mark_published(self, entry_id: str, outbox: str = DECISIONS_OUTBOX) -> bool:
        """Mark an entry delivered; False if it was not pending (another relay was first)."""
        return bool(await self.scripts.mark_published(args=[entry_id, repr(self.clock()), outbox]))
