-- sliding_log.lua: the exact sliding log, the maths of src/core/sliding-log.ts.
-- A library for apply.lua: no KEYS/ARGV of its own.
--
-- Hits are admitted iff the hits admitted in (now - unit, now] plus `hits` stay within
-- the limit; a rejected request retries once enough of the oldest hits have left.
--
-- State in Redis: a sorted set with one member per admitted HIT (the model's weighted
-- events, expanded): score = when it was admitted (ms since the epoch), member =
-- "<when>:<i>", i = 1, 2, ... among the hits of that ms. So the hits in the window are
-- a ZCOUNT, the newest is the last rank, and the hit whose leaving lets a request in is
-- found by rank: O(log n) per call whatever the limit (n <= requests_per_unit).
-- TTL: PEXPIRE until the newest hit leaves the window (its time + unit) plus
-- opts.extra_ms, set when hits are added; hits that left the window are removed when
-- the key is next written, and Redis drops the set once it is empty.
--
-- In-script state (a view: Redis is only written by persist, after every evaluation):
--   { key = the sorted set, floor = hits at or before it no longer count (ms),
--     added = hits of this call not yet written, oldest first: array of { at, hits } }
-- Every added hit is at or after every stored one (at = max(now, newest)), so stored
-- hits then added hits is the model's event list, oldest first.
-- limit: { rate = requests per unit, unit = unit length (ms) }; now in ms.
local sliding_log = {}

local SL_ZADD_CHUNK = 500

-- Stored hits still counted by `view` (score > view.floor).
local function sl_stored_count(view)
  return tonumber(redis.call('ZCOUNT', view.key, '(' .. num(view.floor), '+inf'))
end

-- Time (ms) of the k-th oldest hit counted by `view` (1 <= k <= hits counted).
local function sl_kth_at(view, stored, k)
  if k <= stored then
    local before = tonumber(redis.call('ZCOUNT', view.key, '-inf', num(view.floor)))
    local hit = redis.call('ZRANGE', view.key, before + k - 1, before + k - 1, 'WITHSCORES')
    return tonumber(hit[2])
  end
  local seen = stored
  for i = 1, #view.added do
    seen = seen + view.added[i].hits
    if seen >= k then
      return view.added[i].at
    end
  end
  error('sliding_log: hit ' .. k .. ' is not in the log')
end

-- Time (ms) of the newest hit counted by `view`, or nil when there is none.
local function sl_newest_at(view, stored)
  if #view.added > 0 then
    return view.added[#view.added].at
  end
  if stored > 0 then
    return tonumber(redis.call('ZRANGE', view.key, -1, -1, 'WITHSCORES')[2])
  end
  return nil
end

function sliding_log.evaluate(state, limit, hits, now)
  local unit = limit.unit
  -- the live events: what is left after dropping everything at or before now - unit
  local live = { key = state.key, floor = math.max(now - unit, state.floor), added = {} }
  local used = sl_stored_count(live)
  local stored = used
  for i = 1, #state.added do
    local event = state.added[i]
    if event.at > live.floor then
      live.added[#live.added + 1] = event
      used = used + event.hits
    end
  end
  local max = limit.rate
  local newest = sl_newest_at(live, stored)
  local charged = live
  local charged_newest = newest
  if hits > 0 then
    -- never before the newest event: keeps the log sorted if the clock steps back
    local at = now
    if newest ~= nil then
      at = math.max(now, newest)
    end
    charged = { key = live.key, floor = live.floor, added = {} }
    for i = 1, #live.added do
      charged.added[i] = live.added[i]
    end
    charged.added[#charged.added + 1] = { at = at, hits = hits }
    charged_newest = at
  end
  -- when the newest event leaves the window (now when there is none)
  local restored_c, restored_u = now, now
  if charged_newest ~= nil then
    restored_c = charged_newest + unit
  end
  if newest ~= nil then
    restored_u = newest + unit
  end
  -- retry: when enough of the oldest hits have left for `hits` to fit (never: when all have)
  local retry = now
  if used + hits > max then
    if hits > max then
      retry = restored_u
    else
      retry = sl_kth_at(live, stored, used + hits - max) + unit
    end
  end
  return {
    admitted = used + hits <= max,
    rem_c = math.max(0, max - used - hits),
    rem_u = math.max(0, max - used),
    reset_c = restored_c - now,
    reset_u = restored_u - now,
    retry = retry - now,
    charged = charged,
    uncharged = live,
    used_c = used + hits,
    used_u = used,
  }
end

-- The stored log as a view; a key that does not exist reads as an empty set.
function sliding_log.load(key)
  return { key = key, floor = -math.huge, added = {} }
end

-- Drops the stored hits the final state no longer counts, writes its added hits, and
-- sets the TTL from the newest hit when hits were added.
function sliding_log.persist(key, stored, state, limit, now, opts)
  if state.floor > -math.huge then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', num(state.floor))
  end
  for i = 1, #state.added do
    local event = state.added[i]
    local at = num(event.at)
    local first = tonumber(redis.call('ZCOUNT', key, at, at))
    local args = {}
    for hit = 1, event.hits do
      args[#args + 1] = at
      args[#args + 1] = at .. ':' .. num(first + hit)
      if #args == 2 * SL_ZADD_CHUNK or hit == event.hits then
        redis.call('ZADD', key, unpack(args))
        args = {}
      end
    end
  end
  local newest = state.added[#state.added]
  if newest ~= nil then
    local ttl = ttl_ms(newest.at + limit.unit, now, opts.extra_ms)
    if ttl == nil then
      redis.call('DEL', key)
    else
      redis.call('PEXPIRE', key, num(ttl))
    end
  end
end
