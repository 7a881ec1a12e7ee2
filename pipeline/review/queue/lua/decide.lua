-- Decide a claimed case (ReviewQueue.decide): record the decision, close or escalate the case,
-- append to the audit stream and put the review.decided event in the outbox, in one step.
-- {'stale'} when a flag joined since the caller read the case (it reads again).
-- A final decision also counts, once per event, the random labelling sample's events it decides
-- (estimates.py reads the sums) and, on a detection case, a decision per detector that flagged it.
local case_id, decision_id, who, is_lead, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1', tonumber(ARGV[5])
local expected_flags, outcome, decision_json, event_json = tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local subject, minute, event_ids = ARGV[10], ARGV[11], cjson.decode(ARGV[12])
-- The decision's platform actions ([id, record JSON, id of the action it reverses or '']):
-- each is kept under vigil:action:<id> with its state and put in the actions' outbox, once.
local actions = cjson.decode(ARGV[13])
local existing = redis.call('GET', 'vigil:decision:' .. decision_id)
if existing then return {'dup', existing} end
local key = 'vigil:case:' .. case_id
if redis.call('EXISTS', key) == 0 then return {'missing'} end
local status, holder, lease_until, count, entity, due, breached, kind, dets = unpack(redis.call(
  'HMGET', key, 'status', 'claimed_by', 'lease_until', 'flag_count', 'entity', 'due_at',
  'breached_at', 'kind', 'detectors'))
local labelling, appeal = kind == 'labelling', kind == 'appeal'
local detection = not labelling and not appeal
local prefix = (labelling and 'vigil:labelling') or (appeal and 'vigil:appeals') or nil
local open_set = prefix or 'vigil:queue'
local escalated_set = prefix and (prefix .. ':escalated') or 'vigil:escalated'
local closed_set = prefix and (prefix .. ':closed') or 'vigil:closed'
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
if not labelling and (breached == false or breached == '') and tonumber(due) <= now then
  redis.call('HSET', key, 'breached_at', due)
  if appeal then
    redis.call('INCR', 'vigil:stats:appeal_sla_breaches')
  else
    redis.call('INCR', 'vigil:stats:sla_breaches')
    redis.call('HINCRBY', 'vigil:ts:sla_breaches', minute, 1)
  end
end
redis.call('ZREM', 'vigil:sla:pending', case_id)
if outcome == 'escalate' then
  local score = redis.call('ZSCORE', open_set, case_id)
  redis.call('ZREM', open_set, case_id)
  redis.call('ZADD', escalated_set, score or 0, case_id)
  redis.call('HSET', key, 'status', 'escalated', 'escalated_at', now)
else
  redis.call('ZREM', open_set, case_id)
  redis.call('ZREM', escalated_set, case_id)
  redis.call('ZREM', 'vigil:sla', case_id)
  redis.call('ZADD', closed_set, now, case_id)
  redis.call('HSET', key, 'status', 'closed')
  if detection then
    local open_key = 'vigil:entity:' .. entity .. ':open_case'
    if redis.call('GET', open_key) == case_id then redis.call('DEL', open_key) end
    for det in string.gmatch(dets or '', '[^,]+') do
      redis.call('HINCRBY', 'vigil:stats:detector_decisions', det .. '|' .. outcome, 1)
    end
  end
  -- The random stratum's events this decision labels, each counted once (Horvitz-Thompson
  -- weight w = 1 / inclusion probability; y = fraud).
  local y = outcome == 'confirmed_fraud' and 1 or 0
  for _, event_id in ipairs(event_ids) do
    local skey = 'vigil:sample:' .. event_id
    local sample, counted = unpack(redis.call('HMGET', skey, 'sample', 'counted'))
    if sample and not counted then
      redis.call('HSET', skey, 'counted', outcome)
      local s = cjson.decode(sample)
      if s['reason'] == 'random' and tonumber(s['inclusion_probability']) > 0 then
        local w = 1 / tonumber(s['inclusion_probability'])
        local ekey = 'vigil:est:' .. s['event_type']
        redis.call('HINCRBY', ekey, 'n', 1)
        redis.call('HINCRBYFLOAT', ekey, 'w', w)
        redis.call('HINCRBYFLOAT', ekey, 'w2', w * w)
        redis.call('HINCRBYFLOAT', ekey, 'wy', w * y)
        redis.call('HINCRBYFLOAT', ekey, 'w2y', w * w * y)
        redis.call('SADD', 'vigil:est:types', s['event_type'])
        if y == 1 then
          local any = false
          for _, det in ipairs(s['fired']) do
            redis.call('HINCRBYFLOAT', 'vigil:est_caught:' .. s['event_type'], det, w)
            any = true
          end
          if any then redis.call('HINCRBYFLOAT', 'vigil:est_caught:' .. s['event_type'], '*', w) end
        end
      end
    end
  end
end
if ARGV[14] ~= '1' then redis.call('HSET', 'vigil:outbox:pending', decision_id, event_json) end
for _, a in ipairs(actions) do
  local akey = 'vigil:action:' .. a[1]
  if redis.call('EXISTS', akey) == 0 then
    redis.call('HSET', akey, 'record', a[2], 'state', 'pending', 'case_id', case_id,
               'created_at', now, 'updated_at', now)
    redis.call('RPUSH', 'vigil:case_actions:' .. case_id, a[1])
    redis.call('HSET', 'vigil:outbox:actions:pending', a[1], a[2])
    if a[3] ~= '' then redis.call('HSET', 'vigil:action:' .. a[3], 'reversed_by', a[1]) end
  end
end
redis.call('XADD', 'vigil:audit', '*', 'at', now, 'actor', who, 'action', 'decide',
           'case_id', case_id, 'details', decision_json)
redis.call('HINCRBY', (labelling and 'vigil:stats:labelling_decisions')
           or (appeal and 'vigil:stats:appeal_decisions') or 'vigil:stats:decisions', outcome, 1)
redis.call('HINCRBY', 'vigil:ts:decisions:' .. outcome, minute, 1)
return {'ok', decision_json}
