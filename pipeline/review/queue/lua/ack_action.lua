-- A platform service's acknowledgement of an action (Enforcement.acknowledge).
-- {'unknown'}: no such action for this user; {'duplicate', action}: this event was recorded
-- before; {'stale', action}: a later acknowledgement is in force (kept in the list, state
-- unchanged); {state, action}: the action's state is now `state` (applied or failed).
local action_id, event_id, state, reason, service = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local at, now, user = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local key = 'vigil:action:' .. action_id
local record = redis.call('HGET', key, 'record')
if not record then return {'unknown'} end
local action = cjson.decode(record)
if action['subject_id'] ~= user then return {'unknown'} end
if redis.call('SADD', key .. ':acks', event_id) == 0 then return {'duplicate', action['action']} end
redis.call('EXPIRE', key .. ':acks', 90 * 86400)
local acks = cjson.decode(redis.call('HGET', key, 'acks') or '[]')
table.insert(acks, {event_id = event_id, state = state, reason = reason, service = service, at = at})
while #acks > 20 do table.remove(acks, 1) end
redis.call('HSET', key, 'acks', cjson.encode(acks))
local case_id = redis.call('HGET', key, 'case_id')
redis.call('XADD', 'vigil:audit', '*', 'at', now, 'actor', service, 'action', 'action_' .. state,
           'case_id', case_id, 'details', cjson.encode({action_id = action_id,
             action = action['action'], event_id = event_id, reason = reason, at = at}))
local state_at = tonumber(redis.call('HGET', key, 'state_at') or '0')
if at < state_at then return {'stale', action['action']} end
redis.call('HSET', key, 'state', state, 'reason', reason, 'service', service, 'state_at', at,
           'updated_at', now)
redis.call('HINCRBY', 'vigil:stats:action_results', state, 1)
if state == 'failed' then
  redis.call('SADD', 'vigil:actions:failed', action_id)
else
  redis.call('SREM', 'vigil:actions:failed', action_id)
end
return {state, action['action']}
