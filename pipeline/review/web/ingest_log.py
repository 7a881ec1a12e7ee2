"""The ingest log: which token published which event through ``POST /api/events``.

A capped Redis stream (``vigil:ingest_log``, ``VIGIL_REVIEW_INGEST_LOG_MAX`` entries, trimmed
exactly on every write), not the audit log: it holds one entry per event a service sends, so it
grows with traffic and must drop its oldest entries, where the audit log keeps every analyst
action for good (and would drown in events). Refusals (a type or producer outside the token's
scope) are kept as well as publications; entries carry ids only (event, subject, token name),
no personal data. Leads read it at ``GET /api/ingest-log``.

An event of an erased user (:mod:`pipeline.privacy.erased`: the workers drop it) is logged
under the user's pseudonym, never their id: the log learns of an erasure within
:data:`ERASED_REFRESH` seconds of its request, and the erasure's second pass, ``settle``
seconds later, removes what it logged meanwhile.
"""

from __future__ import annotations

from typing import Any, Literal

from redis.asyncio import Redis

from pipeline.privacy.erased import ErasedUsers
from pipeline.review.queue import iso

LOG = "vigil:ingest_log"
ERASED_REFRESH = 1.0
Outcome = Literal["published", "refused", "failed"]


class IngestLog:
    """Who published which event, newest first, capped at ``max_entries``."""

    def __init__(self, redis: Redis, max_entries: int, erased: ErasedUsers) -> None:
        self.redis = redis
        self.max_entries = max_entries
        self.erased = erased
        self._refreshed_at = float("-inf")

    async def record(self, *, at: float, publisher: str, event: Any, outcome: Outcome,
                     reason: str = "") -> None:
        if at - self._refreshed_at >= ERASED_REFRESH or at < self._refreshed_at:
            await self.erased.refresh(self.redis)
            self._refreshed_at = at
        subject = event.subject_id
        if self.erased.pseudonyms and self.erased.pseudonym(subject) in self.erased.pseudonyms:
            subject = self.erased.pseudonym(subject)
        await self.redis.xadd(LOG, {
            "at": repr(at), "publisher": publisher, "event_id": str(event.event_id),
            "type": event.type, "producer": event.producer, "subject_id": subject,
            "outcome": outcome, "reason": reason[:500]}, maxlen=self.max_entries,
            approximate=False)

    async def read(self, *, limit: int, before: str | None = None, publisher: str | None = None,
                   outcome: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Up to ``limit`` entries older than ``before`` that match; and the next cursor."""
        out: list[dict[str, Any]] = []
        end = f"({before}" if before else "+"
        while len(out) < limit:
            batch = await self.redis.xrevrange(LOG, max=end, min="-", count=max(limit, 200))
            if not batch:
                return out, None
            for entry_id, fields in batch:
                entry = {k.decode(): v.decode() for k, v in fields.items()}
                end = f"({entry_id.decode()}"
                if (publisher and entry["publisher"] != publisher) or (
                        outcome and entry["outcome"] != outcome):
                    continue
                out.append({"id": entry_id.decode(), **entry, "at": iso(float(entry["at"]))})
                if len(out) == limit:
                    return out, out[-1]["id"]
        return out, None
