-- apply.lua: rate-limit decisions for one or more requests, each over its checks of
-- mixed algorithms: check every limit of the request, then commit --
-- src/storage/apply-checks.ts step for step. The requests run one after the other,
-- in order, in one atomic script call (requests of one event-loop tick coalesced by
-- src/storage/redis/script-batch.ts). Runs after prelude.lua and the four algorithm
-- files, concatenated into one script by src/storage/redis/lua-scripts.ts.
--
-- KEYS                every check's Redis key (src/storage/redis/redis-keys.ts), request
--                     after request, checks in order. A key may repeat: a later check on
--                     it sees the earlier ones' charges. All share one hash slot (Cluster).
-- ARGV[1]             clock: 'caller' = every algorithm uses the request's client_now_ms
--                     (tests); 'redis' = all but fixed_window use Redis TIME, read once
--                     per call, whole ms (replicas with skewed clocks agree).
-- ARGV[2]             stop_increment: '1' = STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT, else '0'.
-- ARGV[3]             jitter_s: whole seconds added to a fixed_window key's TTL (unit_s + jitter_s).
-- ARGV[4]             extra_ttl_ms: whole ms added to the TTL of every other key (past the
--                     moment its state stops mattering).
-- ARGV[5]             R: number of requests.
-- Then per request, in order:
--   client_now_ms     the service clock, ms since the Unix epoch: always the clock of
--                     fixed_window (its keys carry the window start computed from it)
--   n                 number of checks (and of KEYS) of this request
--   7 per check:
--     algorithm       'fixed_window' | 'sliding_window' | 'sliding_log' | 'token_bucket'
--     requests_per_unit  requests (>= 0)
--     unit_s          unit length, whole seconds
--     burst           token_bucket capacity (requests); ignored by the others
--     hits            hits to charge (0 = check only)
--     blocking        '1' when this limit rejecting stops the others being charged, else '0'
--     charged_when_rejected  '1' = charged even when the request is rejected, unless
--                     stop_increment (a lone fixed_window: the reference's rule); '0' =
--                     charged only when the request is admitted (CounterCheck.chargedWhenRejected)
--
-- Returns a flat array of 4 values per check (#KEYS checks, in KEYS order):
--   admitted          integer 1 | 0 (0 = OVER_LIMIT); -1 = the request failed (below)
--   remaining         integer, whole requests still admitted
--   duration_ms       string (a double, "%.17g"): on OVER_LIMIT ms until this request
--                     would be admitted; else ms until the limit is fully restored.
--                     For a failed request: the Redis error message.
--   used              string (a double, "%.17g"): units in use after this decision
-- A request whose Redis commands fail (e.g. WRONGTYPE) is reported failed on all its
-- checks and the next requests still run; a malformed ARGV fails the whole call first.
--
-- Each algorithm file defines a table with:
--   evaluate(state, limit, hits, now_ms) -> evaluation (the model's maths; state nil = none)
--   load(key, limit, now_ms)             -> the stored state, or nil when there is none
--   persist(key, stored, state, limit, now_ms, opts) writes `state` over `stored`, with its TTL
-- limit = { rate = requests_per_unit, unit = unit length in ms, burst = capacity in requests };
-- opts = { jitter_s, extra_ms } from ARGV[3], ARGV[4].
-- Evaluation (returned by every algorithm's evaluate, durations in ms):
--   { admitted, rem_c, rem_u, reset_c, reset_u, retry, charged, uncharged, used_c, used_u }
--   where _c = if this request is charged, _u = if it is not.

local ALGORITHMS = {
  fixed_window = fixed_window,
  sliding_window = sliding_window,
  sliding_log = sliding_log,
  token_bucket = token_bucket,
}

local HEADER_ARGS = 5
local FIELDS_PER_CHECK = 7

-- Checks the KEYS/ARGV counts of every request before anything runs.
local function validate(keys, argv)
  local requests = tonumber(argv[5])
  if requests == nil then
    error('apply.lua: ARGV[5] must be the number of requests')
  end
  local a, checks = HEADER_ARGS + 1, 0
  for _ = 1, requests do
    local n = tonumber(argv[a + 1])
    if n == nil then
      error('apply.lua: ARGV ends inside the request headers')
    end
    checks = checks + n
    a = a + 2 + n * FIELDS_PER_CHECK
  end
  if a - 1 ~= #argv or checks ~= #keys then
    error('apply.lua: ' .. requests .. ' requests need ' .. (a - 1) .. ' ARGV and ' .. checks .. ' KEYS, got ' .. #argv .. ' and ' .. #keys)
  end
end

-- The checks of one request: KEYS[k..k+n-1], their fields from ARGV[a].
local function read_checks(keys, argv, k, a, n, client_now, now)
  local checks = {}
  for i = 1, n do
    local base = a + (i - 1) * FIELDS_PER_CHECK
    local name = argv[base]
    local algorithm = ALGORITHMS[name]
    if algorithm == nil then
      error('unknown algorithm ' .. tostring(name))
    end
    local fixed = name == 'fixed_window'
    checks[i] = {
      key = keys[k + i - 1],
      algorithm = algorithm,
      limit = { rate = tonumber(argv[base + 1]), unit = tonumber(argv[base + 2]) * 1000, burst = tonumber(argv[base + 3]) },
      hits = tonumber(argv[base + 4]),
      blocking = argv[base + 5] == '1',
      charged_when_rejected = argv[base + 6] == '1',
      now = fixed and client_now or now,
    }
  end
  return checks
end

-- charged_when_rejected (a lone fixed_window): always charged (the reference), except that
-- with stop-increment (`stop`) those still within their limit are not; the others: iff
-- admitted and no blocking check rejected the request.
local function should_charge(check, ev, rejected, stop)
  if check.hits == 0 then
    return false
  end
  if check.charged_when_rejected then
    return not (stop and ev.admitted)
  end
  return ev.admitted and not rejected
end

-- One request (apply-checks.ts): evaluate all, then commit; its answers go to reply[4(k-1)+1...].
local function apply_request(checks, stop_increment, opts, reply, k)
  local n = #checks
  -- state stored before this request, per key (false: none)
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

  -- check every limit; later checks on a key see this one charged (charged_when_rejected: always)
  local work, evs = {}, {}
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
      if c.charged_when_rejected then
        -- judged against the count before this request, as the reference's GET pipeline does
        if not c.algorithm.evaluate(stored_state(c.key), c.limit, c.hits, c.now).admitted then
          stop = true
        end
      elseif not ev.admitted and c.blocking then
        stop = true
      end
    end
    work[c.key] = (ev.admitted or c.charged_when_rejected) and ev.charged or ev.uncharged
  end

  -- commit: the last state set on a key is written; an uncharged check only rewrites existing state
  local final, order = {}, {}
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
    local at = (k + i - 2) * 4
    reply[at + 1] = ev.admitted and 1 or 0
    reply[at + 2] = remaining
    reply[at + 3] = num(duration)
    reply[at + 4] = num(used)
  end
  for _, key in ipairs(order) do
    local f = final[key]
    f.check.algorithm.persist(key, stored_state(key), f.state, f.check.limit, f.check.now, opts)
  end
end

local function run(keys, argv)
  validate(keys, argv)
  local redis_now = nil
  if argv[1] == 'redis' then
    local t = redis.call('TIME')
    redis_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  local stop_increment = argv[2] == '1'
  local opts = { jitter_s = tonumber(argv[3]), extra_ms = tonumber(argv[4]) }
  local reply = {}
  local k, a = 1, HEADER_ARGS + 1
  for _ = 1, tonumber(argv[5]) do
    local client_now, n = tonumber(argv[a]), tonumber(argv[a + 1])
    local ok, err = pcall(function()
      apply_request(read_checks(keys, argv, k, a + 2, n, client_now, redis_now or client_now), stop_increment, opts, reply, k)
    end)
    if not ok then
      local message = type(err) == 'table' and (err.err or err.message) or tostring(err)
      for i = 0, n - 1 do
        local at = (k + i - 1) * 4
        reply[at + 1], reply[at + 2], reply[at + 3], reply[at + 4] = -1, 0, tostring(message), '0'
      end
    end
    k, a = k + n, a + 2 + n * FIELDS_PER_CHECK
  end
  return reply
end

return run(KEYS, ARGV)
