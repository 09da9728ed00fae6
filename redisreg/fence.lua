-- fence.lua: issue a fencing token for a global semaphore, only while the
-- caller still holds its lock.
-- KEYS[1] = lock key   ({prefix}:sema:{name})
-- KEYS[2] = fence key  ({prefix}:fence:{name}); same hash tag as KEYS[1]
-- ARGV[1] = the caller's full lock value (redislock token .. metadata)
-- Returns the new token (an integer strictly greater than any earlier token
-- for the name), or an error reply "LOCKLOST" if the lock is not the caller's.
-- The token is max(previous + 1, server time in microseconds), so tokens keep
-- increasing even after Redis lost the counter (restart without persistence).
if redis.call("GET", KEYS[1]) ~= ARGV[1] then
  return redis.error_reply("LOCKLOST")
end
local prev = tonumber(redis.call("GET", KEYS[2]) or "0") or 0
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nxt = prev + 1
if now > nxt then nxt = now end
redis.call("SET", KEYS[2], string.format("%.0f", nxt))
return nxt
