-- sliding_window.lua: the two-window weighted counter, the maths of
-- src/core/sliding-window.ts. A library for apply.lua: no KEYS/ARGV of its own.
--
--     estimate = (previous * (unit - (now - ws))) / unit + current
--
-- (multiplied before dividing, exactly as the TypeScript model, so whole-number
-- estimates stay exact), and hits are admitted iff estimate + hits <= limit.
--
-- State in Redis: a hash { w = window start (ms since the epoch), c = hits counted
-- in that window, p = hits counted in the window before it }.
-- TTL: PEXPIRE until w + 2 * unit (after which the state equals no state) plus
-- opts.extra_ms; a state already past that, or with both counts 0, is deleted.
--
-- In-script state: { ws, current, previous } (ms, requests, requests).
-- limit: { rate = requests per unit, unit = unit length (ms) }; now in ms.
local sliding_window = {}

-- Counts as seen from the window starting at `ws`: current becomes previous one window later.
local function sw_roll(state, ws, unit)
  if state == nil then
    return 0, 0
  end
  if state.ws == ws then
    return state.current, state.previous
  end
  if state.ws == ws - unit then
    return 0, state.current
  end
  return 0, 0
end

-- When the estimate reaches 0: the end of the next window if current > 0, else of this one.
local function sw_restored_at(ws, current, previous, unit)
  if current > 0 then
    return ws + 2 * unit
  end
  if previous > 0 then
    return ws + unit
  end
  return ws
end

-- Earliest time >= now at which `hits` would be admitted with no other traffic.
local function sw_retry_at(ws, unit, current, previous, hits, max, now)
  if hits > max then
    return math.max(now, sw_restored_at(ws, current, previous, unit))
  end
  local room_now = max - hits - current
  if room_now >= 0 then
    if previous <= room_now then
      return now
    end
    return math.max(now, ws + unit * (1 - room_now / previous))
  end
  local room_next = max - hits
  if current <= room_next then
    return ws + unit
  end
  return ws + unit + unit * (1 - room_next / current)
end

function sliding_window.evaluate(state, limit, hits, now)
  local unit = limit.unit
  local ws = now - math.fmod(now, unit)
  local current, previous = sw_roll(state, ws, unit)
  local estimate = (previous * (unit - (now - ws))) / unit + current
  local max = limit.rate
  return {
    admitted = estimate + hits <= max,
    rem_c = math.max(0, math.floor(max - estimate - hits)),
    rem_u = math.max(0, math.floor(max - estimate)),
    reset_c = math.max(0, sw_restored_at(ws, current + hits, previous, unit) - now),
    reset_u = math.max(0, sw_restored_at(ws, current, previous, unit) - now),
    retry = sw_retry_at(ws, unit, current, previous, hits, max, now) - now,
    charged = { ws = ws, current = current + hits, previous = previous },
    uncharged = { ws = ws, current = current, previous = previous },
    used_c = estimate + hits,
    used_u = estimate,
  }
end

function sliding_window.expires_at(state, limit)
  return state.ws + 2 * limit.unit
end

function sliding_window.load(key)
  local v = redis.call('HMGET', key, 'w', 'c', 'p')
  if not v[1] then
    return nil
  end
  return { ws = tonumber(v[1]), current = tonumber(v[2]), previous = tonumber(v[3]) }
end

-- Writes the final state when it differs from the stored one (an unchanged state keeps its TTL);
-- an expired or all-zero state equals no state and is deleted.
function sliding_window.persist(key, stored, state, limit, now, opts)
  local ttl = ttl_ms(sliding_window.expires_at(state, limit), now, opts.extra_ms)
  if ttl == nil or (state.current == 0 and state.previous == 0) then
    if stored ~= nil then
      redis.call('DEL', key)
    end
    return
  end
  if
    stored ~= nil
    and stored.ws == state.ws
    and stored.current == state.current
    and stored.previous == state.previous
  then
    return
  end
  redis.call('HSET', key, 'w', num(state.ws), 'c', num(state.current), 'p', num(state.previous))
  redis.call('PEXPIRE', key, num(ttl))
end
