"""Retention: closed cases leave the queue ``case_retention_days`` after their decision, with
everything that belongs to them, and the audit log drops entries older than
``audit_retention_days``. The review service's sampler runs :meth:`Retention.enforce_retention`
every ten minutes; ``now`` is the queue's clock, so a test moves it.

A case goes whole, in one MULTI under ``WATCH`` of its hash (a case reopened by an appeal in
the meantime is left for the next round): its hash and lists (flags, suppressed flags, samples,
notes, reported content, decisions, actions), its flags and their flagged events, its samples,
its decisions (and their entries in the entity's and the subject's decision lists, and the
appeal each opened), its platform actions, its place in the status sets and the search index.
An appeal case is a case of its own and goes when its own decision is old enough.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from redis.exceptions import WatchError

from pipeline.review.queue.base import QueueBase, as_str
from pipeline.review.queue.keys import APPEAL_SETS, STATUS_SET, K, case_key, sample_key
from pipeline.review.queue.labelling import LABELLING_SET
from pipeline.review.queue.search import terms_of

DAY = 86400.0
#: The sets that hold closed cases by decision time.
CLOSED_SETS = (STATUS_SET["closed"], LABELLING_SET["closed"], APPEAL_SETS["closed"])
#: Every set a case id can be a member of.
_CASE_SETS = (*STATUS_SET.values(), *APPEAL_SETS.values(), *LABELLING_SET.values(),
              K + "sla", K + "sla:pending")
#: A case's own keys, by suffix.
_OWN = ("case:{}", "case:{}:flags", "case:{}:samples", "case_dedup:{}", "case_suppressed:{}",
        "case_notes:{}", "case_content:{}", "case_content_seen:{}", "case_decisions:{}",
        "case_actions:{}")


class Retention(QueueBase):
    """Enforcing the queue's retention periods."""

    async def enforce_retention(self, *, batch: int = 500) -> dict[str, int]:
        """One round: closed cases past their retention purged (at most ``batch`` per set),
        audit entries past theirs trimmed. Returns what went."""
        now = self.clock()
        out = {"cases": 0, "audit_entries": 0}
        if self.config.case_retention_days:
            before = now - self.config.case_retention_days * DAY
            purged: set[str] = set()
            for closed in CLOSED_SETS:
                for raw in await self.redis.zrangebyscore(closed, "-inf", f"({before}",
                                                          start=0, num=batch):
                    if await self.purge_case(as_str(raw)):
                        purged.add(as_str(raw))
            out["cases"] = len(purged)
            await self._forget_recent_flags(purged)
        if self.config.audit_retention_days:
            out["audit_entries"] = await self._trim_audit(
                now - self.config.audit_retention_days * DAY)
        return out

    async def _forget_recent_flags(self, cases: set[str]) -> None:
        # The recent-flags stream (capped at ~10,000) names flags and cases: none outlives them.
        if not cases:
            return
        entries = await self.redis.xrange(K + "flags:recent")
        gone = [i for i, f in entries if as_str(f.get(b"case_id", b"")) in cases]
        if gone:
            await self.redis.xdel(K + "flags:recent", *gone)

    async def _trim_audit(self, floor: float) -> int:
        """Drop the audit entries written (``at``, the queue's clock) before ``floor``: the
        log is in time order, so up to the first younger entry."""
        start, page = "-", 1000
        while True:
            entries = await self.redis.xrange(K + "audit", min=start, count=page)
            for entry_id, fields in entries:
                if float(as_str(fields.get(b"at", b"0"))) >= floor:
                    return await self.redis.xtrim(K + "audit", minid=as_str(entry_id),
                                                  approximate=False)
            if len(entries) < page:
                return await self.redis.xtrim(K + "audit", maxlen=0, approximate=False)
            start = "(" + as_str(entries[-1][0])

    async def purge_case(self, case_id: str) -> int:
        """Delete one closed case and everything of it; 1 if it went, 0 if not (not closed)."""
        key = case_key(case_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.watch(key)
            case = {as_str(k): as_str(v) for k, v in (await pipe.hgetall(key)).items()}
            if not case:  # gone already (an earlier round stopped half way): its ids too
                await pipe.unwatch()
                for closed in CLOSED_SETS:
                    await self.redis.zrem(closed, case_id)
                return 0
            if case.get("status") != "closed":
                await pipe.unwatch()
                return 0
            doomed = await _belongings(pipe, case_id, case)
            pipe.multi()
            _queue_purge(pipe, case_id, case, doomed, self.search_key)
            try:
                await pipe.execute()
            except WatchError:  # changed meanwhile (an appeal opened): the next round
                return 0
        return 1


async def _belongings(pipe: Any, case_id: str, case: dict[str, str]) -> dict[str, Any]:
    """What a case holds, read (watched) before its purge."""
    flag_ids = [as_str(f) for f in await pipe.lrange(f"{K}case:{case_id}:flags", 0, -1)]
    flag_ids += [as_str(f) for f in await pipe.lrange(f"{K}case_suppressed:{case_id}", 0, -1)]
    flags = [json.loads(f) for f in await pipe.mget([f"{K}flag:{i}" for i in flag_ids]) if f] \
        if flag_ids else []
    samples = [as_str(e) for e in await pipe.lrange(f"{K}case:{case_id}:samples", 0, -1)]
    decisions = await pipe.lrange(f"{K}case_decisions:{case_id}", 0, -1)
    actions = [as_str(a) for a in await pipe.lrange(f"{K}case_actions:{case_id}", 0, -1)]
    event_ids = list(dict.fromkeys(f["event_id"] for f in flags if f.get("event_id")))
    events = await pipe.mget([f"{K}event:{e}" for e in event_ids]) if event_ids else []
    return {"flag_ids": flag_ids, "samples": samples, "decisions": decisions,
            "actions": actions, "event_ids": event_ids,
            "events": [orjson.loads(e) for e in events if e]}


def _queue_purge(pipe: Any, case_id: str, case: dict[str, str], doomed: dict[str, Any],
                 search_key: bytes) -> None:
    entity, subject = case.get("entity", ""), case.get("subject_id", "")
    pipe.delete(*(K + own.format(case_id) for own in _OWN))
    for flag_id in doomed["flag_ids"]:
        pipe.delete(f"{K}flag:{flag_id}")
    if doomed["flag_ids"]:
        pipe.hdel(K + "flag_case", *doomed["flag_ids"])
        pipe.hdel(K + "flag_suppressed", *doomed["flag_ids"])
    for event_id in doomed["event_ids"]:  # a flagged event's sample is of its case too
        pipe.delete(f"{K}event:{event_id}", sample_key(event_id))
    for event_id in doomed["samples"]:
        pipe.delete(sample_key(event_id))
    for raw in doomed["decisions"]:
        decision_id = json.loads(raw).get("decision_id", "")
        pipe.delete(f"{K}decision:{decision_id}", f"{K}appeal_of:{decision_id}")
        pipe.lrem(f"{K}entity_decisions:{entity}", 0, raw)
        if subject:
            pipe.lrem(f"{K}subject_decisions:{subject}", 0, raw)
    for action_id in doomed["actions"]:
        pipe.delete(f"{K}action:{action_id}")
    if entity:
        pipe.lrem(f"{K}entity_cases:{entity}", 0, case_id)
    for members in _CASE_SETS:
        pipe.zrem(members, case_id)
    terms = _search_terms(case_id, case, doomed["events"], search_key)
    pipe.zrem(K + "search", *terms)
    pipe.zrem(K + "search:at", *terms)


def _search_terms(case_id: str, case: dict[str, str], events: list[Any],
                  key: bytes) -> list[str]:
    """The case's members of the search index, as intake wrote them (lua/search.lua)."""
    terms = [t for e in events for t in terms_of(e, key)] + [f"case:{case_id}"]
    entity_type, entity_id = case.get("entity_type", ""), case.get("entity_id", "")
    if entity_type == "user":
        terms.append(f"user:{entity_id}")
    if entity_type == "job_post":
        terms.append(f"job:{entity_id}")
    if case.get("subject_id"):
        terms.append(f"user:{case['subject_id']}")
    return [f"{t} {case_id}" for t in dict.fromkeys(terms)]
