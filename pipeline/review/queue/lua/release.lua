-- Give a claimed case back (ReviewQueue.release): {'ok', previous holder} or a refusal code.
local case_id, who, now, is_lead = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1'
local key = 'vigil:case:' .. case_id
if redis.call('EXISTS', key) == 0 then return {'missing'} end
local holder, lease_until = unpack(redis.call('HMGET', key, 'claimed_by', 'lease_until'))
if not holder or holder == '' then return {'not_claimed'} end
if holder ~= who and not is_lead then
  if tonumber(lease_until) > now then return {'held', holder, lease_until} end
  return {'not_claimed'}
end
redis.call('HDEL', key, 'claimed_by', 'lease_until', 'claimed_at')
redis.call('XADD', 'vigil:audit', '*', 'at', now, 'actor', who, 'action', 'release',
           'case_id', case_id, 'details', cjson.encode({previous_holder = holder}))
return {'ok', holder}
