-- Move an entry from a pending outbox to its published hash; 1 if it was pending.
-- ARGV[3]: the outbox, 'vigil:outbox' (decision events) or 'vigil:outbox:actions'.
local id, now, outbox = ARGV[1], ARGV[2], ARGV[3] or 'vigil:outbox'
if redis.call('HDEL', outbox .. ':pending', id) == 1 then
  redis.call('HSET', outbox .. ':published', id, now)
  return 1
end
return 0
