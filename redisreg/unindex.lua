-- unindex.lua: drop a channel from the channel set unless it was claimed
-- again (by a replica that took it over) since its owner died.
-- KEYS[1] = claim key ({prefix}:channel:{id})
-- KEYS[2] = channel set ({prefix}:channels)
-- ARGV[1] = channel ID
-- Returns 1 if removed, 0 otherwise.
if redis.call("GET", KEYS[1]) == false then
  return redis.call("SREM", KEYS[2], ARGV[1])
end
return 0
