-- Decide a claimed case (ReviewQueue.decide): record the decision, close or escalate the case,
-- append to the audit stream and put the review.decided event in the outbox, in one step.
-- {'stale'} when a flag joined since the caller read the case (it reads again).
local case_id, decision_id, who, is_lead, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1', tonumber(ARGV[5])
local expected_flags, outcome, decision_json, event_json = tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local subject, minute = ARGV[10], ARGV[11]
local existing = redis.call('GET', 'vigil:decision:' .. decision_id)
if existing then return {'dup', existing} end
local key = 'vigil:case:' .. case_id
if redis.call('EXISTS', key) == 0 then return {'missing'} end
local status, holder, lease_until, count, entity, due, breached = unpack(redis.call('HMGET', key,
  'status', 'claimed_by', 'lease_until', 'flag_count', 'entity', 'due_at', 'breached_at'))
if status == 'closed' then return {'closed'} end
if status == 'escalated' and not is_lead then return {'escalated'} end
if status == 'escalated' and outcome == 'escalate' then return {'already_escalated'} end
if holder ~= who or tonumber(lease_until) <= now then
  return {'not_claimed', holder or '', lease_until or ''}
end
if tonumber(count) ~= expected_flags then return {'stale'} end

redis.call('SET', 'vigil:decision:' .. decision_id, decision_json)
redis.call('RPUSH', 'vigil:case_decisions:' .. case_id, decision_json)
redis.call('RPUSH', 'vigil:entity_decisions:' .. entity, decision_json)
if subject ~= '' then redis.call('RPUSH', 'vigil:subject_decisions:' .. subject, decision_json) end
redis.call('HDEL', key, 'claimed_by', 'lease_until', 'claimed_at')
redis.call('HSET', key, 'outcome', outcome, 'decision_id', decision_id, 'decided_by', who,
           'decided_at', now, 'updated_at', now)
if (breached == false or breached == '') and tonumber(due) <= now then
  redis.call('HSET', key, 'breached_at', due)
  redis.call('INCR', 'vigil:stats:sla_breaches')
  redis.call('HINCRBY', 'vigil:ts:sla_breaches', minute, 1)
end
redis.call('ZREM', 'vigil:sla:pending', case_id)
if outcome == 'escalate' then
  local score = redis.call('ZSCORE', 'vigil:queue', case_id)
  redis.call('ZREM', 'vigil:queue', case_id)
  redis.call('ZADD', 'vigil:escalated', score or 0, case_id)
  redis.call('HSET', key, 'status', 'escalated', 'escalated_at', now)
else
  redis.call('ZREM', 'vigil:queue', case_id)
  redis.call('ZREM', 'vigil:escalated', case_id)
  redis.call('ZREM', 'vigil:sla', case_id)
  redis.call('ZADD', 'vigil:closed', now, case_id)
  redis.call('HSET', key, 'status', 'closed')
  local open_key = 'vigil:entity:' .. entity .. ':open_case'
  if redis.call('GET', open_key) == case_id then redis.call('DEL', open_key) end
end
redis.call('HSET', 'vigil:outbox:pending', decision_id, event_json)
redis.call('XADD', 'vigil:audit', '*', 'at', now, 'actor', who, 'action', 'decide',
           'case_id', case_id, 'details', decision_json)
redis.call('HINCRBY', 'vigil:stats:decisions', outcome, 1)
redis.call('HINCRBY', 'vigil:ts:decisions:' .. outcome, minute, 1)
return {'ok', decision_json}
