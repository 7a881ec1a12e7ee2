-- Record which link keys each user showed and which users an analyst confirmed as fraud, and
-- report the shared devices that are rings: at least ARGV[6] accounts, ARGV[8] of them confirmed.
-- ARGV[1]: JSON [[user, at, [link_key, ...]], ...]; ARGV[2]: most accounts kept per key (one
-- more is kept, to tell a value too common to link); ARGV[3]: most keys kept per user;
-- ARGV[4]: retention, seconds; ARGV[5]: the worker's clock; ARGV[6]: accounts on a device
-- that make a ring; ARGV[7]: JSON [[user, decided_at], ...], confirmed fraud; ARGV[8]: confirmed
-- accounts a ring needs; ARGV[9]: most confirmed accounts kept; ARGV[10]: JSON [[user, at], ...],
-- confirmations an appeal reversed at ``at`` (removed unless confirmed again later, so the order
-- a batch brings a confirmation and its reversal in does not matter). Idempotent: a redelivered event
-- changes nothing (ZADD GT keeps the latest time, and a write that changed nothing trims and
-- extends nothing), and reports the same rings again (the queue drops their flags by id).
local items, confirmed = cjson.decode(ARGV[1]), cjson.decode(ARGV[7])
local max_group, max_keys = tonumber(ARGV[2]), tonumber(ARGV[3])
local ttl, now, ring_min = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local ring_confirmed, max_confirmed = tonumber(ARGV[8]), tonumber(ARGV[9])
local cutoff = '(' .. tostring(now - ttl)
local CONFIRMED = 'vigil:links:confirmed'
-- The devices to test once the batch is written, in the order the batch showed them.
local devices, listed = {}, {}
local function candidate(k)
  if not listed[k] then
    listed[k] = true
    table.insert(devices, k)
  end
end

for _, item in ipairs(items) do
  local user, at = item[1], item[2]
  -- Texts apart from devices, IPs and domains: a chatty user's messages must not push their
  -- device out of their most recent keys.
  local ukeys = {'vigil:links:user:' .. user, 'vigil:links:texts:' .. user}
  local touched = {}
  for _, k in ipairs(item[3]) do
    local gkey = 'vigil:links:key:' .. k
    if redis.call('ZADD', gkey, 'GT', 'CH', at, user) == 1 then
      redis.call('ZREMRANGEBYSCORE', gkey, '-inf', cutoff)
      local n = redis.call('ZCARD', gkey)
      if n > max_group + 1 then redis.call('ZREMRANGEBYRANK', gkey, 0, n - max_group - 2) end
      redis.call('EXPIRE', gkey, ttl)
      local which = (string.sub(k, 1, 5) == 'text:') and 2 or 1
      if redis.call('ZADD', ukeys[which], 'GT', 'CH', at, k) == 1 then touched[which] = true end
    end
    if string.sub(k, 1, 7) == 'device:' then candidate(k) end
  end
  for which, ukey in ipairs(ukeys) do
    if touched[which] then
      redis.call('ZREMRANGEBYSCORE', ukey, '-inf', cutoff)
      local m = redis.call('ZCARD', ukey)
      if m > max_keys then redis.call('ZREMRANGEBYRANK', ukey, 0, m - max_keys - 1) end
      redis.call('EXPIRE', ukey, ttl)
    end
  end
end

-- A confirmation can complete a ring nobody has joined since: test the user's devices now.
local changed = false
for _, c in ipairs(confirmed) do
  if redis.call('ZADD', CONFIRMED, 'GT', 'CH', c[2], c[1]) == 1 then changed = true end
  for _, k in ipairs(redis.call('ZRANGE', 'vigil:links:user:' .. c[1], 0, -1)) do
    if string.sub(k, 1, 7) == 'device:' then candidate(k) end
  end
end
for _, w in ipairs(cjson.decode(ARGV[10])) do
  local score = redis.call('ZSCORE', CONFIRMED, w[1])
  if score and tonumber(score) <= w[2] then redis.call('ZREM', CONFIRMED, w[1]) end
end
if changed then
  redis.call('ZREMRANGEBYSCORE', CONFIRMED, '-inf', cutoff)
  local m = redis.call('ZCARD', CONFIRMED)
  if m > max_confirmed then redis.call('ZREMRANGEBYRANK', CONFIRMED, 0, m - max_confirmed - 1) end
  redis.call('EXPIRE', CONFIRMED, ttl)
end

local rings = {}
for _, k in ipairs(devices) do
  local gkey = 'vigil:links:key:' .. k
  local n = redis.call('ZCARD', gkey)
  if n >= ring_min and n <= max_group then
    local members = redis.call('ZRANGE', gkey, 0, -1)
    local marked = {}
    if ring_confirmed > 0 then
      local scores = redis.call('ZMSCORE', CONFIRMED, unpack(members))
      for i, score in ipairs(scores) do
        if score and tonumber(score) >= now - ttl then table.insert(marked, members[i]) end
      end
    end
    if #marked >= ring_confirmed then
      table.insert(rings, {k, members, marked})
    end
  end
end
if #rings == 0 then return '[]' end
return cjson.encode(rings)
