package channel

import (
	"errors"
	"fmt"
	"time"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/wire"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxPlayers       = 1000
	DefaultStageMax         = 16
	DefaultIdleTimeout      = 30 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultSendQueueLen     = 1024
	DefaultWriteTimeout     = 10 * time.Second
	DefaultSaveTimeout      = 15 * time.Second
	// DefaultWriterLinger is how long a session's send goroutine stays at
	// least (at most twice that) after its last write before it exits; a
	// later frame starts a new one.
	DefaultWriterLinger = 2 * time.Second
	// MaxWriteCoalesce bounds Config.WriteCoalesce.
	MaxWriteCoalesce = time.Second
	// MaxSemaphoreCapacity caps the capacity of a local semaphore.
	MaxSemaphoreCapacity = 1024
	// requestTimeout bounds one request's store and registry calls.
	requestTimeout = 10 * time.Second
)

// ErrConfig is wrapped by every error of Config.Validate.
var ErrConfig = errors.New("channel: invalid config")

// Config is one channel server's configuration. Zero durations and sizes
// take the defaults above (applied by New).
type Config struct {
	ID               uint16        // stable channel ID, non-zero
	Name             string        // display name ("" = "channel <ID>")
	ReplicaID        string        // the replica running this channel, non-empty
	ListenAddr       string        // host:port to listen on; port 0 picks one
	AdvertiseAddr    string        // address told to players; "" = the listener's address
	MaxPlayers       int           // logged-in sessions admitted
	TownStages       []string      // stages that always exist
	DefaultStageMax  int           // max players of a stage created with 0
	IdleTimeout      time.Duration // close a session silent this long
	HandshakeTimeout time.Duration // bound on receiving the Hello
	SendQueueLen     int           // frames queued per session before it is disconnected
	WriteTimeout     time.Duration // bound on one socket write
	SaveTimeout      time.Duration // bound on the logout save, retries included
	KickTimeout      time.Duration // bound on kicking a duplicate login at handshake
	// WriteCoalesce, when positive, is a session's write coalescing window:
	// a send goroutine woken less than WriteCoalesce after its previous
	// write waits until previous write + WriteCoalesce before writing, so
	// frames arriving meanwhile share one write() (fewer system calls;
	// each frame is delayed by at most WriteCoalesce). 0, the default,
	// writes as soon as the goroutine wakes. At most MaxWriteCoalesce.
	WriteCoalesce time.Duration

	// writerLinger is how long an idle send goroutine stays
	// (DefaultWriterLinger when 0; tests shorten it).
	writerLinger time.Duration
}

// Validate reports the first invalid field, wrapping ErrConfig.
func (c Config) Validate() error {
	bad := func(field, why string) error {
		return fmt.Errorf("%w: %s %s", ErrConfig, field, why)
	}
	switch {
	case c.ID == 0:
		return bad("ID", "must be non-zero")
	case c.ReplicaID == "":
		return bad("ReplicaID", "must be set")
	case c.ListenAddr == "":
		return bad("ListenAddr", "must be set (host:port, port 0 allowed)")
	case c.MaxPlayers < 0:
		return bad("MaxPlayers", "must not be negative")
	case c.DefaultStageMax < 0 || c.DefaultStageMax > 0xFFFF:
		return bad("DefaultStageMax", "must be in 0..65535")
	case c.IdleTimeout < 0:
		return bad("IdleTimeout", "must not be negative")
	case c.HandshakeTimeout < 0:
		return bad("HandshakeTimeout", "must not be negative")
	case c.SendQueueLen < 0:
		return bad("SendQueueLen", "must not be negative")
	case c.WriteTimeout < 0:
		return bad("WriteTimeout", "must not be negative")
	case c.SaveTimeout < 0:
		return bad("SaveTimeout", "must not be negative")
	case c.KickTimeout < 0:
		return bad("KickTimeout", "must not be negative")
	case c.WriteCoalesce < 0 || c.WriteCoalesce > MaxWriteCoalesce:
		return bad("WriteCoalesce", fmt.Sprintf("must be in 0..%v", MaxWriteCoalesce))
	}
	seen := make(map[string]bool, len(c.TownStages))
	for _, s := range c.TownStages {
		if s == "" || len(s) > wire.MaxStageID {
			return bad("TownStages", fmt.Sprintf("entry %q must be 1..%d bytes", s, wire.MaxStageID))
		}
		if seen[s] {
			return bad("TownStages", fmt.Sprintf("entry %q is duplicated", s))
		}
		seen[s] = true
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = fmt.Sprintf("channel %d", c.ID)
	}
	if c.MaxPlayers == 0 {
		c.MaxPlayers = DefaultMaxPlayers
	}
	if c.DefaultStageMax == 0 {
		c.DefaultStageMax = DefaultStageMax
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.SendQueueLen == 0 {
		c.SendQueueLen = DefaultSendQueueLen
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.SaveTimeout == 0 {
		c.SaveTimeout = DefaultSaveTimeout
	}
	if c.KickTimeout == 0 {
		c.KickTimeout = registry.DefaultKickTimeout
	}
	if c.writerLinger <= 0 {
		c.writerLinger = DefaultWriterLinger
	}
	c.TownStages = append([]string(nil), c.TownStages...)
	return c
}
