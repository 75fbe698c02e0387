-- adaptive_penalties.lua: the values of an abuse controller's penalty box boxed at
-- `now` (expiry after now), latest expiry first, at most `limit`, with their entries.
--
-- KEYS[1]  boxed zset, KEYS[2] offences hash (as in adaptive_flag.lua)
-- ARGV[1]  now ms (caller, as String(n)), ARGV[2] limit (> 0)
-- Reply:   value, entry, value, entry, … ; entry "expiresAtMs offences reason", or ''
--          when the hash lacks it (never written so by adaptive_flag.lua).
local values = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
local CHUNK = 1000
for i = 1, #values, CHUNK do
  local last = math.min(i + CHUNK - 1, #values)
  local got = redis.call('HMGET', KEYS[2], unpack(values, i, last))
  for j = i, last do
    out[#out + 1] = values[j]
    out[#out + 1] = got[j - i + 1] or ''
  end
end
return out
