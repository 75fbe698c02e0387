-- token_bucket.lua: a token bucket in GCRA form, the maths of src/core/token-bucket.ts.
-- A library for apply.lua: no KEYS/ARGV of its own.
--
-- With emission interval T = unit / rate, rounded UP to a multiple of 2^-10 ms (so
-- every sum with an epoch-ms time is exact, and ties are decided as in TypeScript),
-- and capacity tau = burst * T:
--
--     tat' = max(tat, now) + hits * T,   admitted iff tat' - now <= tau (+ 1e-6 ms slack)
--
-- A rate of 0 admits nothing but hits 0.
--
-- State in Redis: a string, the theoretical arrival time TAT in ms since the epoch
-- (a multiple of 2^-10 ms, written with 17 significant digits so it reads back exact).
-- TTL: PEXPIRE until TAT (the bucket is full again then, which equals no state) plus
-- opts.extra_ms; a TAT at or before now is deleted.
--
-- In-script state: { tat } (ms). limit: { rate = tokens per unit, unit = unit length
-- (ms), burst = capacity (tokens, >= 1) }; now in ms.
local token_bucket = {}

local TB_TIME_EPSILON_MS = 1e-6
local TB_INTERVAL_GRID_MS = 2 ^ -10

local function tb_blocked(state, limit, hits, now)
  local base = now
  if state ~= nil then
    base = math.max(state.tat, now)
  end
  local same = { tat = base }
  return {
    admitted = hits == 0,
    rem_c = 0,
    rem_u = 0,
    reset_c = limit.unit,
    reset_u = limit.unit,
    retry = limit.unit,
    charged = same,
    uncharged = same,
    used_c = hits,
    used_u = 0,
  }
end

function token_bucket.evaluate(state, limit, hits, now)
  if limit.rate == 0 then
    return tb_blocked(state, limit, hits, now)
  end
  local interval = math.ceil(limit.unit / limit.rate / TB_INTERVAL_GRID_MS) * TB_INTERVAL_GRID_MS
  local capacity = limit.burst * interval
  local base = now
  if state ~= nil then
    base = math.max(state.tat, now)
  end
  local tat = base + hits * interval
  local function tokens(finish)
    return math.max(0, math.floor((capacity - (finish - now)) / interval + 1e-9))
  end
  local retry
  if hits > limit.burst then
    retry = base - now
  else
    retry = math.max(0, tat - capacity - now)
  end
  return {
    admitted = tat - now <= capacity + TB_TIME_EPSILON_MS,
    rem_c = tokens(tat),
    rem_u = tokens(base),
    reset_c = tat - now,
    reset_u = base - now,
    retry = retry,
    charged = { tat = tat },
    uncharged = { tat = base },
    used_c = limit.burst - tokens(tat),
    used_u = limit.burst - tokens(base),
  }
end

function token_bucket.expires_at(state)
  return state.tat
end

function token_bucket.load(key)
  local value = redis.call('GET', key)
  if not value then
    return nil
  end
  return { tat = tonumber(value) }
end

-- Writes the final TAT when it differs from the stored one; a full bucket is deleted.
function token_bucket.persist(key, stored, state, limit, now, opts)
  local ttl = ttl_ms(state.tat, now, opts.extra_ms)
  if ttl == nil then
    if stored ~= nil then
      redis.call('DEL', key)
    end
    return
  end
  if stored ~= nil and stored.tat == state.tat then
    return
  end
  redis.call('SET', key, num(state.tat), 'PX', num(ttl))
end
