-- Claim, renew or reassign a case (ReviewQueue.claim, reassign): {'ok', lease_until, action}
-- or a refusal code.
local case_id, who, now, lease, is_lead, action, actor, details =
  ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1', ARGV[6], ARGV[7], ARGV[8]
local key = 'vigil:case:' .. case_id
if redis.call('EXISTS', key) == 0 then return {'missing'} end
local status, holder, lease_until = unpack(redis.call('HMGET', key, 'status', 'claimed_by', 'lease_until'))
if status == 'closed' then return {'closed'} end
if status == 'escalated' and not is_lead then return {'escalated'} end
local held = holder and holder ~= '' and tonumber(lease_until) > now
if action == 'claim' and held and holder ~= who then return {'held', holder, lease_until} end
local what = action
if action == 'claim' and held and holder == who then what = 'renew' end
local new_until = now + lease
redis.call('HSET', key, 'claimed_by', who, 'lease_until', new_until)
if what ~= 'renew' then redis.call('HSET', key, 'claimed_at', now) end
redis.call('XADD', 'vigil:audit', '*', 'at', now, 'actor', actor, 'action', what,
           'case_id', case_id, 'details', details)
return {'ok', tostring(new_until), what}
