"""The personal names the review queue holds for a case's subject, for masking them in text.

Names are in the events behind a case's flags: the name-bearing fields (``username``,
``display_name``, ...) of the contracts that have any (today ``user.signed_up``). For a case
they are taken from its own flags' events and from those of the subject's other cases (its
``user`` entity's cases), so a message case shows its sender's signup name masked when the queue
holds that signup. A name the queue never saw is not known here.

Reads go in four pipelined round trips for a whole page of cases: the related cases, their flag
lists, the flags, and only the name-bearing events.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from redis.asyncio import Redis

from pipeline.review.queue.keys import K, case_key
from pipeline.review.web.masking import NAME_KEYS
from schemas.events import EVENT_MODELS

#: Cases of one subject read for names, newest first, at most.
MAX_RELATED_CASES = 20
#: Flags of one case read for names, at most (a case's first flags carry its signup).
MAX_FLAGS_PER_CASE = 100


def _name_bearing_types() -> frozenset[str]:
    out = set()
    for event_type, model in EVENT_MODELS.items():
        payload = model.model_fields["payload"].annotation
        if NAME_KEYS & set(getattr(payload, "model_fields", {})):
            out.add(event_type)
    return frozenset(out)


#: The event types whose payloads carry names (``user.signed_up``).
NAME_EVENT_TYPES = _name_bearing_types()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _subject_entity(case: Mapping[str, Any]) -> str:
    if case.get("entity_type") == "user":
        return f"user:{case['entity_id']}"
    return f"user:{case.get('subject_id') or case['entity_id']}"


async def _related(redis: Redis, cases: list[Mapping[str, Any]]) -> dict[str, list[str]]:
    pipe = redis.pipeline(transaction=False)
    for case in cases:
        pipe.lrange(f"{K}entity_cases:{_subject_entity(case)}", -MAX_RELATED_CASES, -1)
    return {str(case["case_id"]): [str(case["case_id"]), *(_text(i) for i in ids)]
            for case, ids in zip(cases, await pipe.execute())}


def _names_in(event: Mapping[str, Any]) -> set[str]:
    payload = event.get("payload") or {}
    return {str(v) for k, v in payload.items() if k in NAME_KEYS and v}


async def _names_by_case(redis: Redis, case_ids: Iterable[str]) -> dict[str, set[str]]:
    ids = list(dict.fromkeys(case_ids))
    pipe = redis.pipeline(transaction=False)
    for case_id in ids:
        pipe.lrange(f"{case_key(case_id)}:flags", 0, MAX_FLAGS_PER_CASE - 1)
    flag_lists = [[_text(f) for f in flags] for flags in await pipe.execute()]
    flag_ids = [f for flags in flag_lists for f in flags]
    flags = await redis.mget([f"{K}flag:{f}" for f in flag_ids]) if flag_ids else []
    event_of: dict[str, str] = {}
    for flag_id, raw in zip(flag_ids, flags):
        flag = json.loads(raw) if raw else {}
        if flag.get("event_type") in NAME_EVENT_TYPES:
            event_of[flag_id] = str(flag["event_id"])
    wanted = list(dict.fromkeys(event_of.values()))
    events = await redis.mget([f"{K}event:{e}" for e in wanted]) if wanted else []
    names_of = {e: _names_in(json.loads(raw)) for e, raw in zip(wanted, events) if raw}
    return {case_id: set().union(*(names_of.get(event_of.get(f, ""), set()) for f in flags_of))
            for case_id, flags_of in zip(ids, flag_lists)}


async def names_for_cases(redis: Redis,
                          cases: list[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """{case_id: the names to mask in that case's texts}, for case summaries or details."""
    if not cases:
        return {}
    related = await _related(redis, cases)
    by_case = await _names_by_case(redis, [c for ids in related.values() for c in ids])
    return {case_id: frozenset().union(*(by_case.get(c, set()) for c in ids))
            for case_id, ids in related.items()}


async def names_for_entity(redis: Redis, entity_type: str, entity_id: str) -> frozenset[str]:
    """The names to mask in texts about an entity (its snoozes): its cases' subjects' names."""
    ids = [_text(i) for i in
           await redis.lrange(f"{K}entity_cases:{entity_type}:{entity_id}", -MAX_RELATED_CASES, -1)]
    pipe = redis.pipeline(transaction=False)
    for case_id in ids:
        pipe.hget(case_key(case_id), "subject_id")
    cases = [{"case_id": case_id, "entity_type": entity_type, "entity_id": entity_id,
              "subject_id": _text(subject) if subject else None}
             for case_id, subject in zip(ids, await pipe.execute() if ids else [])]
    names = await names_for_cases(redis, cases)
    return frozenset().union(*names.values())
