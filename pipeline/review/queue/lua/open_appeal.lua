-- An appeal.filed event reopens a decision as an appeal case (Appeals.file_appeal).
-- {'refused', reason}: no such decision, the appellant is not its subject, nothing to appeal or
-- too late; {'duplicate', case_id}: this decision was appealed before (a redelivery, or a second
-- appeal: one appeal per decision); {'opened', case_id}.
local appeal_id, decision_id, user, statement = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local case_id, now, due, window = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local priority_base, event_id, event_json, zscore = ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local raw = redis.call('GET', 'vigil:decision:' .. decision_id)
if not raw then return {'refused', 'there is no decision ' .. decision_id} end
local d = cjson.decode(raw)
if d['subject_id'] ~= user then
  return {'refused', 'user ' .. user .. ' is not the subject of decision ' .. decision_id ..
          ': only the affected user may appeal it'}
end
local existing = redis.call('GET', 'vigil:appeal_of:' .. decision_id)
if existing then return {'duplicate', existing} end
if d['appeal_of'] then
  return {'refused', 'decision ' .. decision_id .. ' decided an appeal; it cannot be appealed again'}
end
if d['outcome'] ~= 'confirmed_fraud' then
  return {'refused', 'decision ' .. decision_id .. ' (' .. d['outcome'] .. ') restricted nothing'}
end
local decided = tonumber(redis.call('HGET', 'vigil:case:' .. d['case_id'], 'decided_at') or now)
if now - decided > window then
  return {'refused', 'decision ' .. decision_id .. ' is past the appeal window'}
end
local key = 'vigil:case:' .. case_id
redis.call('SET', 'vigil:appeal_of:' .. decision_id, case_id)
if event_json ~= '' then redis.call('SET', 'vigil:event:' .. event_id, event_json, 'NX') end
redis.call('HSET', key, 'case_id', case_id, 'kind', 'appeal', 'entity', d['entity'],
           'entity_type', d['entity_type'], 'entity_id', d['entity_id'], 'subject_id', user,
           'status', 'open', 'created_at', now, 'updated_at', now, 'severity', 3, 'max_score', 0,
           'flag_count', 0, 'report_count', 0, 'suppressed_count', 0, 'sample_count', 0,
           'detectors', ',', 'top_reason', 'appeal of decision ' .. decision_id,
           'top_detector', 'appeal.filed', 'priority_base', priority_base, 'due_at', due,
           'appeal_id', appeal_id, 'appeal_of', decision_id, 'original_case', d['case_id'],
           'original_decider', d['analyst_id'], 'appeal_statement', statement,
           'appeal_event_ids', cjson.encode(d['event_ids']), 'appeal_event_id', event_id)
redis.call('RPUSH', 'vigil:entity_cases:' .. d['entity'], case_id)
redis.call('ZADD', 'vigil:appeals', zscore, case_id)
redis.call('INCR', 'vigil:stats:appeals_filed')
redis.call('XADD', 'vigil:audit', '*', 'at', now, 'actor', user, 'action', 'appeal_filed',
           'case_id', case_id, 'details', cjson.encode({appeal_id = appeal_id,
             decision_id = decision_id, original_case = d['case_id'],
             original_decider = d['analyst_id'], event_id = event_id}))
return {'opened', case_id}
