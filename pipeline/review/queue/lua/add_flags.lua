-- Add a batch of flags, in order (ReviewQueue.add_flags). ARGV[1] is a JSON array with one
-- argument list per flag (one string is far cheaper for redis-py to send than thousands of
-- arguments); the reply has one entry per flag: {created, case_id, suppressed, fresh}, or
-- {-1, error} for a flag Redis refused.
local function add(ARGV)
local flag_id, flag_json, entity, entity_type, entity_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local sev, score, now = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local detector, candidate, occurred = ARGV[9], ARGV[10], tonumber(ARGV[11])
local dedup, is_report, subject = tonumber(ARGV[12]), ARGV[13] == '1', ARGV[14]
local event_id, event_json, sla, minute, reason = ARGV[15], ARGV[16], tonumber(ARGV[17]), ARGV[18], ARGV[19]
local w = {}
for i = 20, 26 do w[#w + 1] = tonumber(ARGV[i]) end
local search, search_cap = ARGV[27], tonumber(ARGV[28])

-- A report about a message or proposal whose author the worker recorded (history.py) joins the
-- author's case: its subject is the author, and the case keeps the reported content.
local content = nil
if is_report and (entity_type == 'message' or entity_type == 'proposal') then
  local author, content_event, envelope = unpack(redis.call(
    'HMGET', 'vigil:content:' .. entity_type .. ':' .. entity_id, 'author', 'event_id', 'envelope'))
  if author then
    content = {cjson.encode({target_type = entity_type, target_id = entity_id,
                             event_id = content_event, author = author}), content_event, envelope}
    entity_type, entity_id, subject = 'user', author, author
    entity = 'user:' .. author
  end
end

-- Every read that can fail (a key of the wrong type, a snooze that is not JSON) runs before
-- the first write: Redis does not roll a failed script back, and a flag key left behind by a
-- failed run would make the retry a silent "duplicate" with no case.
local open_key = 'vigil:entity:' .. entity .. ':open_case'
local case_id = redis.call('GET', open_key)
local why = nil
local snooze = redis.call('HGET', 'vigil:snooze:' .. entity, detector)
if snooze and tonumber(cjson.decode(snooze)['expires_at']) > now then
  why = 'snoozed'
elseif case_id and dedup > 0 then
  local last = redis.call('HGET', 'vigil:case_dedup:' .. case_id, detector)
  if last and math.abs(occurred - tonumber(last)) < dedup then why = 'dedup' end
end

if redis.call('SET', 'vigil:flag:' .. flag_id, flag_json, 'NX') == false then
  return {0, redis.call('HGET', 'vigil:flag_case', flag_id) or '',
          redis.call('HGET', 'vigil:flag_suppressed', flag_id) or '', 0}
end
if event_json ~= '' then redis.call('SET', 'vigil:event:' .. event_id, event_json, 'NX') end
redis.call('HINCRBY', 'vigil:stats:flags_by_detector', detector, 1)
redis.call('HINCRBY', 'vigil:ts:flags:' .. detector, minute, 1)
redis.call('SADD', 'vigil:ts:detectors', detector)

if why then
  redis.call('HSET', 'vigil:flag_suppressed', flag_id, why)
  redis.call('HSET', 'vigil:flag_case', flag_id, case_id or '')
  if case_id then
    redis.call('RPUSH', 'vigil:case_suppressed:' .. case_id, flag_id)
    redis.call('HINCRBY', 'vigil:case:' .. case_id, 'suppressed_count', 1)
  end
  redis.call('HINCRBY', 'vigil:stats:suppressed', why, 1)
  redis.call('HINCRBY', 'vigil:stats:suppressed_by_detector', detector, 1)
  return {0, case_id or '', why, 1}
end

if not case_id then
  case_id = candidate
  redis.call('SET', open_key, case_id)
  redis.call('HSET', 'vigil:case:' .. case_id, 'case_id', case_id, 'entity', entity,
             'entity_type', entity_type, 'entity_id', entity_id, 'subject_id', subject,
             'status', 'open', 'created_at', now, 'updated_at', now, 'severity', 0,
             'max_score', 0, 'flag_count', 0, 'report_count', 0, 'suppressed_count', 0,
             'detectors', ',', 'due_at', now + sla, 'top_reason', '', 'top_detector', '')
  redis.call('RPUSH', 'vigil:entity_cases:' .. entity, case_id)
  redis.call('INCR', 'vigil:stats:cases_opened')
end
local key = 'vigil:case:' .. case_id
local count = redis.call('HINCRBY', key, 'flag_count', 1)
local old_sev, old_top, due, status, dets, created, have_subject, breached = unpack(redis.call(
  'HMGET', key, 'severity', 'max_score', 'due_at', 'status', 'detectors', 'created_at',
  'subject_id', 'breached_at'))
old_sev, old_top = tonumber(old_sev), tonumber(old_top)
if sev > old_sev or (sev == old_sev and score > old_top) then
  redis.call('HSET', key, 'top_reason', reason, 'top_detector', detector)
end
redis.call('HSET', key, 'severity', math.max(old_sev, sev), 'max_score', math.max(old_top, score),
           'updated_at', now, 'due_at', math.min(tonumber(due), now + sla))
if is_report then redis.call('HINCRBY', key, 'report_count', 1) end
if not string.find(dets, ',' .. detector .. ',', 1, true) then
  redis.call('HSET', key, 'detectors', dets .. detector .. ',')
end
if (have_subject == false or have_subject == '') and subject ~= '' then
  redis.call('HSET', key, 'subject_id', subject)
end
local last = redis.call('HGET', 'vigil:case_dedup:' .. case_id, detector)
if not last or occurred > tonumber(last) then
  redis.call('HSET', 'vigil:case_dedup:' .. case_id, detector, occurred)
end
local base, zscore = priority(key, w, tonumber(created))
redis.call('HSET', key, 'priority_base', base)
redis.call('ZADD', status == 'escalated' and 'vigil:escalated' or 'vigil:queue', zscore, case_id)
local due_now = tonumber(redis.call('HGET', key, 'due_at'))
redis.call('ZADD', 'vigil:sla', due_now, case_id)
if breached == false or breached == '' then redis.call('ZADD', 'vigil:sla:pending', due_now, case_id) end
redis.call('RPUSH', key .. ':flags', flag_id)
redis.call('HSET', 'vigil:flag_case', flag_id, case_id)
if content then
  if content[3] then redis.call('SET', 'vigil:event:' .. content[2], content[3], 'NX') end
  if redis.call('SADD', 'vigil:case_content_seen:' .. case_id, content[2]) == 1 then
    redis.call('RPUSH', 'vigil:case_content:' .. case_id, content[1])
  end
end
index_case(case_id, entity_type, entity_id, subject, cjson.decode(search), search_cap, now)
redis.call('XADD', 'vigil:flags:recent', 'MAXLEN', '~', 10000, '*', 'flag_id', flag_id,
           'detector', detector, 'case_id', case_id)
return {1, case_id, '', 1}
end

-- Each flag on its own (each.lua): a flag Redis refuses wrote nothing, the others go on.
return each(add)
