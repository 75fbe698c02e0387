-- fixed_window.lua: envoyproxy/ratelimit's epoch-aligned window counter, the maths of
-- src/core/fixed-window.ts. A library for apply.lua: no KEYS/ARGV of its own.
--
-- State in Redis: one key per window, its name ending with the window start in Unix
-- seconds (computed by the client from its clock, as the reference does); the value
-- is a plain integer string changed only by INCRBY: the reference's own counter, so
-- a fleet mixing this service and envoyproxy/ratelimit shares it.
-- TTL: EXPIRE unit_s + jitter_s on every write (the reference's TTL), in the same
-- script as the INCRBY (atomic, unlike the reference's pipeline, its issue #329).
--
-- In-script state: { ws = window start (ms), count = hits counted (requests) }.
-- limit: { rate = requests per unit, unit = unit length (ms), burst = ignored }.
-- now: the CLIENT's clock in ms (the one the key's window start came from).
-- evaluate() returns the evaluation described in apply.lua (durations in ms).
local fixed_window = {}

-- Start (ms) of the window containing `now` (ms).
function fixed_window.window_start(now, unit)
  return now - math.fmod(now, unit)
end

function fixed_window.evaluate(state, limit, hits, now)
  local ws = fixed_window.window_start(now, limit.unit)
  local count = 0
  if state ~= nil and state.ws == ws then
    count = state.count
  end
  local after = count + hits
  local until_end = ws + limit.unit - now
  return {
    admitted = after <= limit.rate,
    rem_c = math.max(0, limit.rate - after),
    rem_u = math.max(0, limit.rate - count),
    reset_c = until_end,
    reset_u = until_end,
    retry = until_end,
    charged = { ws = ws, count = after },
    uncharged = { ws = ws, count = count },
    used_c = after,
    used_u = count,
  }
end

-- The count stored for the current window, or nil when the key does not exist.
function fixed_window.load(key, limit, now)
  local value = redis.call('GET', key)
  if not value then
    return nil
  end
  local count = tonumber(value)
  if count == nil then
    error('fixed_window counter ' .. key .. ' is not a number')
  end
  return { ws = fixed_window.window_start(now, limit.unit), count = count }
end

-- Writes the difference between the stored and the final count; a key nothing was
-- charged to is left alone (TTL included).
function fixed_window.persist(key, stored, state, limit, now, opts)
  local before = 0
  if stored ~= nil then
    before = stored.count
  end
  local delta = state.count - before
  if delta ~= 0 then
    redis.call('INCRBY', key, num(delta))
    redis.call('EXPIRE', key, num(limit.unit / 1000 + opts.jitter_s))
  end
end
