-- A case's priority from its hash (prepended to the scripts that rescore a case). w holds
-- policy.priority_weights(): severity, score, report and report cap, flag and flag cap, age per hour.
-- Returns the part that does not grow with age, and the sorted-set score base - w[7] * created / 3600:
-- ordering by that equals ordering by base + w[7] * age_hours at any moment, so age raises
-- priority without rescoring (policy.priority gives the value shown at a moment).
local function priority(key, w, created)
  local sev, top, reports, flags = unpack(redis.call('HMGET', key, 'severity', 'max_score',
                                                     'report_count', 'flag_count'))
  local base = w[1] * tonumber(sev) + w[2] * tonumber(top)
             + w[3] * math.min(tonumber(reports), w[4]) + w[5] * math.min(tonumber(flags), w[6])
  return base, base - w[7] * created / 3600
end
