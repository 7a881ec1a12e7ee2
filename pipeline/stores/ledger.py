"""The processing ledger: which events a worker has processed lately, and when.

A sorted set of event id -> time processed. Operators and the failure drills use it to account
for every event exactly (processed, or a dead letter, never both, never neither); entries older
than ``ledger_retention`` are trimmed by the worker's heartbeat.

A batch marks its events with one script call taking the ids as one JSON argument: redis-py
packs each argument of a command in Python, and a 200-member ZADD cost more to pack than to run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson

KEY = "vigil:ledger:processed"

_MARK = """
local ids, at = cjson.decode(ARGV[1]), ARGV[2]
-- ZADD in chunks: unpack() is bounded by Lua's C stack.
for start = 1, #ids, 1000 do
  local pairs = {}
  for i = start, math.min(start + 999, #ids) do
    pairs[#pairs + 1] = at
    pairs[#pairs + 1] = ids[i]
  end
  redis.call('ZADD', KEYS[1], unpack(pairs))
end
return #ids
"""
MARK_SCRIPT = _MARK
MARK_SHA = hashlib.sha1(_MARK.encode()).hexdigest()


def queue_mark(pipe: Any, event_ids: Iterable[str], at: float) -> None:
    """Queue the marking of ``event_ids`` as processed at ``at`` on a pipeline (one
    ``EVALSHA``; a :class:`redis.exceptions.NoScriptError` reply means :func:`load_script`)."""
    pipe.evalsha(MARK_SHA, 1, KEY, orjson.dumps(list(event_ids)), repr(at))


async def load_script(redis: Any) -> None:
    await redis.script_load(_MARK)


async def forget(redis: Any, event_id: str) -> None:
    """Take an event out of the ledger (it was dead-lettered: not processed after all)."""
    await redis.zrem(KEY, event_id)


async def trim(redis: Any, before: float) -> None:
    """Drop the entries of events processed before ``before`` (a Unix time)."""
    await redis.zremrangebyscore(KEY, "-inf", before)
