-- Index a case under search terms (prepended to add_flags.lua; read by CaseViews.search).
-- 'vigil:search' holds '<kind>:<value> <case_id>' members at score 0, read by prefix with
-- ZRANGEBYLEX (ids never hold a space, and a space sorts before every character they may hold);
-- 'vigil:search:at' holds the same members by time, so past the cap the oldest go first.
local function index_case(case_id, entity_type, entity_id, subject, terms, cap, now)
  terms[#terms + 1] = 'case:' .. case_id
  if entity_type == 'user' then terms[#terms + 1] = 'user:' .. entity_id end
  if entity_type == 'job_post' then terms[#terms + 1] = 'job:' .. entity_id end
  if subject ~= '' then terms[#terms + 1] = 'user:' .. subject end
  for _, term in ipairs(terms) do
    local member = term .. ' ' .. case_id
    redis.call('ZADD', 'vigil:search', 0, member)
    redis.call('ZADD', 'vigil:search:at', now, member)
  end
  local over = redis.call('ZCARD', 'vigil:search:at') - cap
  if over > 0 then
    local old = redis.call('ZPOPMIN', 'vigil:search:at', over)
    for i = 1, #old, 2 do redis.call('ZREM', 'vigil:search', old[i]) end
  end
end
