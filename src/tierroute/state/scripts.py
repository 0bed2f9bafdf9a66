"""The Lua scripts that keep a model's breaker and limits in Redis, each one atomic.

Times are Redis's own (``TIME``, milliseconds since ``EPOCH_S``, written with ``%.3f`` so Lua's
number formatting never rounds them): every process and machine reads one clock.

Keys of one model (``<prefix>:{<model>}:...``, the braces keep them in one cluster slot):
``open`` holds the time until which the circuit is open (absent: closed; past: half-open),
``probe`` the id of the one half-open probe out (SET NX PX, so a probe whose process died
expires), ``log`` the sliding-window log (a sorted set: score = admission time, member =
``<id>:<tokens>``) and ``tok`` the tokens the log holds.

ADMIT is the one round trip of a decision: the breaker (taking the probe when half-open), then
the window (expire, count, compare, append). A refusal takes nothing: no slot, no tokens, and a
probe it took is given back. It answers ``{code, wait_ms, probe}``.
"""

from __future__ import annotations

EPOCH_S = 1_700_000_000  # keeps millisecond scores small enough for exact %.3f

OK, OPEN, LIMITED, PROBE_OUT = 0, 1, 2, 3

_NOW = f"""
local t = redis.call('TIME')
local now = (tonumber(t[1]) - {EPOCH_S}) * 1000 + tonumber(t[2]) / 1000
local function ms(x) return string.format('%.3f', x) end
"""

_EXPIRE = """
local function expire(log, tok, horizon)
  local gone = redis.call('ZRANGEBYSCORE', log, '-inf', ms(horizon))
  if #gone > 0 then
    local tokens = 0
    for _, member in ipairs(gone) do
      tokens = tokens + tonumber(string.match(member, ':(%d+)$'))
    end
    redis.call('ZREMRANGEBYSCORE', log, '-inf', ms(horizon))
    if tokens > 0 then redis.call('DECRBY', tok, tokens) end
  end
end
"""

# KEYS: open, probe, log, tok. ARGV: rpm (0: none), tpm (0: none), tokens, id, probe ttl ms,
# window ms.
ADMIT = (
    _NOW
    + _EXPIRE
    + f"""
local probe = 0
local opened = redis.call('GET', KEYS[1])
if opened then
  local until_ms = tonumber(opened)
  if now < until_ms then return {{{OPEN}, ms(until_ms - now), 0, ms(now)}} end
  if not redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', ARGV[5]) then
    return {{{PROBE_OUT}, '1000', 0, ms(now)}}
  end
  probe = 1
end
local rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if rpm > 0 or tpm > 0 then
  local window = tonumber(ARGV[6])
  expire(KEYS[3], KEYS[4], now - window)
  local count = redis.call('ZCARD', KEYS[3])
  local held = tonumber(redis.call('GET', KEYS[4]) or '0')
  -- A request larger than the whole tpm goes when the window is empty, not never.
  if (rpm > 0 and count >= rpm) or (tpm > 0 and held > 0 and held + tokens > tpm) then
    if probe == 1 then redis.call('DEL', KEYS[2]) end
    local oldest = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
    local wait = 0
    if #oldest > 0 then wait = math.max(tonumber(oldest[2]) + window - now, 0) end
    return {{{LIMITED}, ms(wait), 0, ms(now)}}
  end
  redis.call('ZADD', KEYS[3], ms(now), ARGV[4] .. ':' .. tokens)
  if tokens > 0 then redis.call('INCRBY', KEYS[4], tokens) end
  redis.call('PEXPIRE', KEYS[3], window + 1000)
  redis.call('PEXPIRE', KEYS[4], window + 1000)
end
return {{{OK}, '0', probe, ms(now)}}
"""
)

# KEYS: log, tok. ARGV: member now, member settled, token delta, window ms. A reservation that
# left the window is not changed (it no longer counts).
SETTLE = (
    _NOW
    + """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= now - tonumber(ARGV[4]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], score, ARGV[2])
redis.call('INCRBY', KEYS[2], ARGV[3])
return 1
"""
)

# KEYS: open, probe. ARGV: seconds open (ms), key lifetime ms. Extends, never shortens, an open
# circuit; an outstanding probe is forgotten (its verdict is superseded), as in memory.
OPEN_CIRCUIT = (
    _NOW
    + """
local until_ms = now + tonumber(ARGV[1])
local current = redis.call('GET', KEYS[1])
if not current or until_ms > tonumber(current) or redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SET', KEYS[1], ms(until_ms), 'PX', math.floor(tonumber(ARGV[1]) + tonumber(ARGV[2])))
end
redis.call('DEL', KEYS[2])
return 1
"""
)

# KEYS: probe. ARGV: the probe's id. Frees the probe only if it is still this one.
RELEASE_PROBE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: the canary's hash. ARGV: started_at, rollback reason ('' none), rolled back at, ttl s.
# The first writer of each field wins; answers the fields as stored.
CANARY_SYNC = """
redis.call('HSETNX', KEYS[1], 'started_at', ARGV[1])
if ARGV[2] ~= '' then
  redis.call('HSETNX', KEYS[1], 'rollback_reason', ARGV[2])
  redis.call('HSETNX', KEYS[1], 'rolled_back_at', ARGV[3])
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return redis.call('HMGET', KEYS[1], 'started_at', 'rollback_reason', 'rolled_back_at')
"""
