-- casdel.lua: delete a key only if it still holds the expected value
-- (a presence key still pointing at the session that owns it, or a channel
-- claim still held by the replica).
-- KEYS[1] = the key
-- ARGV[1] = the expected value
-- Returns 1 if deleted, 0 otherwise.
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
