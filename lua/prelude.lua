-- prelude.lua: helpers shared by the algorithm files and apply.lua. Concatenated
-- first by src/storage/redis/lua-scripts.ts; it has no KEYS/ARGV and returns nothing.
--
-- Numbers: Redis Lua numbers are IEEE doubles, like JavaScript's, and + - * /,
-- math.floor, math.ceil and math.fmod (C fmod, = JS `%` for finite operands) round
-- exactly as V8 does, so the same formulas in the same order give the same bits as
-- src/core. Lua's own `%` is a - floor(a/b)*b, which can differ: never use it here.

-- A number as text that parses back to the same double: integers print plainly
-- (1700000040000), fractions with 17 significant digits ("%.17g"). Every number
-- written to Redis or returned to TypeScript goes through it.
local function num(x)
  return string.format('%.17g', x)
end

-- Milliseconds from `now_ms` until `expires_at_ms`, plus `extra_ms`, rounded up to a
-- whole ms for PEXPIRE; nil when the state has already expired (it then equals no
-- state, and the caller deletes the key instead).
local function ttl_ms(expires_at_ms, now_ms, extra_ms)
  local left = expires_at_ms - now_ms
  if left <= 0 then
    return nil
  end
  return math.ceil(left) + extra_ms
end
