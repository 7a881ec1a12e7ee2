"""Token buckets in Redis: the ingest rate limit per service token and the failed-login throttle.

One Lua script refills and takes in one step, so every instance of the review service shares
each bucket and two requests never both take its last token. A bucket holds at most ``burst``
tokens and gains ``rate`` per second; an idle bucket expires once it would be full again. Times
come from the service's clock (so tests can move it); a clock that steps back refills nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

PREFIX = "vigil:bucket:"
#: KEYS[1] the bucket; ARGV rate (tokens/s), burst, now (s), cost. ``cost`` 0 only looks: it
#: passes while a token is left. Returns {1, tokens left} or {0, milliseconds until enough}.
BUCKET_LUA = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
local need = math.max(cost, 1)
if tokens < need then
  return {0, tostring(math.ceil((need - tokens) / rate * 1000))}
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return {1, string.format('%.17g', tokens)}
"""


@dataclass(frozen=True)
class Admission:
    allowed: bool
    #: Whole seconds to wait before trying again (0 when allowed), for ``Retry-After``.
    retry_after: int = 0


class TokenBuckets:
    """``take`` from a named bucket; each call says its rate (tokens/s) and burst."""

    def __init__(self, redis: Redis, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._script = redis.register_script(BUCKET_LUA)

    async def take(self, name: str, *, rate: float, burst: int, cost: int = 1) -> Admission:
        allowed, value = await self._script(keys=[PREFIX + name],
                                            args=[repr(rate), burst, repr(self.clock()), cost])
        if int(allowed):
            return Admission(True)
        return Admission(False, max(1, math.ceil(int(value) / 1000)))

    async def peek(self, name: str, *, rate: float, burst: int) -> Admission:
        """Whether a token is left, taking none."""
        return await self.take(name, rate=rate, burst=burst, cost=0)
