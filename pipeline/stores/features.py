"""Where feature state lives: Redis for workers, memory for ``vigil replay`` and backtests.

Both carry out a :class:`detectors.features.FeaturePlan` the same way: writes first (so counters
include the current event), then reads. Windowed sets are sorted sets of member -> time;
re-adding a member (a redelivered event) changes nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from redis.asyncio import Redis

from detectors.features import (
    HORIZON,
    PROFILE_TTL,
    CountSince,
    FeaturePlan,
    Keep,
    Observe,
    Recall,
    Remember,
    SumSince,
)
from pipeline.stores.joins import LUA_OPS, STASH
from pipeline.stores.script_channel import ScriptChannel

PREFIX = "vigil:f:"


def _sum_members(members: list[Any]) -> float:
    total = 0.0
    for member in members:
        text = member.decode() if isinstance(member, bytes) else member
        total += float(text.rsplit("|", 1)[-1])
    return total


#: One script call carries out the operations of a whole batch of events, in order, so a
#: batch costs one round trip. The operations travel as one JSON array (encoding one string is
#: far cheaper for redis-py than thousands of arguments). Times travel as JSON numbers, which
#: cjson decodes exactly; where one becomes a string in Lua it is formatted with %.17g, as
#: redis.call formats number arguments, so every digit is kept. Every key is inside that
#: array, not in KEYS: Redis Cluster would need hash tags (see README, "Known limits").
BATCH_SCRIPT = """
local function exclusive(t) return string.format('(%.17g', t) end
local ARGV = cjson.decode(ARGV[1])
local out, i, n = {}, 1, #ARGV
local horizon, ttl, ceiling = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local digest_ttl = ARGV[4]
local stash_prefix, stash_ttl = ARGV[5], ARGV[6]
local expiring = {}
i = 7
while i <= n do
  local op, key = ARGV[i], ARGV[i + 1]
  if op == 'O' or op == 'P' then
    local at = tonumber(ARGV[i + 3])
    redis.call('ZADD', key, at, ARGV[i + 2])
    -- Trimmed up to the event's time, never past the ceiling (the reader's clock plus the
    -- skew it accepts): one event dated year 9999 cannot erase a window's history.
    if op == 'O' then redis.call('ZREMRANGEBYSCORE', key, '-inf', math.min(at, ceiling) - horizon) end
    -- One EXPIRE per key per batch: the batch spans seconds of a 25-hour TTL.
    if not expiring[key] then
      redis.call('EXPIRE', key, math.floor(horizon))
      expiring[key] = true
    end
    i = i + 4
  elseif op == 'R' or op == 'N' then
    if op == 'N' then redis.call('SET', key, ARGV[i + 2], 'EX', ttl, 'NX')
    else redis.call('SET', key, ARGV[i + 2], 'EX', ttl) end
    i = i + 3
  elseif op == 'K' then
    -- The latest by event time wins: the stored record's time is its first element.
    local at, stored = tonumber(ARGV[i + 3]), redis.call('GET', key)
    local stored_at = stored and tonumber(string.match(stored, '^%[([^,%]]+)'))
    if not stored_at or stored_at <= at then
      redis.call('SET', key, ARGV[i + 2], 'EX', ttl)
    end
    i = i + 4
  elseif op == 'D' then
    -- An event's content digest under its id, kept for a TTL: the same digest again is a
    -- redelivery (replied '='; '' for a first sight); another is a different event under the
    -- same id, whose operations (the next ARGV[i + 3] arguments) are skipped: it writes
    -- nothing and reads nothing (replied the digest seen).
    local seen = redis.call('GET', key)
    if seen and seen ~= ARGV[i + 2] then
      out[#out + 1] = seen
      i = i + 4 + ARGV[i + 3]
    else
      if not seen then redis.call('SET', key, ARGV[i + 2], 'EX', digest_ttl) end
      out[#out + 1] = seen and '=' or ''
      i = i + 4
    end
  elseif op == 'C' then
    out[#out + 1] = redis.call('ZCOUNT', key, exclusive(ARGV[i + 2]), ARGV[i + 3])
    i = i + 4
  elseif op == 'S' then
    local total = 0
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, exclusive(ARGV[i + 2]), ARGV[i + 3])) do
      total = total + tonumber(string.match(m, '|([^|]*)$'))
    end
    out[#out + 1] = tostring(total)
    i = i + 4
  elseif op == 'G' then
    out[#out + 1] = redis.call('GET', key) or ''
    i = i + 2
  elseif op == 'Z' then
    redis.call('ZADD', key, ARGV[i + 3], ARGV[i + 2])
    i = i + 4
  elseif op == 'A' then
    -- Consent reads never fail the batch: an error (a key of the wrong type) is the reply,
    -- and the gate treats that subject's consent as unavailable (fails closed).
    out[#out + 1] = redis.pcall('ZREVRANGEBYSCORE', key, ARGV[i + 2], '-inf', 'LIMIT', 0, 1)
    i = i + 3
  elseif op == 'L' then
    out[#out + 1] = redis.pcall('ZREVRANGE', key, 0, 0)
    i = i + 2
""" + LUA_OPS + """
  else
    return redis.error_reply('unknown op ' .. tostring(op))
  end
end
return cjson.encode(out)
"""


#: No ceiling on trimming (a direct call on an event stream, as the parity tests make): finite,
#: for JSON and Lua.
NO_CEILING = 1e308


def script_header(ceiling: float = NO_CEILING, digest_ttl: int = 900,
                  stash_ttl: int = int(2 * HORIZON)) -> list[Any]:
    """The batch script's first arguments: the horizon, the profile TTL, the ceiling no
    trimming write passes (a feature window is trimmed at ``min(at, ceiling) - HORIZON``),
    how long content digests are kept (seconds, :class:`~pipeline.stores.state.RedisState`),
    and where and how long held events are kept (:mod:`pipeline.stores.joins`)."""
    return [HORIZON, int(PROFILE_TTL), ceiling, digest_ttl, STASH, stash_ttl]


class RedisFeatureStore:
    """Runs plans with :data:`BATCH_SCRIPT` through one :class:`ScriptChannel`: calls run in
    the order they are made, pipelined, so each reads what the calls before it wrote."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.channel = ScriptChannel(redis, BATCH_SCRIPT)

    @staticmethod
    def queue(args: list[Any], plan: FeaturePlan) -> list[tuple[str, str]]:
        """Append the plan's operations to the script's ``args``; returns how to read replies."""
        readers: list[tuple[str, str]] = []
        for write in plan.writes:
            key = PREFIX + write.key
            if type(write) is Observe:
                args += ["O" if write.trim else "P", key, write.member, write.at]
            elif type(write) is Keep:
                args += ["K", key, orjson.dumps(write.value).decode(), write.at]  # type: ignore[union-attr]
            else:
                args += ["N" if write.only_if_absent else "R", key,  # type: ignore[union-attr]
                         orjson.dumps(write.value, option=orjson.OPT_SORT_KEYS).decode()]  # type: ignore[union-attr]
        for read in plan.reads:
            key = PREFIX + read.key
            kind = type(read)
            if kind is CountSince:
                args += ["C", key, read.since, read.until]  # type: ignore[union-attr]
                readers.append((read.feature, "int"))
            elif kind is SumSince:
                args += ["S", key, read.since, read.until]  # type: ignore[union-attr]
                readers.append((read.feature, "sum"))
            else:
                args += ["G", key]
                readers.append((read.feature, "json"))
        return readers

    @staticmethod
    def parse(readers: list[tuple[str, str]], replies: list[Any]) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        for (feature, kind), reply in zip(readers, replies):
            if kind == "int":
                raw[feature] = int(reply)
            elif kind == "sum":
                raw[feature] = float(reply)
            else:
                raw[feature] = orjson.loads(reply) if reply else None
        return raw

    def call(self, args: list[Any]) -> asyncio.Future[bytes]:
        """Send the batch script over ``args`` (built with :meth:`queue`) behind the calls made
        before; its future gets the encoded replies (:meth:`run` decodes them)."""
        return self.channel.call(orjson.dumps(args))

    async def run(self, args: list[Any]) -> list[Any]:
        """Run the batch script over ``args``; the replies in order."""
        return orjson.loads(await self.call(args))

    async def close(self) -> None:
        await self.channel.close()

    async def execute(self, plan: FeaturePlan, ceiling: float = NO_CEILING) -> dict[str, Any]:
        args = script_header(ceiling)
        readers = self.queue(args, plan)
        return self.parse(readers, await self.run(args))


class MemoryFeatureStore:
    """The same semantics in process memory; state is lost when the process ends."""

    def __init__(self) -> None:
        self.sets: dict[str, dict[str, float]] = {}
        # Like Redis's ZREMRANGEBYSCORE on trimming writes: members at or before the highest
        # trim point a key has seen are gone, even for a late event's reads.
        self.trimmed: dict[str, float] = {}
        self.records: dict[str, Any] = {}

    async def execute(self, plan: FeaturePlan, ceiling: float = NO_CEILING) -> dict[str, Any]:
        return self.execute_sync(plan, ceiling)

    def execute_sync(self, plan: FeaturePlan, ceiling: float = NO_CEILING) -> dict[str, Any]:
        for write in plan.writes:
            if isinstance(write, Observe):
                members = self.sets.setdefault(write.key, {})
                horizon = self.trimmed.get(write.key, float("-inf"))
                if write.trim:
                    horizon = self.trimmed[write.key] = max(horizon,
                                                            min(write.at, ceiling) - HORIZON)
                members[write.member] = write.at
                if len(members) > 64:  # prune physically now and then; reads filter anyway
                    for member in [m for m, t in members.items() if t <= horizon]:
                        del members[member]
            elif isinstance(write, Remember):
                if not (write.only_if_absent and write.key in self.records):
                    self.records[write.key] = dict(write.value)
            elif isinstance(write, Keep):
                stored = self.records.get(write.key)
                if stored is None or stored[0] <= write.at:
                    self.records[write.key] = list(write.value)
        raw: dict[str, Any] = {}
        for read in plan.reads:
            if isinstance(read, Recall):
                raw[read.feature] = self.records.get(read.key)
                continue
            times = self.sets.get(read.key, {})
            since = max(read.since, self.trimmed.get(read.key, float("-inf")))
            inside = [m for m, t in times.items() if since < t <= read.until]
            raw[read.feature] = len(inside) if isinstance(read, CountSince) else _sum_members(inside)
        return raw


