"""The subject's history and the reported content's author: what the worker records of every event.

Two things are kept per event, both bounded, both written in the worker's write round trip
(:meth:`History.record_to`) and both idempotent (a redelivered event writes the same values):

* ``history:<user>``: a sorted set (by event time) of a short summary of each of the user's
  events, every type (ids, type, time, consent state, report reason: no free text, no e-mail or
  IP address), at most ``history_events`` of them, none older than ``history_retention_seconds``.
  The case page shows it as the subject's timeline, with the decisions on the subject.
* ``content:<type>:<id>`` for a message or proposal: its author, its event id and envelope, for
  ``report_content_seconds``. A user report about that content then joins the author's case
  (``lua/add_flags.lua`` reads it) and the case shows the content. A report that arrives before
  the content (or after the window) opens a case for the content itself, as before, and the
  case says the author is not known.

>>> SUMMARY_FIELDS["consent.changed"]
('ai_features', 'policy_version')
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from pipeline.review.queue.base import QueueBase, as_str
from pipeline.review.queue.keys import K
from pipeline.stores.consent import PREFIX as CONSENT_PREFIX
from pipeline.stores.consent import RedisConsentStore
from schemas.events import Envelope

#: The content a user report can name whose author the worker records, by event type.
CONTENT_EVENTS = {"message.sent": ("message", "message_id"),
                  "proposal.submitted": ("proposal", "proposal_id")}
#: The payload fields a history entry keeps, by event type: ids, states and reasons only.
SUMMARY_FIELDS: dict[str, tuple[str, ...]] = {
    "user.signed_up": ("account_type", "country"),
    "job_post.created": ("job_id", "budget_type", "genai_restricted"),
    "message.sent": ("message_id", "thread_id", "recipient_id", "has_active_contract"),
    "proposal.submitted": ("proposal_id", "job_id", "ai_assisted"),
    "consent.changed": ("ai_features", "policy_version"),
    "user_report.filed": ("target_type", "target_id", "reason"),
    "profile.updated": (),
}


def history_key(subject_id: str) -> str:
    """A user's history (sorted set by event time).

    >>> history_key("u1")
    'vigil:history:u1'
    """
    return f"{K}history:{subject_id}"


def content_key(content_type: str, content_id: str) -> str:
    """Who wrote a message or proposal, its event id and envelope (a hash).

    >>> content_key("message", "m1")
    'vigil:content:message:m1'
    """
    return f"{K}content:{content_type}:{content_id}"


def summary(event: Envelope) -> dict[str, Any]:
    """What a history entry keeps of an event (deterministic: a redelivery adds no entry)."""
    payload = event.payload.model_dump(mode="json")
    fields = SUMMARY_FIELDS.get(event.type, ())
    return {"event_id": str(event.id), "type": event.type,
            "occurred_at": event.occurred_at.isoformat(),
            "payload": {f: payload[f] for f in fields if f in payload}}


class History(QueueBase):
    """Recording events (the worker) and reading a subject's timeline (the review service)."""

    def record_to(self, pipe: Any, events: Iterable[Envelope], now: float) -> None:
        """Queue the history entries and content authors of ``events`` on ``pipe``."""
        config = self.config
        keep, retention = config.history_events, config.history_retention_seconds
        touched: set[str] = set()
        for event in events:
            key = history_key(event.subject_id)
            pipe.zadd(key, {orjson.dumps(summary(event), option=orjson.OPT_SORT_KEYS):
                            event.occurred_at.timestamp()})
            touched.add(key)
            content = CONTENT_EVENTS.get(event.type)
            if content is not None and config.report_content_seconds:
                kind, field = content
                ckey = content_key(kind, getattr(event.payload, field))
                envelope = orjson.dumps(event.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
                pipe.hset(ckey, mapping={"author": event.subject_id, "event_id": str(event.id),
                                         "envelope": envelope})
                pipe.expire(ckey, config.report_content_seconds)
        for key in touched:  # once per user per batch, whatever the user sent
            pipe.zremrangebyscore(key, "-inf", f"({now - retention}")
            pipe.zremrangebyrank(key, 0, -keep - 1)
            pipe.expire(key, retention)

    async def timeline(self, subject_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """The subject's recorded events, newest first, each with the AI-features consent in
        force when it happened, from the consent registry (which keeps every change, so an
        event older than the history's first consent change still gets its state)."""
        raw = await self.redis.zrange(history_key(subject_id), 0, -1)
        entries = [json.loads(as_str(r)) for r in raw]
        changes = await self.redis.zrange(CONSENT_PREFIX + subject_id, 0, -1, withscores=True)
        times, states = [], []
        for member, at in changes:
            record = RedisConsentStore.parse([member])
            times.append(at)
            states.append(getattr(record, "state", "unreadable"))
        for entry in entries:
            at = datetime.fromisoformat(entry["occurred_at"]).timestamp()
            i = bisect.bisect_right(times, at)
            entry["consent"] = states[i - 1] if i else None
        return list(reversed(entries))[:limit]
