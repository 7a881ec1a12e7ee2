-- Move a decision's event from the pending outbox to the published one; 1 if it was pending.
local decision_id, now = ARGV[1], ARGV[2]
if redis.call('HDEL', 'vigil:outbox:pending', decision_id) == 1 then
  redis.call('HSET', 'vigil:outbox:published', decision_id, now)
  return 1
end
return 0
