"""Reading Vigil's Redis keyspace key by key, and applying a planned :class:`Change` to a key.

Erasure and access both walk every key (``SCAN``, a thousand keys a round trip): the keys that
hold a person's data are spread over some fifty families, most named by an event, a case or a
content id rather than by the person, so no index would find them all; a walk does, and finds a
family added later too. Families that hold nothing of a person (``none``, model state) are not
read, only their names looked at.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from pipeline.privacy.inventory import entry_for_key
from pipeline.privacy.plan import Change

SCAN_COUNT = 1_000
#: Values not read: nothing of a person by design (what unlearning or aggregates hold).
_UNREAD = frozenset({"none", "learned"})

# Rewrites a stream's entries in place, keeping every id and order: a copy made entry by entry
# (rewritten ones replaced) and renamed over the original, atomically (a script).
_REWRITE_STREAM = """
local out = {}
for i = 1, #ARGV, 2 do out[ARGV[i]] = cjson.decode(ARGV[i + 1]) end
local tmp = KEYS[1] .. ':erasure-copy'
redis.call('DEL', tmp)
local entries = redis.call('XRANGE', KEYS[1], '-', '+')
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local new = out[entry[1]]
  if new then
    fields = {}
    for k, v in pairs(new) do table.insert(fields, k); table.insert(fields, v) end
  end
  redis.call('XADD', tmp, entry[1], unpack(fields))
end
if #entries == 0 then return 0 end
redis.call('RENAME', tmp, KEYS[1])
return #entries
"""


@dataclass(frozen=True)
class Record:
    key: str
    kind: str
    #: As :func:`~pipeline.privacy.plan.plan_key` takes it; None when not read.
    value: Any


def _text(raw: bytes | str) -> str | None:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode()
    except UnicodeDecodeError:  # binary (a snapshot): nothing erasure rewrites
        return None


def read_only_names(key: str) -> bool:
    entry = entry_for_key(key)
    return entry is not None and (set(entry.holds) <= _UNREAD or entry.erasure == "unlearn")


async def records(redis: Redis, *, match: str = "vigil:*") -> AsyncIterator[Record]:
    """Every key matching ``match`` with its type and value (not read for families that hold
    nothing of a person). A key that disappears between the scan and the read is skipped."""
    cursor: int | bytes = 0
    while True:
        cursor, keys = await redis.scan(cursor, match=match, count=SCAN_COUNT)
        names = [_text(k) for k in keys]
        names = [n for n in names if n is not None]
        if names:
            for record in await read(redis, names):
                yield record
        if int(cursor) == 0:
            return


async def read(redis: Redis, names: list[str]) -> list[Record]:
    pipe = redis.pipeline(transaction=False)
    for name in names:
        pipe.type(name)
    kinds = [_text(k) or "none" for k in await pipe.execute()]
    pipe = redis.pipeline(transaction=False)
    wanted = []
    for name, kind in zip(names, kinds):
        if kind == "none" or read_only_names(name):
            continue
        wanted.append((name, kind))
        _read_command(pipe, name, kind)
    values = dict(zip((n for n, _ in wanted), await pipe.execute())) if wanted else {}
    out = []
    for name, kind in zip(names, kinds):
        if kind == "none":
            continue
        if name not in values:
            out.append(Record(name, kind, None))
            continue
        value = _decode(kind, values[name])
        out.append(Record(name, kind, value))
    return out


def _read_command(client: Any, name: str, kind: str) -> Any:
    """The read of a key of ``kind``: queued on a pipeline, or run at once on a watched one."""
    if kind == "string":
        return client.get(name)
    if kind == "hash":
        return client.hgetall(name)
    if kind == "set":
        return client.smembers(name)
    if kind == "zset":
        return client.zrange(name, 0, -1, withscores=True)
    if kind == "list":
        return client.lrange(name, 0, -1)
    if kind == "stream":
        return client.xrange(name)
    return client.exists(name)  # a type erasure does not read: its name alone matters


def _decode(kind: str, raw: Any) -> Any:
    if raw is None:
        return None
    if kind == "string":
        return _text(raw)
    if kind == "hash":
        out = {}
        for k, v in raw.items():
            name, text = _text(k), _text(v)
            if name is not None and text is not None:
                out[name] = text
        return out
    if kind == "set":
        return sorted(t for t in map(_text, raw) if t is not None)
    if kind == "zset":
        return [(t, score) for m, score in raw if (t := _text(m)) is not None]
    if kind == "list":
        return [t for t in map(_text, raw) if t is not None]
    if kind == "stream":
        return [(_text(i), {_text(k): _text(v) for k, v in fields.items()}) for i, fields in raw]
    return None


async def apply(redis: Redis, change: Change, *, replan: Any) -> Change | None:
    """Apply ``change`` to its key, atomically against concurrent writers: the key is watched,
    read again and planned again (``replan(record) -> Change | None``) just before the write,
    and the write retried if the key changed in between. Returns the change made, or None."""
    for _ in range(20):
        try:
            async with redis.pipeline(transaction=True) as pipe:
                await pipe.watch(change.key)
                kind = _text(await pipe.type(change.key)) or "none"
                if kind == "none":
                    return None
                # A watched pipeline runs commands at once (before MULTI).
                fresh = _decode(kind, await _read_command(pipe, change.key, kind))
                done = replan(Record(change.key, kind, fresh))
                if done is None:
                    return None
                ttl = await pipe.pttl(change.key)
                pipe.multi()
                _queue_write(pipe, done, kind, ttl)
                await pipe.execute()
            if done.rewrite:
                await _rewrite_stream(redis, done)
            return done
        except WatchError:
            continue
    raise RuntimeError(f"erasure could not change {change.key}: it kept changing under it")


def _queue_write(pipe: Any, change: Change, kind: str, ttl: int) -> None:
    key = change.key
    if change.delete:
        pipe.delete(key)
        return
    target = change.rename_to or key
    if change.rename_to is not None:
        pipe.delete(target)
    if kind == "string" and change.string is not None:
        pipe.set(target, change.string)
    elif kind == "hash":
        if change.rename_to is None and change.hdel:
            pipe.hdel(key, *change.hdel)
        if change.hset:
            pipe.hset(target, mapping=change.hset)
    elif kind == "zset":
        if change.rename_to is None and change.remove:
            pipe.zrem(key, *change.remove)
        if change.add:
            pipe.zadd(target, {m: s or 0.0 for m, s in change.add.items()})
    elif kind == "set":
        if change.rename_to is None and change.remove:
            pipe.srem(key, *change.remove)
        if change.add:
            pipe.sadd(target, *change.add)
    elif kind == "list" and change.items is not None:
        pipe.delete(target)
        if change.items:
            pipe.rpush(target, *change.items)
    elif kind == "stream" and change.xdel:
        pipe.xdel(key, *change.xdel)
    if change.rename_to is not None:
        pipe.delete(key)
    if ttl and ttl > 0 and (change.rename_to is not None or kind == "list"):
        pipe.pexpire(target, ttl)


async def _rewrite_stream(redis: Redis, change: Change) -> None:
    args: list[str] = []
    for entry_id, fields in change.rewrite.items():
        args += [entry_id, json.dumps(fields)]
    await redis.eval(_REWRITE_STREAM, 1, change.key, *args)


def values_of(item: Record) -> list[Any]:
    """The values a record holds that can name a person: a hash's fields as one, each value."""
    value = item.value
    if item.kind == "string":
        return [value]
    if item.kind == "hash":
        return [value, *value.values()]
    if item.kind == "zset":
        return [m for m, _ in value]
    if item.kind in ("set", "list"):
        return list(value)
    if item.kind == "stream":
        return [fields for _, fields in value]
    return []
