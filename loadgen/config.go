// Package loadgen is guildhall's load generator: scenarios that drive a
// running cluster through its public interfaces (the HTTP sign-in API and
// the binary protocol) and measure what players would see: delivered
// messages per second, end-to-end latency, loss, duplicates, semaphore
// safety and the memory cost of a session.
//
// Bots speak the wire protocol directly over TCP: one reader goroutine per
// bot, writes from the sending goroutine, one write() per frame. Every cast
// carries a Payload (stream, sequence number, send time) so receivers
// compute latency and the final audit detects every lost or duplicated
// delivery.
//
// Run is the entry point, used by cmd/ghload and by tests. Runs are bounded
// (MaxSessions, MaxDuration) and refuse targets that are not loopback unless
// Config.AllowRemote is set.
package loadgen

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// Scenario names.
const (
	ScenarioTown      = "town"
	ScenarioWorld     = "world"
	ScenarioWhisper   = "whisper"
	ScenarioLogin     = "login"
	ScenarioSemaphore = "semaphore"
	ScenarioIdle      = "idle"
	ScenarioAll       = "all"
)

// Scenarios returns the scenarios a run executes, in order: ScenarioAll
// expands to login, idle, town, world, whisper, semaphore.
func (c Config) Scenarios() []string {
	if c.Scenario == ScenarioAll {
		return []string{ScenarioLogin, ScenarioIdle, ScenarioTown, ScenarioWorld, ScenarioWhisper, ScenarioSemaphore}
	}
	return []string{c.Scenario}
}

// Bounds that keep a run from becoming a denial of service.
const (
	MaxSessions = 20000
	MaxDuration = time.Hour
	MaxRate     = 1_000_000 // sends per second, any scenario
)

// Sentinel errors of Config.Validate and Run.
var (
	// ErrConfig: the configuration is invalid; the message names the field.
	ErrConfig = errors.New("loadgen: invalid config")
	// ErrRemote: a target is not a loopback address and AllowRemote is off.
	ErrRemote = errors.New("loadgen: target is not loopback (use AllowRemote)")
	// ErrNoChannels: the cluster lists no enabled channel.
	ErrNoChannels = errors.New("loadgen: no enabled channel")
	// ErrSetup: bots could not be signed in or connected.
	ErrSetup = errors.New("loadgen: setup failed")
)

// Config describes one run. Zero fields take the defaults of DefaultConfig.
type Config struct {
	// HTTP lists the sign-in API base URLs, one per replica (e.g.
	// http://127.0.0.1:8080). Bots sign in round-robin across them.
	HTTP []string
	// Scenario is one of town, world, whisper, login, semaphore, idle, all.
	Scenario string
	// Duration is the measured time of each scenario; Warmup runs before it
	// (traffic flows, nothing is counted); Drain bounds the wait, after the
	// senders stop, for deliveries still in flight.
	Duration, Warmup, Drain time.Duration

	// AccountsPrefix names the bots' accounts: <prefix>_<n>. Accounts are
	// reused across runs (sign in first, sign up on 401). Password is their
	// fixed password.
	AccountsPrefix string
	Password       string
	// RunID tags stage and semaphore names so runs do not meet; default
	// derived from the start time.
	RunID string

	// Sessions is the number of bots per replica (town, world, whisper,
	// semaphore, idle; and the account pool of login).
	Sessions int
	// StageSize is the number of bots per stage in town.
	StageSize int
	// TownRate is stage casts per second per session.
	TownRate float64
	// WorldRate and WhisperRate are total casts per second.
	WorldRate, WhisperRate float64
	// LoginRate is sign-in + channel login + logout cycles per second, with
	// at most LoginConcurrency in flight.
	LoginRate        float64
	LoginConcurrency int
	// SemaNames is the number of contended global semaphores; SemaHold how
	// long a holder keeps one.
	SemaNames int
	SemaHold  time.Duration
	// PayloadSize is the cast payload size in bytes (>= PayloadSize const).
	PayloadSize int
	// Senders is the number of sending goroutines.
	Senders int
	// SignupConcurrency bounds concurrent sign-ups (bcrypt is slow);
	// ConnectConcurrency bounds concurrent sign-ins and connects.
	SignupConcurrency, ConnectConcurrency int
	// Keepalive is the interval of the pings that keep idle bots from the
	// server's idle timeout.
	Keepalive time.Duration
	// WriteTimeout bounds one socket write of a bot.
	WriteTimeout time.Duration
	// ServerPIDs, when set, are the server processes whose VmRSS (from
	// /proc/PID/status, summed) the idle scenario reads; otherwise it sums
	// process_resident_memory_bytes from each HTTP base's /metrics.
	ServerPIDs []int
	// AllowRemote permits non-loopback targets. Never needed on one machine.
	AllowRemote bool

	// Progress receives a progress line per second while a scenario runs
	// (nil: none). Logger receives structured logs (nil: discarded).
	Progress io.Writer
	Logger   *slog.Logger
}

// DefaultConfig returns the defaults: a modest run that a 2-core machine
// sustains with the server on the same cores.
func DefaultConfig() Config {
	return Config{
		HTTP:               []string{"http://127.0.0.1:8080"},
		Scenario:           ScenarioTown,
		Duration:           30 * time.Second,
		Warmup:             5 * time.Second,
		Drain:              5 * time.Second,
		AccountsPrefix:     "bot",
		Password:           "loadgen-password",
		Sessions:           100,
		StageSize:          20,
		TownRate:           2,
		WorldRate:          20,
		WhisperRate:        500,
		LoginRate:          10,
		LoginConcurrency:   8,
		SemaNames:          4,
		SemaHold:           2 * time.Millisecond,
		PayloadSize:        PayloadSize,
		Senders:            2,
		SignupConcurrency:  4,
		ConnectConcurrency: 32,
		Keepalive:          10 * time.Second,
		WriteTimeout:       10 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if len(c.HTTP) == 0 {
		c.HTTP = d.HTTP
	}
	if c.Scenario == "" {
		c.Scenario = d.Scenario
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	setDur(&c.Duration, d.Duration)
	setDur(&c.Drain, d.Drain)
	setDur(&c.SemaHold, d.SemaHold)
	setDur(&c.Keepalive, d.Keepalive)
	setDur(&c.WriteTimeout, d.WriteTimeout)
	setInt := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setInt(&c.Sessions, d.Sessions)
	setInt(&c.StageSize, d.StageSize)
	setInt(&c.LoginConcurrency, d.LoginConcurrency)
	setInt(&c.SemaNames, d.SemaNames)
	setInt(&c.PayloadSize, d.PayloadSize)
	setInt(&c.Senders, d.Senders)
	setInt(&c.SignupConcurrency, d.SignupConcurrency)
	setInt(&c.ConnectConcurrency, d.ConnectConcurrency)
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		}
	}
	setF(&c.TownRate, d.TownRate)
	setF(&c.WorldRate, d.WorldRate)
	setF(&c.WhisperRate, d.WhisperRate)
	setF(&c.LoginRate, d.LoginRate)
	if c.AccountsPrefix == "" {
		c.AccountsPrefix = d.AccountsPrefix
	}
	if c.Password == "" {
		c.Password = d.Password
	}
	if c.RunID == "" {
		c.RunID = "r" + fmt.Sprint(time.Now().Unix()%1_000_000_000)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func bad(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
}

// Validate checks c (after defaults) and names the first bad field.
func (c Config) Validate() error {
	switch c.Scenario {
	case ScenarioTown, ScenarioWorld, ScenarioWhisper, ScenarioLogin, ScenarioSemaphore, ScenarioIdle, ScenarioAll:
	default:
		return bad("scenario", "%q is not one of town|world|whisper|login|semaphore|idle|all", c.Scenario)
	}
	if len(c.HTTP) == 0 {
		return bad("http", "no sign-in base URL")
	}
	for i, u := range c.HTTP {
		if err := checkURL(u, c.AllowRemote); err != nil {
			return fmt.Errorf("http[%d]: %w", i, err)
		}
	}
	if c.Duration <= 0 || c.Duration > MaxDuration {
		return bad("duration", "%v outside (0, %v]", c.Duration, MaxDuration)
	}
	if c.Warmup < 0 || c.Warmup > MaxDuration {
		return bad("warmup", "%v outside [0, %v]", c.Warmup, MaxDuration)
	}
	if c.Drain <= 0 || c.Drain > 10*time.Minute {
		return bad("drain", "%v outside (0, 10m]", c.Drain)
	}
	if c.Sessions <= 0 || c.Sessions*len(c.HTTP) > MaxSessions {
		return bad("sessions", "%d per replica outside [1, %d total]", c.Sessions, MaxSessions)
	}
	if c.StageSize < 2 || c.StageSize > 1024 {
		return bad("stage_size", "%d outside [2, 1024]", c.StageSize)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"town_rate", c.TownRate * float64(c.Sessions*len(c.HTTP))}, {"world_rate", c.WorldRate}, {"whisper_rate", c.WhisperRate}, {"login_rate", c.LoginRate}} {
		if !(r.v > 0) || r.v > MaxRate {
			return bad(r.name, "total %g/s outside (0, %d]", r.v, MaxRate)
		}
	}
	if c.LoginConcurrency <= 0 || c.LoginConcurrency > 1024 {
		return bad("login_concurrency", "%d outside [1, 1024]", c.LoginConcurrency)
	}
	if c.SemaNames <= 0 || c.SemaNames > 1024 {
		return bad("sema_names", "%d outside [1, 1024]", c.SemaNames)
	}
	if c.SemaHold < 0 || c.SemaHold > time.Minute {
		return bad("sema_hold", "%v outside [0, 1m]", c.SemaHold)
	}
	if c.PayloadSize < PayloadSize || c.PayloadSize > 4096 {
		return bad("payload", "%d outside [%d, 4096]", c.PayloadSize, PayloadSize)
	}
	if c.Senders <= 0 || c.Senders > 64 {
		return bad("senders", "%d outside [1, 64]", c.Senders)
	}
	if c.SignupConcurrency <= 0 || c.SignupConcurrency > 256 {
		return bad("signup_concurrency", "%d outside [1, 256]", c.SignupConcurrency)
	}
	if c.ConnectConcurrency <= 0 || c.ConnectConcurrency > 1024 {
		return bad("connect_concurrency", "%d outside [1, 1024]", c.ConnectConcurrency)
	}
	if len(c.AccountsPrefix) > 20 || !validName(c.AccountsPrefix) {
		return bad("accounts_prefix", "%q must be 1-20 characters of [A-Za-z0-9_]", c.AccountsPrefix)
	}
	if len(c.Password) < 8 || len(c.Password) > 128 {
		return bad("password", "must be 8-128 characters")
	}
	if !validName(c.RunID) || len(c.RunID) > 16 {
		return bad("run_id", "%q must be 1-16 characters of [A-Za-z0-9_]", c.RunID)
	}
	for i, pid := range c.ServerPIDs {
		if pid <= 0 {
			return bad(fmt.Sprintf("server_pid[%d]", i), "%d is not a process ID", pid)
		}
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// checkURL accepts an http(s) URL whose host is loopback (or anything when
// allowRemote).
func checkURL(raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return bad("http", "%q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return bad("http", "%q is not an http(s) base URL", raw)
	}
	if !allowRemote && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("%q: %w", raw, ErrRemote)
	}
	return nil
}

// CheckAddr accepts a host:port whose host is loopback (or anything when
// allowRemote). Channel addresses from the sign-in API pass through it.
func CheckAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("channel address %q: %w", addr, err)
	}
	if !allowRemote && !isLoopbackHost(host) {
		return fmt.Errorf("channel address %q: %w", addr, ErrRemote)
	}
	return nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
