-- apply.lua: one rate-limit decision over n checks of mixed algorithms, atomically:
-- check every limit, then commit -- src/storage/apply-checks.ts step for step. Runs
-- after prelude.lua and the four algorithm files, concatenated into one script by
-- src/storage/redis/lua-scripts.ts.
--
-- KEYS[i], i = 1..n   Redis key of check i (src/storage/redis/redis-keys.ts). A key may
--                     repeat: a later check on it sees the earlier ones' charges. All
--                     keys share one hash slot (Redis Cluster).
-- ARGV[1]             client_now_ms: the service clock, ms since the Unix epoch. Always
--                     the clock of fixed_window (its keys carry the window start the
--                     client computed from it).
-- ARGV[2]             clock: 'caller' = the other algorithms use ARGV[1] too (tests);
--                     'redis' = they use Redis TIME, whole ms (replicas with skewed
--                     clocks agree).
-- ARGV[3]             stop_increment: '1' = STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT, else '0'.
-- ARGV[4]             jitter_s: whole seconds added to a fixed_window key's TTL (unit_s + jitter_s).
-- ARGV[5]             extra_ttl_ms: whole ms added to the TTL of every other key (past the
--                     moment its state stops mattering).
-- ARGV[5 + 6(i-1) + 1..6], for check i:
--   +1 algorithm      'fixed_window' | 'sliding_window' | 'sliding_log' | 'token_bucket'
--   +2 requests_per_unit (requests, >= 0)
--   +3 unit_s         unit length, whole seconds
--   +4 burst          token_bucket capacity (requests); ignored by the others
--   +5 hits           hits to charge (0 = check only)
--   +6 blocking       '1' when this limit rejecting stops the others being charged, else '0'
--
-- Returns a flat array of 4n values, for check i at 4(i-1) + 1..4:
--   admitted          integer 1 | 0 (0 = OVER_LIMIT)
--   remaining         integer, whole requests still admitted
--   duration_ms       string (a double, "%.17g"): on OVER_LIMIT ms until this request
--                     would be admitted; else ms until the limit is fully restored
--   used              string (a double, "%.17g"): units in use after this decision
--
-- Evaluation (returned by every algorithm's evaluate, durations in ms):
--   { admitted, rem_c, rem_u, reset_c, reset_u, retry, charged, uncharged, used_c, used_u }
--   where _c = if this request is charged, _u = if it is not.

local ALGORITHMS = {
  fixed_window = fixed_window,
  sliding_window = sliding_window,
  sliding_log = sliding_log,
  token_bucket = token_bucket,
}

local FIELDS_PER_CHECK = 6
local FIRST_CHECK_ARG = 5

-- Reads the checks out of KEYS/ARGV; `now` is the clock of every algorithm but fixed_window.
local function read_checks(keys, argv, client_now, now)
  if #argv ~= FIRST_CHECK_ARG + #keys * FIELDS_PER_CHECK then
    error('apply.lua: expected ' .. (FIRST_CHECK_ARG + #keys * FIELDS_PER_CHECK) .. ' ARGV for ' .. #keys .. ' KEYS, got ' .. #argv)
  end
  local checks = {}
  for i = 1, #keys do
    local base = FIRST_CHECK_ARG + (i - 1) * FIELDS_PER_CHECK
    local name = argv[base + 1]
    local algorithm = ALGORITHMS[name]
    if algorithm == nil then
      error('unknown algorithm ' .. tostring(name))
    end
    local check_now = now
    if name == 'fixed_window' then
      check_now = client_now
    end
    checks[i] = {
      key = keys[i],
      fixed = name == 'fixed_window',
      algorithm = algorithm,
      limit = { rate = tonumber(argv[base + 2]), unit = tonumber(argv[base + 3]) * 1000, burst = tonumber(argv[base + 4]) },
      hits = tonumber(argv[base + 5]),
      blocking = argv[base + 6] == '1',
      now = check_now,
    }
  end
  return checks
end

-- fixed_window: always charged (the reference), except that with stop-increment (`stop`)
-- the windows still within their limit are not; the others: iff admitted and no blocking
-- check rejected the request.
local function should_charge(check, ev, rejected, stop)
  if check.hits == 0 then
    return false
  end
  if check.fixed then
    return not (stop and ev.admitted)
  end
  return ev.admitted and not rejected
end

local function apply(keys, argv)
  local client_now = tonumber(argv[1])
  local now = client_now
  if argv[2] == 'redis' then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  local stop_increment = argv[3] == '1'
  local opts = { jitter_s = tonumber(argv[4]), extra_ms = tonumber(argv[5]) }
  local checks = read_checks(keys, argv, client_now, now)
  local n = #checks

  -- state stored before this call, per key (false: no key)
  local stored = {}
  for i = 1, n do
    local c = checks[i]
    if stored[c.key] == nil then
      stored[c.key] = c.algorithm.load(c.key, c.limit, c.now) or false
    end
  end
  local function stored_state(key)
    return stored[key] or nil
  end

  -- check every limit; later checks on a key see this one charged (fixed_window: always)
  local work = {}
  local evs = {}
  local rejected, stop = false, false
  for i = 1, n do
    local c = checks[i]
    local state = work[c.key]
    if state == nil then
      state = stored_state(c.key)
    end
    local ev = c.algorithm.evaluate(state, c.limit, c.hits, c.now)
    evs[i] = ev
    if not ev.admitted and c.blocking then
      rejected = true
    end
    if stop_increment then
      if c.fixed then
        -- judged against the count before this call, as the reference's GET pipeline does
        if not c.algorithm.evaluate(stored_state(c.key), c.limit, c.hits, c.now).admitted then
          stop = true
        end
      elseif not ev.admitted and c.blocking then
        stop = true
      end
    end
    if ev.admitted or c.fixed then
      work[c.key] = ev.charged
    else
      work[c.key] = ev.uncharged
    end
  end

  -- commit: the last state set on a key is written; an uncharged check only rewrites existing state
  local final, order = {}, {}
  local reply = {}
  for i = 1, n do
    local c, ev = checks[i], evs[i]
    local charge = should_charge(c, ev, rejected, stop)
    if charge or (final[c.key] == nil and stored[c.key]) then
      if final[c.key] == nil then
        order[#order + 1] = c.key
      end
      final[c.key] = { check = c, state = charge and ev.charged or ev.uncharged }
    end
    local duration, remaining, used
    if charge then
      duration, remaining, used = ev.reset_c, ev.rem_c, ev.used_c
    else
      duration, remaining, used = ev.reset_u, ev.rem_u, ev.used_u
    end
    if not ev.admitted then
      duration = ev.retry
    end
    local at = (i - 1) * 4
    reply[at + 1] = ev.admitted and 1 or 0
    reply[at + 2] = remaining
    reply[at + 3] = num(duration)
    reply[at + 4] = num(used)
  end
  for _, key in ipairs(order) do
    local f = final[key]
    local c = f.check
    c.algorithm.persist(key, stored_state(key), f.state, c.limit, c.now, opts)
  end
  return reply
end

return apply(KEYS, ARGV)
