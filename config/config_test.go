package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const validJSON = `{
  "replica": {"id": "r1", "advertise_host": "10.0.0.5", "bind_host": "0.0.0.0"},
  "http": {"addr": ":8080"},
  "database": {"url": "postgres://u:p@127.0.0.1:5432/gh", "max_conns": 20},
  "redis": {"url": "redis://127.0.0.1:6379/0", "prefix": "prod", "presence_ttl": "20s", "lease_ttl": "10s", "lock_ttl": "25s"},
  "session": {"idle_timeout": "45s", "handshake_timeout": "5s", "send_queue": 512, "write_coalesce": "5ms",
              "write_timeout": "3s", "save_timeout": "4s", "kick_timeout": "6s", "token_ttl": "2m",
              "drain_timeout": "7s"},
  "channels": [
    {"id": 1, "name": "Newbie", "port": 54001, "max_players": 50, "town_stages": ["town", "market"]},
    {"id": 7, "port": 54007, "enabled": false},
    {"id": 3, "name": "Veteran", "port": 54003, "enabled": true}
  ],
  "log": {"level": "debug", "format": "json"}
}`

func noEnv(string) (string, bool) { return "", false }

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "guildhall.json")
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
	return p
}

func TestLoadFullFile(t *testing.T) {
	cfg, err := Load(writeFile(t, validJSON), noEnv)
	require.NoError(t, err)
	require.Equal(t, "r1", cfg.Replica.ID)
	require.Equal(t, "10.0.0.5", cfg.Replica.AdvertiseHost)
	require.Equal(t, ":8080", cfg.HTTP.Addr)
	require.Equal(t, 20, cfg.Database.MaxConns)
	require.True(t, cfg.Redis.Enabled())
	require.Equal(t, "prod", cfg.Redis.Prefix)
	require.Equal(t, 20*time.Second, cfg.Redis.PresenceTTL.D())
	require.Equal(t, 45*time.Second, cfg.Session.IdleTimeout.D())
	require.Equal(t, 512, cfg.Session.SendQueue)
	require.Equal(t, 5*time.Millisecond, cfg.Session.WriteCoalesce.D())
	require.Equal(t, 2*time.Minute, cfg.Session.TokenTTL.D())
	require.Equal(t, 7*time.Second, cfg.Session.DrainTimeout.D())
	require.Equal(t, "json", cfg.Log.Format)
	require.Len(t, cfg.Channels, 3)
	require.Equal(t, []string{"town", "market"}, cfg.Channels[0].TownStages)
	require.True(t, cfg.Channels[0].IsEnabled(), "absent enabled means true")
	require.False(t, cfg.Channels[1].IsEnabled())
	require.True(t, cfg.Channels[2].IsEnabled())
	require.Equal(t, "Channel 7", cfg.Channels[1].ChannelName())
	require.Equal(t, DefaultMaxPlayers, cfg.Channels[2].Players())
	require.Equal(t, 50, cfg.Channels[0].Players())

	// Disabling channel 7 changes no other ID: IDs are explicit.
	en := cfg.EnabledChannels()
	require.Len(t, en, 2)
	require.Equal(t, 1, en[0].ID)
	require.Equal(t, 3, en[1].ID)
}

func TestDefaultsKeptForAbsentFields(t *testing.T) {
	cfg, err := Load(writeFile(t, `{"database":{"url":"postgres://127.0.0.1/x"}}`), noEnv)
	require.NoError(t, err)
	d := Default()
	require.Equal(t, d.Session, cfg.Session)
	require.Zero(t, cfg.Session.WriteCoalesce, "write coalescing is off by default")
	require.Equal(t, d.Redis, cfg.Redis)
	require.Equal(t, DefaultHTTPAddr, cfg.HTTP.Addr)
	require.False(t, cfg.Redis.Enabled())
	require.NotEmpty(t, cfg.Replica.ID, "a default replica ID is filled in")
	require.NoError(t, checkReplicaID(cfg.Replica.ID))
	require.Contains(t, cfg.Replica.ID, "-")
}

func TestUnknownFieldRejected(t *testing.T) {
	_, err := Parse([]byte(`{"database":{"url":"postgres://x/y","maxconns":3}}`))
	require.ErrorIs(t, err, ErrInvalid)
	require.Contains(t, err.Error(), "maxconns")
	_, err = Parse([]byte(`{"channels":[{"id":1,"prot":5}]}`))
	require.ErrorContains(t, err, "prot")
}

func TestTrailingDataRejected(t *testing.T) {
	_, err := Parse([]byte(`{} {}`))
	require.ErrorIs(t, err, ErrInvalid)
}

func TestBadDuration(t *testing.T) {
	_, err := Parse([]byte(`{"session":{"idle_timeout":"soon"}}`))
	require.ErrorIs(t, err, ErrInvalid)
	require.Contains(t, err.Error(), "soon")
	_, err = Parse([]byte(`{"session":{"idle_timeout":30}}`))
	require.ErrorContains(t, err, "duration must be a string")
}

func TestValidateNamesField(t *testing.T) {
	base := func() *Config {
		c := Default()
		c.Replica.ID = "r1"
		c.Database.URL = "postgres://127.0.0.1/gh"
		c.Channels = []ChannelConfig{{ID: 1, Port: 54001}, {ID: 2, Port: 54002}}
		return c
	}
	require.NoError(t, base().Validate())
	f := false
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"port range", func(c *Config) { c.Channels[1].Port = 70000 }, "config: channels[1].port: 70000 out of range"},
		{"negative port", func(c *Config) { c.Channels[0].Port = -1 }, "channels[0].port: -1 out of range"},
		{"id zero", func(c *Config) { c.Channels[0].ID = 0 }, "channels[0].id: 0 out of range"},
		{"id too large", func(c *Config) { c.Channels[0].ID = 65536 }, "channels[0].id: 65536 out of range"},
		{"dup id", func(c *Config) { c.Channels[1].ID = 1 }, "channels[1].id: 1 duplicates channels[0].id"},
		{"dup id disabled", func(c *Config) { c.Channels[1].ID = 1; c.Channels[1].Enabled = &f }, "channels[1].id: 1 duplicates channels[0].id"},
		{"dup port", func(c *Config) { c.Channels[1].Port = 54001 }, "channels[1].port: 54001 duplicates channels[0].port"},
		{"max players", func(c *Config) { c.Channels[1].MaxPlayers = -3 }, "channels[1].max_players"},
		{"empty stage", func(c *Config) { c.Channels[0].TownStages = []string{""} }, "channels[0].town_stages[0]"},
		{"dup stage", func(c *Config) { c.Channels[0].TownStages = []string{"a", "a"} }, "channels[0].town_stages[1]"},
		{"name length", func(c *Config) { c.Channels[0].Name = strings.Repeat("x", 33) }, "channels[0].name"},
		{"replica id", func(c *Config) { c.Replica.ID = "a b" }, "replica.id"},
		{"replica id empty", func(c *Config) { c.Replica.ID = "" }, "replica.id"},
		{"advertise", func(c *Config) { c.Replica.AdvertiseHost = "" }, "replica.advertise_host"},
		{"advertise port", func(c *Config) { c.Replica.AdvertiseHost = "host:1" }, "replica.advertise_host"},
		{"http addr", func(c *Config) { c.HTTP.Addr = "8080" }, "http.addr"},
		{"http port", func(c *Config) { c.HTTP.Addr = ":99999" }, "http.addr"},
		{"db url missing", func(c *Config) { c.Database.URL = "" }, "database.url: required"},
		{"db url scheme", func(c *Config) { c.Database.URL = "mysql://x" }, "database.url"},
		{"db conns", func(c *Config) { c.Database.MaxConns = 0 }, "database.max_conns"},
		{"redis scheme", func(c *Config) { c.Redis.URL = "http://x" }, "redis.url"},
		{"redis both", func(c *Config) { c.Redis.URL = "redis://x"; c.Redis.Addrs = []string{"a:1"} }, "redis.addrs"},
		{"redis addr", func(c *Config) { c.Redis.Addrs = []string{"nohost"} }, "redis.addrs[0]"},
		{"redis master", func(c *Config) { c.Redis.MasterName = "m" }, "redis.master_name"},
		{"redis prefix", func(c *Config) { c.Redis.Prefix = "" }, "redis.prefix"},
		{"presence ttl", func(c *Config) { c.Redis.PresenceTTL = 0 }, "redis.presence_ttl"},
		{"idle", func(c *Config) { c.Session.IdleTimeout = -1 }, "session.idle_timeout"},
		{"token ttl", func(c *Config) { c.Session.TokenTTL = Duration(48 * time.Hour) }, "session.token_ttl"},
		{"handshake", func(c *Config) { c.Session.HandshakeTimeout = 0 }, "session.handshake_timeout"},
		{"write", func(c *Config) { c.Session.WriteTimeout = 0 }, "session.write_timeout"},
		{"save", func(c *Config) { c.Session.SaveTimeout = 0 }, "session.save_timeout"},
		{"kick", func(c *Config) { c.Session.KickTimeout = 0 }, "session.kick_timeout"},
		{"drain", func(c *Config) { c.Session.DrainTimeout = 0 }, "session.drain_timeout"},
		{"lease ttl", func(c *Config) { c.Redis.LeaseTTL = 0 }, "redis.lease_ttl"},
		{"lock ttl", func(c *Config) { c.Redis.LockTTL = Duration(25 * time.Hour) }, "redis.lock_ttl"},
		{"bind host", func(c *Config) { c.Replica.BindHost = "a b" }, "replica.bind_host"},
		{"send queue", func(c *Config) { c.Session.SendQueue = 0 }, "session.send_queue"},
		{"write coalesce negative", func(c *Config) { c.Session.WriteCoalesce = -1 }, "session.write_coalesce"},
		{"write coalesce too long", func(c *Config) { c.Session.WriteCoalesce = Duration(2 * time.Second) }, "session.write_coalesce"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mod(c)
			err := c.Validate()
			require.ErrorIs(t, err, ErrInvalid)
			require.Contains(t, err.Error(), tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "config: "), err.Error())
		})
	}
}

func TestPortZeroAllowedAndNotDuplicate(t *testing.T) {
	c := Default()
	c.Replica.ID = "r"
	c.Database.URL = "postgres://x/y"
	c.Channels = []ChannelConfig{{ID: 1}, {ID: 2}}
	require.NoError(t, c.Validate())
}

func TestEnvOverrides(t *testing.T) {
	env := mapEnv(map[string]string{
		EnvDatabaseURL:   "postgres://env@127.0.0.1/envdb",
		EnvRedisURL:      "",
		EnvReplicaID:     "env-replica",
		EnvAdvertiseHost: "game.example.com",
		EnvHTTPAddr:      "127.0.0.1:0",
		EnvClusterPrefix: "staging",
		EnvLogLevel:      "warn",
	})
	cfg, err := Load(writeFile(t, validJSON), env)
	require.NoError(t, err)
	require.Equal(t, "postgres://env@127.0.0.1/envdb", cfg.Database.URL)
	require.Equal(t, "", cfg.Redis.URL, "REDIS_URL set to empty selects the local registry")
	require.False(t, cfg.Redis.Enabled())
	require.Equal(t, "env-replica", cfg.Replica.ID)
	require.Equal(t, "game.example.com", cfg.Replica.AdvertiseHost)
	require.Equal(t, "127.0.0.1:0", cfg.HTTP.Addr)
	require.Equal(t, "staging", cfg.Redis.Prefix)
	require.Equal(t, "warn", cfg.Log.Level)
}

func TestBadEnvNamesVariable(t *testing.T) {
	for name, val := range map[string]string{
		EnvDatabaseURL:   "",
		EnvRedisURL:      "ftp://x",
		EnvReplicaID:     "has space",
		EnvAdvertiseHost: "",
		EnvHTTPAddr:      "nope",
		EnvClusterPrefix: "bad prefix",
		EnvLogLevel:      "verbose",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeFile(t, validJSON), mapEnv(map[string]string{name: val}))
			require.ErrorIs(t, err, ErrInvalid)
			require.Contains(t, err.Error(), "environment "+name)
		})
	}
}

func TestConfigPathFromEnv(t *testing.T) {
	p := writeFile(t, validJSON)
	cfg, err := Load("", mapEnv(map[string]string{EnvConfig: p}))
	require.NoError(t, err)
	require.Equal(t, "r1", cfg.Replica.ID)
}

func TestNoFileNeedsDatabaseURL(t *testing.T) {
	_, err := Load("", noEnv)
	require.ErrorContains(t, err, "database.url")
	cfg, err := Load("", mapEnv(map[string]string{EnvDatabaseURL: "postgres://127.0.0.1/x"}))
	require.NoError(t, err)
	require.Empty(t, cfg.Channels)
}

func TestMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.json"), noEnv)
	require.Error(t, err)
	require.True(t, errors.Is(err, os.ErrNotExist))
}

func TestOversizedFile(t *testing.T) {
	_, err := Load(writeFile(t, `{"log":{"level":"`+strings.Repeat("x", MaxFileSize)+`"}}`), noEnv)
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "larger than")
}

func TestExampleFileLoads(t *testing.T) {
	cfg, err := Load("../config.example.json", mapEnv(map[string]string{EnvDatabaseURL: "postgres://127.0.0.1/x"}))
	require.NoError(t, err)
	require.NotEmpty(t, cfg.EnabledChannels())
}

// TestExampleFileShowsEveryField: config.example.json names every field of
// Config (each channel field on at least one channel), so operators see them
// all.
func TestExampleFileShowsEveryField(t *testing.T) {
	data, err := os.ReadFile("../config.example.json")
	require.NoError(t, err)
	var example any
	require.NoError(t, json.Unmarshal(data, &example))

	full := Default()
	full.Redis.Addrs = []string{}
	full.Session.WriteCoalesce = Duration(time.Millisecond) // omitted when 0
	on := true
	full.Channels = []ChannelConfig{{TownStages: []string{}, Enabled: &on}}
	b, err := json.Marshal(full)
	require.NoError(t, err)
	var all any
	require.NoError(t, json.Unmarshal(b, &all))

	require.Equal(t, jsonPaths("", all), jsonPaths("", example))
}

// jsonPaths lists the object keys of v as dotted paths; array elements
// contribute their keys under "name[]".
func jsonPaths(prefix string, v any) map[string]bool {
	out := map[string]bool{}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = true
			for q := range jsonPaths(p, e) {
				out[q] = true
			}
		}
	case []any:
		for _, e := range x {
			for q := range jsonPaths(prefix+"[]", e) {
				out[q] = true
			}
		}
	}
	return out
}

func TestDurationJSONRoundTrip(t *testing.T) {
	b, err := Duration(90 * time.Second).MarshalJSON()
	require.NoError(t, err)
	require.Equal(t, `"1m30s"`, string(b))
	var d Duration
	require.NoError(t, d.UnmarshalJSON(b))
	require.Equal(t, 90*time.Second, d.D())
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(validJSON))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"channels":[{"id":70000,"port":-1}]}`))
	f.Add([]byte(`{"session":{"idle_timeout":"1h"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64*1024 {
			return
		}
		cfg, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("Validate error does not wrap ErrInvalid: %v", err)
		}
		for _, ch := range cfg.Channels {
			_ = ch.IsEnabled()
			_ = ch.ChannelName()
		}
	})
}
