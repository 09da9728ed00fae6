-- claim.lua: claim or keep a channel ID for a replica.
-- KEYS[1] = claim key ({prefix}:channel:{id})
-- ARGV[1] = replica ID
-- ARGV[2] = TTL in milliseconds
-- Returns the replica holding the claim afterwards: ARGV[1] on success
-- (claimed or refreshed), another replica's ID if it holds the channel.
local cur = redis.call("GET", KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return ARGV[1]
end
return cur
