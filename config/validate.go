package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Limits enforced by Validate.
const (
	MaxReplicaID   = 64
	MaxChannelName = 32
	MaxStageID     = 64 // matches wire.MaxStageID
	MaxPrefix      = 64
	MaxMaxPlayers  = 65535
	MaxSendQueue   = 1 << 16
	// MaxWriteCoalesce bounds session.write_coalesce.
	MaxWriteCoalesce = time.Second
	MaxMaxConns      = 1000
	MaxDuration      = 24 * time.Hour
)

// Validate checks every field and returns the first problem found, naming
// the field (JSON path) and the value. The returned error wraps ErrInvalid.
// Duplicate channel IDs or ports are reported naming both entries.
func (c *Config) Validate() error {
	if err := c.validate(); err != nil {
		return invalid(err)
	}
	return nil
}

func (c *Config) validate() error {
	field := func(name string, err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := field("replica.id", checkReplicaID(c.Replica.ID)); err != nil {
		return err
	}
	if err := field("replica.advertise_host", checkHost(c.Replica.AdvertiseHost)); err != nil {
		return err
	}
	if err := field("replica.bind_host", checkBindHost(c.Replica.BindHost)); err != nil {
		return err
	}
	if err := field("http.addr", checkListenAddr(c.HTTP.Addr)); err != nil {
		return err
	}
	if err := field("database.url", checkDatabaseURL(c.Database.URL)); err != nil {
		return err
	}
	if err := field("database.max_conns", checkRange(c.Database.MaxConns, 1, MaxMaxConns)); err != nil {
		return err
	}
	if err := c.validateRedis(field); err != nil {
		return err
	}
	s := c.Session
	for _, d := range []struct {
		name string
		v    Duration
	}{
		{"session.idle_timeout", s.IdleTimeout},
		{"session.handshake_timeout", s.HandshakeTimeout},
		{"session.write_timeout", s.WriteTimeout},
		{"session.save_timeout", s.SaveTimeout},
		{"session.kick_timeout", s.KickTimeout},
		{"session.token_ttl", s.TokenTTL},
		{"session.drain_timeout", s.DrainTimeout},
	} {
		if err := field(d.name, checkDuration(d.v)); err != nil {
			return err
		}
	}
	if err := field("session.send_queue", checkRange(s.SendQueue, 1, MaxSendQueue)); err != nil {
		return err
	}
	if err := field("session.write_coalesce", checkWriteCoalesce(s.WriteCoalesce)); err != nil {
		return err
	}
	if err := c.validateChannels(); err != nil {
		return err
	}
	if err := field("log.level", checkLogLevel(c.Log.Level)); err != nil {
		return err
	}
	return field("log.format", checkLogFormat(c.Log.Format))
}

func (c *Config) validateRedis(field func(string, error) error) error {
	r := c.Redis
	if err := field("redis.url", checkRedisURL(r.URL)); err != nil {
		return err
	}
	if r.URL != "" && len(r.Addrs) > 0 {
		return errors.New("redis.addrs: set either redis.url or redis.addrs, not both")
	}
	for i, a := range r.Addrs {
		if err := field(fmt.Sprintf("redis.addrs[%d]", i), checkHostPort(a)); err != nil {
			return err
		}
	}
	if r.MasterName != "" && len(r.Addrs) == 0 {
		return errors.New("redis.master_name: needs redis.addrs (the Sentinel addresses)")
	}
	if err := field("redis.prefix", checkPrefix(r.Prefix)); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		v    Duration
	}{
		{"redis.presence_ttl", r.PresenceTTL},
		{"redis.lease_ttl", r.LeaseTTL},
		{"redis.lock_ttl", r.LockTTL},
	} {
		if err := field(d.name, checkDuration(d.v)); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateChannels() error {
	ids := map[int]int{}   // id -> index
	ports := map[int]int{} // port -> index (port 0 excluded)
	for i, ch := range c.Channels {
		p := fmt.Sprintf("channels[%d]", i)
		if ch.ID < 1 || ch.ID > 65535 {
			return fmt.Errorf("%s.id: %d out of range 1..65535", p, ch.ID)
		}
		if j, dup := ids[ch.ID]; dup {
			return fmt.Errorf("%s.id: %d duplicates channels[%d].id", p, ch.ID, j)
		}
		ids[ch.ID] = i
		if len(ch.Name) > MaxChannelName {
			return fmt.Errorf("%s.name: longer than %d bytes", p, MaxChannelName)
		}
		if strings.TrimSpace(ch.Name) != ch.Name {
			return fmt.Errorf("%s.name: %q has leading or trailing spaces", p, ch.Name)
		}
		if ch.Port < 0 || ch.Port > 65535 {
			return fmt.Errorf("%s.port: %d out of range 0..65535", p, ch.Port)
		}
		if ch.Port != 0 {
			if j, dup := ports[ch.Port]; dup {
				return fmt.Errorf("%s.port: %d duplicates channels[%d].port", p, ch.Port, j)
			}
			ports[ch.Port] = i
		}
		if ch.MaxPlayers < 0 || ch.MaxPlayers > MaxMaxPlayers {
			return fmt.Errorf("%s.max_players: %d out of range 1..%d (0: default %d)", p, ch.MaxPlayers, MaxMaxPlayers, DefaultMaxPlayers)
		}
		seen := map[string]bool{}
		for k, st := range ch.TownStages {
			if st == "" || len(st) > MaxStageID {
				return fmt.Errorf("%s.town_stages[%d]: must be 1..%d bytes", p, k, MaxStageID)
			}
			if seen[st] {
				return fmt.Errorf("%s.town_stages[%d]: %q listed twice", p, k, st)
			}
			seen[st] = true
		}
	}
	return nil
}

// ChannelName returns the channel's name, or "Channel <id>" when unset.
func (c ChannelConfig) ChannelName() string {
	if c.Name != "" {
		return c.Name
	}
	return "Channel " + strconv.Itoa(c.ID)
}

// Players returns MaxPlayers, or DefaultMaxPlayers when unset.
func (c ChannelConfig) Players() int {
	if c.MaxPlayers > 0 {
		return c.MaxPlayers
	}
	return DefaultMaxPlayers
}

func checkRange(v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%d out of range %d..%d", v, lo, hi)
	}
	return nil
}

// checkWriteCoalesce allows 0 (off) up to MaxWriteCoalesce.
func checkWriteCoalesce(d Duration) error {
	if d < 0 || d.D() > MaxWriteCoalesce {
		return fmt.Errorf("%s out of range (0 writes at once; at most %s)", d.D(), MaxWriteCoalesce)
	}
	return nil
}

func checkDuration(d Duration) error {
	if d <= 0 || d.D() > MaxDuration {
		return fmt.Errorf("%s out of range (must be positive and at most %s)", d.D(), MaxDuration)
	}
	return nil
}

func isIDChar(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '.'
}

func checkReplicaID(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if len(s) > MaxReplicaID {
		return fmt.Errorf("longer than %d bytes", MaxReplicaID)
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) {
			return fmt.Errorf("%q: only letters, digits, '-', '_' and '.' are allowed", s)
		}
	}
	return nil
}

func checkPrefix(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if len(s) > MaxPrefix {
		return fmt.Errorf("longer than %d bytes", MaxPrefix)
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) && s[i] != ':' {
			return fmt.Errorf("%q: only letters, digits, '-', '_', '.' and ':' are allowed", s)
		}
	}
	return nil
}

func checkHost(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if strings.ContainsAny(s, " \t\r\n/") || len(s) > 253 {
		return fmt.Errorf("%q is not a host name or IP address", s)
	}
	if strings.Contains(s, ":") && net.ParseIP(s) == nil {
		return fmt.Errorf("%q: give a host without a port", s)
	}
	return nil
}

func checkBindHost(s string) error {
	if s == "" {
		return nil // all interfaces
	}
	return checkHost(s)
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	if host == "" {
		return fmt.Errorf("%q: missing host", s)
	}
	return checkPort(s, port)
}

func checkListenAddr(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return checkPort(s, port)
}

func checkPort(s, port string) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%q: port %q out of range 0..65535", s, port)
	}
	return nil
}

func checkDatabaseURL(s string) error {
	if s == "" {
		return errors.New("required (or set DATABASE_URL)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL") // the error would echo the password
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("scheme %q: want postgres:// or postgresql://", u.Scheme)
	}
	return nil
}

func checkRedisURL(s string) error {
	if s == "" {
		return nil // single-replica local registry
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix" {
		return fmt.Errorf("scheme %q: want redis://, rediss:// or unix://", u.Scheme)
	}
	return nil
}

func checkLogLevel(s string) error {
	switch s {
	case "debug", "info", "warn", "error":
		return nil
	}
	return fmt.Errorf("%q: want debug, info, warn or error", s)
}

func checkLogFormat(s string) error {
	switch s {
	case "text", "json":
		return nil
	}
	return fmt.Errorf("%q: want text or json", s)
}
