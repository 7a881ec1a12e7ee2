"""The review queue in Redis: flags group into one open case per entity, ordered by priority.

Adding a flag is one Lua script, so it is atomic and idempotent: a flag id seen before changes
nothing (a redelivered event or flag never creates a second flag or case).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from detectors.results import SEVERITY_RANK
from schemas.outputs import Flag

K = "vigil:"

# KEYS: none are passed because every key derives from ARGV; Redis Cluster would need hash tags
# (see README, "Scaling").
_ADD_FLAG = """
local flag_id, flag_json, entity, severity, score, now, detector, candidate =
  ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8]
if redis.call('SET', 'vigil:flag:' .. flag_id, flag_json, 'NX') == false then
  return {0, redis.call('HGET', 'vigil:flag_case', flag_id) or ''}
end
local open_key = 'vigil:entity:' .. entity .. ':open_case'
local case_id = redis.call('GET', open_key)
if not case_id then
  case_id = candidate
  redis.call('SET', open_key, case_id)
  redis.call('HSET', 'vigil:case:' .. case_id, 'case_id', case_id, 'entity', entity,
             'status', 'open', 'created_at', now, 'severity', 0, 'max_score', 0, 'flag_count', 0)
  redis.call('INCR', 'vigil:stats:cases_opened')
end
local case_key = 'vigil:case:' .. case_id
local count = redis.call('HINCRBY', case_key, 'flag_count', 1)
local sev = math.max(tonumber(redis.call('HGET', case_key, 'severity')), severity)
local top = math.max(tonumber(redis.call('HGET', case_key, 'max_score')), score)
redis.call('HSET', case_key, 'severity', sev, 'max_score', top, 'updated_at', now)
redis.call('RPUSH', case_key .. ':flags', flag_id)
redis.call('HSET', 'vigil:flag_case', flag_id, case_id)
redis.call('ZADD', 'vigil:queue', sev * 1000 + top * 100 + math.min(count, 99), case_id)
redis.call('HINCRBY', 'vigil:stats:flags_by_detector', detector, 1)
redis.call('XADD', 'vigil:flags:recent', 'MAXLEN', '~', 10000, '*', 'flag_id', flag_id,
           'detector', detector, 'case_id', case_id)
return {1, case_id}
"""


@dataclass(frozen=True)
class AddResult:
    created: bool
    case_id: str


class ReviewQueue:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._add = redis.register_script(_ADD_FLAG)

    async def add_flag(self, flag: Flag) -> AddResult:
        entity = f"{flag.entity_type}:{flag.entity_id}"
        created, case_id = await self._add(args=[
            flag.flag_id, flag.model_dump_json(), entity, SEVERITY_RANK[flag.severity],
            flag.score, flag.flagged_at.isoformat(), flag.detector_id,
            "case_" + flag.flag_id.removeprefix("flg_")[:20],
        ])
        return AddResult(bool(created), case_id.decode() if isinstance(case_id, bytes) else case_id)

    async def flag_counts_by_detector(self) -> dict[str, int]:
        raw = await self.redis.hgetall(K + "stats:flags_by_detector")
        return {k.decode(): int(v) for k, v in raw.items()}

    async def flag_count(self) -> int:
        return await self.redis.hlen(K + "flag_case")

    async def open_cases(self, limit: int = 50) -> list[dict[str, Any]]:
        ids = await self.redis.zrevrange(K + "queue", 0, limit - 1)
        return [c for c in [await self.case(i.decode()) for i in ids] if c]

    async def case(self, case_id: str) -> dict[str, Any] | None:
        raw = await self.redis.hgetall(f"{K}case:{case_id}")
        if not raw:
            return None
        case: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
        flag_ids = [f.decode() for f in await self.redis.lrange(f"{K}case:{case_id}:flags", 0, -1)]
        case["flags"] = [json.loads(f) for f in await self.redis.mget([f"{K}flag:{i}" for i in flag_ids]) if f] if flag_ids else []
        return case

    async def queue_depth(self) -> int:
        return await self.redis.zcard(K + "queue")
