-- Record which link keys each user showed, and report the shared devices with a ring's size.
-- ARGV[1]: JSON [[user, at, [link_key, ...]], ...]; ARGV[2]: most accounts kept per key (one
-- more is kept, to tell a value too common to link); ARGV[3]: most keys kept per user;
-- ARGV[4]: retention, seconds; ARGV[5]: the worker's clock; ARGV[6]: accounts on a device
-- that make a ring. Idempotent: a redelivered event changes nothing (ZADD GT keeps the latest
-- time, and a write that changed nothing trims and extends nothing).
local items = cjson.decode(ARGV[1])
local max_group, max_keys = tonumber(ARGV[2]), tonumber(ARGV[3])
local ttl, now, ring_min = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local cutoff = '(' .. tostring(now - ttl)
local rings, seen = {}, {}
for _, item in ipairs(items) do
  local user, at = item[1], item[2]
  -- Texts apart from devices, IPs and domains: a chatty user's messages must not push their
  -- device out of their most recent keys.
  local ukeys = {'vigil:links:user:' .. user, 'vigil:links:texts:' .. user}
  local touched = {}
  for _, k in ipairs(item[3]) do
    local gkey = 'vigil:links:key:' .. k
    local n = -1
    if redis.call('ZADD', gkey, 'GT', 'CH', at, user) == 1 then
      redis.call('ZREMRANGEBYSCORE', gkey, '-inf', cutoff)
      n = redis.call('ZCARD', gkey)
      if n > max_group + 1 then
        redis.call('ZREMRANGEBYRANK', gkey, 0, n - max_group - 2)
        n = max_group + 1
      end
      redis.call('EXPIRE', gkey, ttl)
      local which = (string.sub(k, 1, 5) == 'text:') and 2 or 1
      if redis.call('ZADD', ukeys[which], 'GT', 'CH', at, k) == 1 then touched[which] = true end
    end
    if string.sub(k, 1, 7) == 'device:' and not seen[k] then
      if n < 0 then n = redis.call('ZCARD', gkey) end
      if n >= ring_min and n <= max_group then
        seen[k] = true
        table.insert(rings, {k, redis.call('ZRANGE', gkey, 0, -1)})
      end
    end
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
if #rings == 0 then return '[]' end
return cjson.encode(rings)
