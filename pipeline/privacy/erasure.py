"""Erasure: a user's data removed, or irreversibly pseudonymised, in every Redis store Vigil keeps.

A request (:meth:`Eraser.request`: from an ``erasure.requested`` event, or ``vigil privacy
erase``) is recorded at once, durably, in :data:`PENDING` (under the user's pseudonym; the raw
id stays there only until the erasure is done) and in :data:`~pipeline.models.keys.ERASED`,
which from then on makes every worker drop events about the user (the late-event rule,
:class:`ErasedUsers`) and the learner unlearn them (:mod:`pipeline.models.unlearning`).

The erasure itself is two passes over the keyspace (:meth:`Eraser.run_due`), each:

1. *discover*: the user's own records (their events, in cases, join books and content stores)
   give away their e-mail, IP, device id, names, texts and event ids;
2. *erase*: every key is planned (:func:`~pipeline.privacy.plan.plan_key`) and changed, each
   under ``WATCH`` so a concurrent write is never lost.

The second pass runs ``settle`` seconds after the first: long enough for every worker to have
read the erased set, so what an event in flight wrote meanwhile goes too. A pass is idempotent,
so a worker killed mid-pass leaves the request pending and the next pass (any worker that owns
``tns.privacy``, or ``vigil privacy erase`` again) starts it over. After the second pass an
audit entry says who asked, when, what was erased and what was kept and why, and
:data:`DONE` keeps that summary under the pseudonym.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from detectors.privacy import subject_pseudonym
from pipeline import metrics
from pipeline.models.keys import ERASED
from pipeline.privacy.inventory import REDIS, entry_for_key
from pipeline.privacy.keyspace import Record, apply, records, values_of
from pipeline.privacy.plan import DEFAULT_RETAINED, plan_key
from pipeline.privacy.scrub import Subject, found_in

log = logging.getLogger("vigil.privacy")

#: Erasures under way: pseudonym -> JSON (the raw id, who asked, progress). Deleted when done.
PENDING = "vigil:privacy:erasing"
#: Erasures done: pseudonym -> JSON summary (no raw id).
DONE = "vigil:privacy:erasures"
AUDIT = "vigil:audit"
#: The erasure's own records: the request (the raw id until done) and the proof.
OWN_KEYS = frozenset({PENDING, DONE})
PASSES = 2
# Finishing is atomic and happens once: the request leaves PENDING, the summary goes to DONE and
# the audit entry is written only by the runner whose HDEL removed it (a worker and the command
# may run the last pass together).
_FINISH = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[3], '*', 'at', ARGV[3], 'actor', ARGV[4], 'action', 'privacy.erase',
           'case_id', '', 'details', ARGV[5])
return 1
"""
#: Families whose members are the ids of the events of the key's user.
_EVENT_INDEXES = ("user feature windows", "join books")


@dataclass(frozen=True)
class Outcome:
    pseudonym: str
    #: ``pass 1 of 2 done``, ``done``, ``nothing pending``.
    status: str
    changed: dict[str, dict[str, int]]


class Eraser:
    def __init__(self, redis: Redis, hash_key: bytes, *, settle: float = 30.0,
                 retained: Collection[str] = DEFAULT_RETAINED,
                 clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.hash_key = hash_key
        self.settle = settle
        self.retained = frozenset(retained)
        self.clock = clock

    def pseudonym(self, user_id: str) -> str:
        return subject_pseudonym(user_id, self.hash_key)

    async def request(self, user_id: str, *, requested_by: str, request_id: str,
                      reason: str = "", at: float | None = None) -> str:
        """Record an erasure request (idempotent by ``request_id``); returns the pseudonym."""
        pseudonym = self.pseudonym(user_id)
        at = self.clock() if at is None else at
        done = await self.redis.hget(DONE, pseudonym)
        if done is not None and request_id in json.loads(done).get("request_ids", []):
            return pseudonym  # a redelivered request, done already
        record = {"user_id": user_id, "request_id": request_id, "requested_by": requested_by,
                  "reason": reason, "requested_at": at, "passes": 0, "next_at": 0.0,
                  "identifiers": [], "texts": [], "events": [], "changed": {}}
        pipe = self.redis.pipeline(transaction=True)
        pipe.hsetnx(PENDING, pseudonym, json.dumps(record))
        pipe.zadd(ERASED, {pseudonym: at}, nx=True)
        added, _ = await pipe.execute()
        if added:
            metrics.ERASURES.labels("requested").inc()
            log.info("erasure %s requested by %s (%s)", pseudonym, requested_by, request_id)
        return pseudonym

    async def pending(self) -> dict[str, dict[str, Any]]:
        raw = await self.redis.hgetall(PENDING)
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    async def run_due(self, *, wait: bool = False) -> list[Outcome]:
        """Run the next pass of every pending erasure that is due (``wait``: until all are done,
        sleeping out each ``settle``)."""
        out = []
        while True:
            pending = await self.pending()
            now = self.clock()
            due = {p: r for p, r in pending.items() if r["next_at"] <= now}
            for pseudonym, record in due.items():
                out.append(await self._pass(pseudonym, record))
            if not wait or not pending:
                return out
            if not due:
                await asyncio.sleep(max(0.05, min(r["next_at"] for r in pending.values()) - now))

    async def _pass(self, pseudonym: str, record: dict[str, Any]) -> Outcome:
        subject = Subject(record["user_id"], pseudonym, frozenset(record["identifiers"]),
                          frozenset(record["texts"]), frozenset(record["events"]),
                          frozenset(record.get("cases", ())))
        subject = await self.discover(subject)
        record.update(identifiers=sorted(subject.identifiers), texts=sorted(subject.texts),
                      events=sorted(subject.events), cases=sorted(subject.cases))
        await self.redis.hset(PENDING, pseudonym, json.dumps(record))  # for a resumed pass
        changed = await self.erase(subject)
        total = record["changed"]
        for family, outcomes in changed.items():
            for outcome, n in outcomes.items():
                total.setdefault(family, {}).setdefault(outcome, 0)
                total[family][outcome] += n
        record["passes"] += 1
        metrics.ERASURES.labels("pass").inc()
        if record["passes"] < PASSES:
            record["next_at"] = self.clock() + self.settle
            await self.redis.hset(PENDING, pseudonym, json.dumps(record))
            return Outcome(pseudonym, f"pass {record['passes']} of {PASSES} done", total)
        await self._finish(pseudonym, record)
        return Outcome(pseudonym, "done", total)

    async def discover(self, subject: Subject) -> Subject:
        return await discover(self.redis, subject)

    async def erase(self, subject: Subject) -> dict[str, dict[str, int]]:
        """One erase pass: every key changed as planned. Returns family -> outcome -> keys."""
        counts: dict[str, Counter[str]] = {}
        retained = self.retained

        def replan(item: Record) -> Any:
            if item.value is None and not subject.names_key(item.key):
                return None
            return plan_key(item.key, item.kind, item.value, subject, retained)

        async for item in records(self.redis):
            change = None if item.key in OWN_KEYS else replan(item)
            if change is None:
                continue
            done = await apply(self.redis, change, replan=replan)
            if done is not None:
                log.debug("erasure %s: %s %s", subject.pseudonym, done.outcome, done.key)
                counts.setdefault(done.family, Counter())[done.outcome] += 1
        return {family: dict(c) for family, c in counts.items()}

    async def _finish(self, pseudonym: str, record: dict[str, Any]) -> None:
        now = self.clock()
        previous = await self.redis.hget(DONE, pseudonym)
        request_ids = json.loads(previous).get("request_ids", []) if previous else []
        summary = {
            "subject": pseudonym, "request_ids": [*request_ids, record["request_id"]],
            "requested_by": record["requested_by"], "reason": record["reason"],
            "requested_at": record["requested_at"], "finished_at": now,
            "passes": record["passes"], "changed": record["changed"],
            "kept": kept_and_why(self.retained, record["changed"]),
            "models": "unlearned by the learner (vigil models unlearning says when)",
            "kafka": "events on the input topics expire with their retention.ms",
        }
        finished = await self.redis.eval(
            _FINISH, 3, PENDING, DONE, AUDIT, pseudonym, json.dumps(summary), repr(now),
            record["requested_by"], json.dumps(summary))
        if not finished:  # another runner (a worker, the command) finished it first
            return
        await self._rewrite_append_only_file(pseudonym)
        metrics.ERASURES.labels("done").inc()
        log.info("erasure %s done: %s", pseudonym, record["changed"])


    async def _rewrite_append_only_file(self, pseudonym: str) -> None:
        # Until Redis rewrites its append-only file, the erased values are still in it on disk.
        # A managed Redis may refuse the command (renamed or disabled): said, not hidden.
        try:
            await self.redis.bgrewriteaof()
        except ResponseError as exc:
            if "already in progress" not in str(exc):
                log.warning("erasure %s: Redis refused BGREWRITEAOF (%s): the erased values stay "
                            "in its append-only file until it is next rewritten", pseudonym, exc)


async def discover(redis: Redis, subject: Subject) -> Subject:
    """The subject with every identifier, text and event id their own records give away."""
    identifiers: set[str] = set()
    texts: set[str] = set()
    events: set[str] = set()
    cases: set[str] = set()
    async for item in records(redis):
        if item.value is None or item.key in OWN_KEYS:
            continue
        entry = entry_for_key(item.key)
        if entry is not None and entry.family == "case" and item.kind == "hash" and \
                subject.about(item.value):
            cases.add(item.value.get("case_id") or item.key.rpartition(":")[2])
        if entry is not None and entry.family in _EVENT_INDEXES and \
                subject.user_id in item.key.split(":") and item.kind == "zset":
            if entry.family == "join books" or item.key.endswith(":events"):
                events.update(m for m, _ in item.value)
        for value in values_of(item):
            found = found_in(value, subject)
            identifiers |= found[0]
            texts |= found[1]
            events |= found[2]
    return subject.with_found(identifiers, texts, events, cases)


def kept_and_why(retained: Collection[str],
                 changed: dict[str, dict[str, int]] | None = None) -> dict[str, str]:
    """Per family that can still speak of the user after erasure (under their pseudonym), why:
    the families the retention policy keeps, the pseudonymised training logs (unlearning's
    input), and any other family where this erasure rewrote someone else's record that
    mentioned them (``changed``: family -> outcome -> keys)."""
    why = {e.family: f"kept pseudonymised ({e.retention}): {_WHY_OF.get(e.family, _WHY)}"
           for e in REDIS if e.erasure == "pseudonymise" and e.family in retained}
    why |= {e.family: f"pseudonymised ({e.retention}): {_WHY_UNLEARN}" for e in REDIS
            if e.erasure == "unlearn"}
    for family, outcomes in (changed or {}).items():
        if family not in why and outcomes.get("pseudonymised"):
            why[family] = _WHY_OTHERS
    return why


_WHY = ("the record of what was decided about the user and why (their id replaced by their "
        "pseudonym, their identifiers and texts removed), for appeals, legal holds and the "
        "confirmed-fraud retention rule")
_WHY_OF = {
    "erased users": "the pseudonym alone: it keeps the user's later events out of every store "
                    "(the late-event rule) and tells the learner to unlearn them",
    "erasures done": "the proof of this erasure: who asked, when, what was erased and kept",
}
_WHY_UNLEARN = ("what each model learned, by pseudonym only: unlearning reads it to take the "
                "user's contributions back out")
_WHY_OTHERS = ("other users' records that mentioned the user (a message to them): kept for "
               "their owners, the mention replaced by the pseudonym and the user's identifiers "
               "and texts removed")
