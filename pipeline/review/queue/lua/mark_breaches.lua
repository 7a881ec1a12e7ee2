-- Record (once) each open case past its SLA due time; returns how many were looked at.
local now, minute = tonumber(ARGV[1]), ARGV[2]
local ids = redis.call('ZRANGEBYSCORE', 'vigil:sla:pending', '-inf', now)
for _, case_id in ipairs(ids) do
  local key = 'vigil:case:' .. case_id
  local status, due = unpack(redis.call('HMGET', key, 'status', 'due_at'))
  if status and status ~= 'closed' then
    redis.call('HSET', key, 'breached_at', due)
    redis.call('INCR', 'vigil:stats:sla_breaches')
    redis.call('HINCRBY', 'vigil:ts:sla_breaches', minute, 1)
  end
  redis.call('ZREM', 'vigil:sla:pending', case_id)
end
return #ids
