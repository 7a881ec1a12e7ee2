-- Claim the highest-priority case nobody holds (ReviewQueue.claim_next): {'ok', case_id,
-- lease_until} or {'none'}. One script, so two analysts asking at once never get the same case.
-- A lead takes escalated cases first; analysts only open ones. At most ARGV[5] cases are looked
-- at (the ones ahead were all held).
local who, now, lease, is_lead, scan = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]),
  ARGV[4] == '1', tonumber(ARGV[5])
local sets = is_lead and {'vigil:escalated', 'vigil:queue'} or {'vigil:queue'}
for _, set in ipairs(sets) do
  local offset = 0
  while offset < scan do
    local ids = redis.call('ZREVRANGE', set, offset, offset + 99)
    if #ids == 0 then break end
    for _, case_id in ipairs(ids) do
      local key = 'vigil:case:' .. case_id
      local holder, lease_until = unpack(redis.call('HMGET', key, 'claimed_by', 'lease_until'))
      if not (holder and holder ~= '' and tonumber(lease_until or 0) > now) then
        local new_until = now + lease
        redis.call('HSET', key, 'claimed_by', who, 'lease_until', new_until, 'claimed_at', now)
        redis.call('XADD', 'vigil:audit', '*', 'at', now, 'actor', who, 'action', 'claim',
                   'case_id', case_id, 'details', '{"next":true}')
        return {'ok', case_id, tostring(new_until)}
      end
    end
    offset = offset + 100
  end
end
return {'none'}
