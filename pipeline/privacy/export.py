"""Access: everything Vigil holds about one user, as JSON (``vigil privacy export``, and
``GET /api/privacy/users/{user_id}`` for the privacy service).

The export walks the same keyspace erasure does (:func:`~pipeline.privacy.keyspace.records`,
after the same discovery of the user's e-mail, IP, device id, texts and event ids), so what
erasure would touch is what access shows; a test holds the two to the inventory. Per record:

- the user's own records (their events, content, features, consent history, keys named by
  them) and the records *about* them that the retention policy keeps (cases, decisions,
  actions, notes, audit entries: :data:`~pipeline.privacy.plan.DEFAULT_RETAINED`) are given
  whole;
- other users' records that only mention them (a message someone sent them) are listed by key
  and family, their values left out: they are someone else's data;
- the models: how many of their inputs each model's training log holds
  (:func:`~pipeline.models.training_log.learned_from`), and where they were erased, what the
  erasure did;
- the Kafka topics that may still carry their events, until each topic's retention.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from detectors.privacy import subject_pseudonym
from pipeline.models.keys import ERASED
from pipeline.models.training_log import learned_from
from pipeline.privacy.erasure import DONE, OWN_KEYS, PENDING, discover
from pipeline.privacy.inventory import KAFKA, entry_for_key
from pipeline.privacy.keyspace import Record, records, values_of
from pipeline.privacy.plan import DEFAULT_RETAINED
from pipeline.privacy.scrub import Subject, owned

_TRAINING_LOG = "training log"


async def export(redis: Redis, user_id: str, hash_key: bytes, *,
                 clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """What Vigil holds about ``user_id``: records by family, models, topics, erasure."""
    pseudonym = subject_pseudonym(user_id, hash_key)
    subject = await discover(redis, Subject(user_id, pseudonym))
    families: dict[str, list[dict[str, Any]]] = {}
    model_ids: list[str] = []
    async for item in records(redis):
        entry = entry_for_key(item.key)
        if entry is not None and entry.family == _TRAINING_LOG:
            model_ids.append(item.key.split(":")[2])
            continue
        if item.key in OWN_KEYS:
            continue
        shown = _shown(item, subject)
        if shown is not None:
            family = entry.family if entry else "(not in the inventory)"
            families.setdefault(family, []).append(shown)
    for found in families.values():
        found.sort(key=lambda r: r["key"])
    return {
        "user_id": user_id, "pseudonym": pseudonym, "generated_at": clock(),
        "identifiers": sorted(subject.identifiers), "event_ids": sorted(subject.events),
        "records": dict(sorted(families.items())),
        "models": {"inputs_learned": await learned_from(redis, sorted(model_ids), pseudonym)},
        "erasure": await _erasure(redis, pseudonym),
        "kafka": [{"topic": e.pattern, "holds": list(e.holds), "kept": e.retention}
                  for e in KAFKA],
    }


def _shown(item: Record, subject: Subject) -> dict[str, Any] | None:
    """The record as the export shows it, or None if it holds nothing of the subject: a key of
    theirs whole; of a shared key (an index, a log) only the members or entries that name them;
    another user's record that names them by key only."""
    named = subject.names_key(item.key)
    out = {"key": item.key, "type": item.kind}
    if item.value is None:
        return {**out, "value": None} if named else None
    if named:
        return {**out, "value": _plain(item.kind, item.value)}
    if item.kind in ("set", "zset", "list", "stream"):
        mine = [v for v, text in zip(item.value, values_of(item)) if _tied(text, subject)]
        return {**out, "value": _plain(item.kind, mine)} if mine else None
    if not any(_tied(v, subject) for v in values_of(item)):
        return None
    entry = entry_for_key(item.key)
    about = entry is not None and entry.family in DEFAULT_RETAINED
    if about or any(owned(v, subject) for v in values_of(item)):
        return {**out, "value": item.value}
    return {**out, "value": None,
            "note": "another user's record that mentions this user: not shown (theirs)"}


def _tied(value: Any, subject: Subject) -> bool:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return subject.ties(text) or (" " in text and text.rpartition(" ")[2] in subject.cases)


def _plain(kind: str, value: Any) -> Any:
    if kind in ("string", "hash", "set", "list"):
        return value
    if kind == "zset":
        return [{"member": m, "score": s} for m, s in value]
    if kind == "stream":
        return [{"id": i, **fields} for i, fields in value]
    return value


async def _erasure(redis: Redis, pseudonym: str) -> dict[str, Any] | None:
    done, pending, at = await _read(redis, pseudonym)
    if done is not None:
        return {"status": "erased", **json.loads(done)}
    if pending is not None:
        record = json.loads(pending)
        return {"status": "under way", "requested_at": record["requested_at"],
                "passes": record["passes"]}
    if at is not None:
        return {"status": "requested", "requested_at": at}
    return None


async def _read(redis: Redis, pseudonym: str) -> tuple[Any, Any, Any]:
    pipe = redis.pipeline(transaction=False)
    pipe.hget(DONE, pseudonym)
    pipe.hget(PENDING, pseudonym)
    pipe.zscore(ERASED, pseudonym)
    done, pending, at = await pipe.execute()
    return done, pending, at
