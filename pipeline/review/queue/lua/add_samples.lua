-- Add a batch of labelling samples, in order (Labelling.add_samples_to). ARGV[1] is a JSON array
-- with one argument list per sample; the reply has one entry per sample:
-- {written (1/0), case_id, status, budget spent that day (-1: not counted)} or {-1, error}.
-- Status: opened (a labelling case), linked (a random sample whose event is in a flag's case:
-- its label comes from that case), duplicate (seen before: a redelivery), flagged (a model's
-- pick whose event a flag put in a case meanwhile: not needed), budget (the model's day is spent).
local function add(a)
local event_id, sample_json, entity, entity_type, entity_id, subject = a[1], a[2], a[3], a[4], a[5], a[6]
local candidate, now, event_json, flag_ids = a[7], tonumber(a[8]), a[9], cjson.decode(a[10])
local budget_key, limit, minute, random, reason = a[11], tonumber(a[12]), a[13], a[14] == '1', a[15]
local event_type, why, zscore = a[16], a[17], tonumber(a[18])
local key = 'vigil:sample:' .. event_id

-- Reads first (a failed read must leave nothing behind, as in add_flags.lua).
local existing = redis.call('HGET', key, 'case_id')
if existing then return {0, existing, 'duplicate', -1} end
local linked = nil
for _, flag_id in ipairs(flag_ids) do
  local case_id = redis.call('HGET', 'vigil:flag_case', flag_id)
  if case_id and case_id ~= '' and not redis.call('HGET', 'vigil:flag_suppressed', flag_id) then
    linked = case_id
    break
  end
end
local spent = -1
if not random then
  if linked then return {0, linked, 'flagged', -1} end
  spent = tonumber(redis.call('GET', budget_key) or '0')
  if spent >= limit then return {0, '', 'budget', spent} end
end

-- Writes.
if not random then
  spent = redis.call('INCR', budget_key)
  redis.call('EXPIRE', budget_key, 3 * 86400)
end
redis.call('HINCRBY', 'vigil:stats:samples', why, 1)
redis.call('HINCRBY', 'vigil:stats:samples_by_type', event_type .. '|' .. why, 1)
redis.call('HINCRBY', 'vigil:ts:samples:' .. why, minute, 1)
if linked then
  redis.call('HSET', key, 'sample', sample_json, 'case_id', linked, 'kind', 'flag', 'created_at', now)
  return {1, linked, 'linked', spent}
end
redis.call('HSET', key, 'sample', sample_json, 'case_id', candidate, 'kind', 'labelling',
           'created_at', now)
if event_json ~= '' then redis.call('SET', 'vigil:event:' .. event_id, event_json, 'NX') end
local case_key = 'vigil:case:' .. candidate
redis.call('HSET', case_key, 'case_id', candidate, 'kind', 'labelling', 'entity', entity,
           'entity_type', entity_type, 'entity_id', entity_id, 'subject_id', subject,
           'status', 'open', 'created_at', now, 'updated_at', now, 'severity', 0, 'max_score', 0,
           'flag_count', 0, 'report_count', 0, 'suppressed_count', 0, 'sample_count', 1,
           'detectors', ',', 'top_reason', reason, 'top_detector', '', 'priority_base', 0)
redis.call('RPUSH', case_key .. ':samples', event_id)
redis.call('RPUSH', 'vigil:entity_cases:' .. entity, candidate)
redis.call('ZADD', 'vigil:labelling', zscore, candidate)
redis.call('INCR', 'vigil:stats:labelling_cases_opened')
return {1, candidate, 'opened', spent}
end

return each(add)
