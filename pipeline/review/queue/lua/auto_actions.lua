-- Automatic actions of a batch's flags (Enforcement.add_auto_actions). ARGV[1]: now; ARGV[2]: a
-- JSON array of [action id, record JSON, case id, audit details JSON]. An action id seen before
-- (a redelivered event: the same flag id) changes nothing. Returns how many were new.
local now, items = ARGV[1], cjson.decode(ARGV[2])
local added = 0
for _, a in ipairs(items) do
  local akey = 'vigil:action:' .. a[1]
  if redis.call('EXISTS', akey) == 0 then
    redis.call('HSET', akey, 'record', a[2], 'state', 'pending', 'case_id', a[3],
               'created_at', now, 'updated_at', now)
    redis.call('RPUSH', 'vigil:case_actions:' .. a[3], a[1])
    redis.call('HSET', 'vigil:outbox:actions:pending', a[1], a[2])
    redis.call('XADD', 'vigil:audit', '*', 'at', now, 'actor', 'automatic', 'action', 'auto_action',
               'case_id', a[3], 'details', a[4])
    added = added + 1
  end
end
return added
