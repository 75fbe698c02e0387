-- adaptive_flag.lua: writes one flag of an abuse controller's penalty box, computed by
-- the caller (nextPenalty in src/adaptive/penalty-box.ts, the one place the escalation
-- rule lives) from the entry it read, only if that entry is still the stored one.
--
-- KEYS[1]  boxed zset ({...}:boxed): value → expiresAtMs. Holds every remembered value,
--          boxed or released and not yet forgotten.
-- KEYS[2]  offences hash ({...}:offences): value → "expiresAtMs offences reason"
-- ARGV[1]  value            ARGV[2]  expected entry as read ('' = none)
-- ARGV[3]  new entry        ARGV[4]  new expiresAtMs
-- ARGV[5]  now ms (caller)  ARGV[6]  max_ttl ms
-- ARGV[7]  max values kept  ARGV[8]  extra ttl ms added to the keys' PEXPIRE
-- Reply:   {1} when written; {0, entry stored now or ''} when the entry changed since it
--          was read (another replica flagged the value): nothing written, the caller
--          recomputes from the reply and calls again.
--
-- Housekeeping after a write: values forgotten (expiry + max_ttl <= now) are dropped
-- from both keys, at most FORGET per call; then the earliest expiring values are
-- dropped until at most ARGV[7] remain; both keys expire max_ttl (+ slack) after the
-- latest expiry, so an abandoned controller's keys disappear.
local boxed, entries = KEYS[1], KEYS[2]
local value = ARGV[1]
local current = redis.call('HGET', entries, value) or ''
if current ~= ARGV[2] then
  return {0, current}
end
redis.call('HSET', entries, value, ARGV[3])
redis.call('ZADD', boxed, ARGV[4], value)

local FORGET = 100
local CHUNK = 1000
local now = tonumber(ARGV[5])
local max_ttl = tonumber(ARGV[6])

-- numbers sent to Redis as text that parses back exactly (Lua's own tostring keeps 14 digits)
local function num(x)
  return string.format('%.17g', x)
end

local function drop(values)
  for i = 1, #values, CHUNK do
    redis.call('HDEL', entries, unpack(values, i, math.min(i + CHUNK - 1, #values)))
  end
end

local forgotten = redis.call('ZRANGEBYSCORE', boxed, '-inf', num(now - max_ttl), 'LIMIT', 0, FORGET)
if #forgotten > 0 then
  drop(forgotten)
  for i = 1, #forgotten, CHUNK do
    redis.call('ZREM', boxed, unpack(forgotten, i, math.min(i + CHUNK - 1, #forgotten)))
  end
end

local excess = redis.call('ZCARD', boxed) - tonumber(ARGV[7])
if excess > 0 then
  drop(redis.call('ZRANGE', boxed, 0, excess - 1))
  redis.call('ZREMRANGEBYRANK', boxed, 0, excess - 1)
end

local latest = redis.call('ZRANGE', boxed, -1, -1, 'WITHSCORES')
if #latest == 2 then
  local ttl = math.max(1, math.ceil(tonumber(latest[2]) + max_ttl - now)) + tonumber(ARGV[8])
  redis.call('PEXPIRE', boxed, num(ttl))
  redis.call('PEXPIRE', entries, num(ttl))
end
return {1}
