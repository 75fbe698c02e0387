-- adaptive_write_record.lua: compare-and-set of one error_rate controller's record
-- (src/storage/redis/redis-adaptive-state.ts, writeErrorRate). A script of its own,
-- not part of apply.lua's concatenation.
--
-- KEYS[1]  the record hash ({...}:record): factor, decision, closedStartMs, samples,
--          errors[, sinceMs], every number as JavaScript's String(n) wrote it
-- ARGV[1]  expected closedStartMs as String(n); '' = write only when there is no record
-- ARGV[2]  ttl ms (PEXPIRE of the written record)
-- ARGV[3…] field, value pairs of the new record
-- Reply:   HGETALL of the record afterwards (the new one, or the one that was there):
--          a flat field, value list, empty when there is none.
--
-- closedStartMs is compared as text: both sides are String(n) of a JavaScript number,
-- and String is injective on numbers, so equal text means equal number.
local key = KEYS[1]
local matches
if ARGV[1] == '' then
  matches = redis.call('EXISTS', key) == 0
else
  matches = redis.call('HGET', key, 'closedStartMs') == ARGV[1]
end
if matches then
  redis.call('DEL', key)
  redis.call('HSET', key, unpack(ARGV, 3))
  redis.call('PEXPIRE', key, ARGV[2])
end
return redis.call('HGETALL', key)
