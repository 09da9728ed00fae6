package config

import "fmt"

// Environment variables read by Load and ApplyEnv.
const (
	EnvConfig        = "GUILDHALL_CONFIG"         // path of the JSON file (when no path is given)
	EnvDatabaseURL   = "DATABASE_URL"             // database.url
	EnvRedisURL      = "REDIS_URL"                // redis.url
	EnvReplicaID     = "GUILDHALL_REPLICA_ID"     // replica.id
	EnvAdvertiseHost = "GUILDHALL_ADVERTISE_HOST" // replica.advertise_host
	EnvHTTPAddr      = "GUILDHALL_HTTP_ADDR"      // http.addr
	EnvClusterPrefix = "GUILDHALL_CLUSTER_PREFIX" // redis.prefix
	EnvLogLevel      = "GUILDHALL_LOG_LEVEL"      // log.level
)

// ApplyEnv overrides fields from the environment variables above, read
// through env. A variable that is set (even to "") replaces the field,
// except that an empty value is refused where the field may not be empty.
// A bad value fails naming the variable.
func (c *Config) ApplyEnv(env func(string) (string, bool)) error {
	if env == nil {
		return nil
	}
	type override struct {
		name  string
		dst   *string
		check func(string) error
	}
	for _, o := range []override{
		{EnvDatabaseURL, &c.Database.URL, checkDatabaseURL},
		{EnvRedisURL, &c.Redis.URL, checkRedisURL},
		{EnvReplicaID, &c.Replica.ID, checkReplicaID},
		{EnvAdvertiseHost, &c.Replica.AdvertiseHost, checkHost},
		{EnvHTTPAddr, &c.HTTP.Addr, checkListenAddr},
		{EnvClusterPrefix, &c.Redis.Prefix, checkPrefix},
		{EnvLogLevel, &c.Log.Level, checkLogLevel},
	} {
		v, ok := env(o.name)
		if !ok {
			continue
		}
		if err := o.check(v); err != nil {
			return invalid(fmt.Errorf("environment %s: %w", o.name, err))
		}
		*o.dst = v
	}
	return nil
}
