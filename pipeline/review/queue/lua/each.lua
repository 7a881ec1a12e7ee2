-- Run add(args) for each argument list in the JSON array ARGV[1], each on its own (prepended to
-- the scripts that add a batch): an item Redis refuses (an error reply) wrote nothing, since its
-- reads run before its first write, so the items after it go on, and the caller learns which
-- failed: {-1, error} in its place.
local function each(add)
  local out = {}
  for i, args in ipairs(cjson.decode(ARGV[1])) do
    local ok, result = pcall(add, args)
    if ok then out[i] = result
    else out[i] = {-1, type(result) == 'table' and tostring(result.err) or tostring(result)} end
  end
  return out
end
