// Package registry defines the ChannelRegistry: every operation that crosses
// channels or replicas goes through it. It holds the interface, the immutable
// snapshot types it returns, the in-process Local registry (the design's
// LocalChannelRegistry), and (in registrytest) the conformance suite every
// implementation must pass.
//
// The package imports no channel server and no backend. Channel servers
// satisfy the small Channel interface declared here so that a registry can
// deliver to their local sessions.
//
// Lock order: a registry never holds its own lock while calling into a
// Channel, and a Channel never holds its own lock while calling into the
// registry. Callers therefore never hold another channel's lock.
package registry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Implementations wrap them with %w so callers use errors.Is.
var (
	// ErrNotFound: the character, stage or channel is not online anywhere.
	ErrNotFound = errors.New("registry: not found")
	// ErrSemaphoreHeld: a global semaphore is held by someone else. The
	// returned error is a *SemaphoreHeldError carrying the holder's location.
	ErrSemaphoreHeld = errors.New("registry: semaphore held elsewhere")
	// ErrNotHolder: a release or refresh named a semaphore the caller does not hold.
	ErrNotHolder = errors.New("registry: not the semaphore holder")
	// ErrUnavailable: the coordination backend (e.g. Redis) cannot be reached;
	// cross-replica operations fail fast with it.
	ErrUnavailable = errors.New("registry: coordination backend unavailable")
	// ErrChannelClaimed: a channel ID is already run by another live replica.
	ErrChannelClaimed = errors.New("registry: channel ID already claimed")
	// ErrClosed: the registry has been closed.
	ErrClosed = errors.New("registry: closed")
	// ErrKickUnconfirmed: a previous session of the character was told to
	// disconnect but did not confirm its logout in time.
	ErrKickUnconfirmed = errors.New("registry: kick of previous session unconfirmed")
)

// SessionSnapshot is an immutable copy of where a character is online.
type SessionSnapshot struct {
	CharID    uint32
	Name      string
	ReplicaID string
	ChannelID uint16
	Addr      string // the channel's advertised host:port
	StageID   string // "" when in no stage
	GuildID   uint32 // 0 when in no guild
}

// StageSnapshot is an immutable copy of a stage's public state.
type StageSnapshot struct {
	StageID     string
	ReplicaID   string
	ChannelID   uint16
	Addr        string
	Players     int
	MaxPlayers  int
	Locked      bool
	HasPassword bool
}

// ChannelInfo describes a live channel for the sign-in channel list.
type ChannelInfo struct {
	ID         uint16
	Name       string
	ReplicaID  string
	Addr       string
	Players    int
	MaxPlayers int
	Draining   bool
}

// SessionFilter selects sessions in SearchSessions. Zero fields match all.
type SessionFilter struct {
	CharID     uint32 // exact character ID
	NamePrefix string // case-insensitive prefix of the name
	StageID    string // exact stage
}

// Match reports whether s passes the filter.
func (f SessionFilter) Match(s SessionSnapshot) bool {
	if f.CharID != 0 && s.CharID != f.CharID {
		return false
	}
	if f.StageID != "" && s.StageID != f.StageID {
		return false
	}
	if f.NamePrefix != "" && !hasFoldPrefix(s.Name, f.NamePrefix) {
		return false
	}
	return true
}

// MailNotice tells an online recipient that mail arrived. The mail itself is
// already durable in the store when this is sent.
type MailNotice struct {
	MailID   int64
	FromID   uint32
	FromName string
	Subject  string
}

// Holder identifies who asks for or holds a global semaphore.
type Holder struct {
	CharID    uint32
	ReplicaID string
	ChannelID uint16
	Addr      string
}

// SemaphoreLease is a granted global semaphore. Token is a fencing token:
// strictly greater than any token issued earlier for the same name.
type SemaphoreLease struct {
	Name   string
	Token  uint64
	Holder Holder
}

// SemaphoreHeldError is returned (wrapping ErrSemaphoreHeld) when a global
// semaphore is held by another character; Holder says where it is held.
type SemaphoreHeldError struct {
	Name   string
	Holder Holder
}

func (e *SemaphoreHeldError) Error() string {
	return fmt.Sprintf("registry: semaphore %q held by character %d on channel %d (replica %s)",
		e.Name, e.Holder.CharID, e.Holder.ChannelID, e.Holder.ReplicaID)
}

// Unwrap makes errors.Is(err, ErrSemaphoreHeld) true.
func (e *SemaphoreHeldError) Unwrap() error { return ErrSemaphoreHeld }

// DisconnectResult reports DisconnectUser: which characters were found and
// confirmed closed (logout done), and which were told but did not confirm.
type DisconnectResult struct {
	Closed      []uint32
	Unconfirmed []uint32
}

// Channel is what a channel server exposes to a registry for delivering to
// and inspecting its local sessions. Every method must be safe for concurrent
// use, must not block on slow clients, and must not call back into the
// registry while holding the channel's own locks.
type Channel interface {
	// Info returns the channel's identity, address and population.
	Info() ChannelInfo
	// Broadcast queues frame (an encoded wire frame, shared and never
	// modified) to every session except exceptChar (0 excepts none).
	Broadcast(frame []byte, exceptChar uint32)
	// Deliver queues frame to those of charIDs that are online here and
	// returns the ones it reached.
	Deliver(charIDs []uint32, frame []byte) []uint32
	// Disconnect closes the character's session with reason and waits (until
	// ctx ends) for its logout, including the save, to finish. It reports
	// whether the character was online here.
	Disconnect(ctx context.Context, charID uint32, reason string) (bool, error)
	// Sessions returns snapshots of local sessions passing f, at most max
	// (max <= 0 means all).
	Sessions(f SessionFilter, max int) []SessionSnapshot
	// Stages returns snapshots of local stages whose ID has prefix, at most max.
	Stages(prefix string, max int) []StageSnapshot
	// NotifyMail pushes a mail notification to the character if online here.
	NotifyMail(charID uint32, n MailNotice) bool
}

// ChannelRegistry is every cross-channel operation. Results are immutable
// snapshots. All methods are safe for concurrent use.
type ChannelRegistry interface {
	// Register adds a local channel. It fails with ErrChannelClaimed if
	// another live replica runs the same channel ID.
	Register(ctx context.Context, ch Channel) error
	// Unregister removes a local channel (on its shutdown) and everything
	// the registry published about it.
	Unregister(ctx context.Context, channelID uint16)

	// SessionOnline claims charID for the session s: any other session of the
	// same character anywhere in the cluster is disconnected, and its logout
	// save awaited (bounded by ctx), before SessionOnline returns. On
	// ErrKickUnconfirmed the caller should refuse the login.
	SessionOnline(ctx context.Context, s SessionSnapshot) error
	// SessionUpdated records a change of a session's stage or guild.
	SessionUpdated(ctx context.Context, s SessionSnapshot)
	// SessionOffline removes charID's presence if it still belongs to the
	// given channel on this replica.
	SessionOffline(ctx context.Context, charID uint32, channelID uint16)
	// StageUpdated records that a local stage was created or changed;
	// StageRemoved that it was destroyed.
	StageUpdated(ctx context.Context, s StageSnapshot)
	StageRemoved(ctx context.Context, channelID uint16, stageID string)

	// 1. Worldcast queues frame to every session of every channel except
	// exceptChar and except every session of exceptChannel (0 excepts none).
	Worldcast(ctx context.Context, frame []byte, exceptChar uint32, exceptChannel uint16) error
	// 2. FindSession returns where charID is online, or ErrNotFound.
	FindSession(ctx context.Context, charID uint32) (SessionSnapshot, error)
	// 3. DisconnectUser closes the characters' sessions wherever they are and
	// reports which closed and which did not confirm.
	DisconnectUser(ctx context.Context, charIDs []uint32, reason string) (DisconnectResult, error)
	// 4. FindChannelForStage returns the stage's snapshot (with its channel),
	// or ErrNotFound.
	FindChannelForStage(ctx context.Context, stageID string) (StageSnapshot, error)
	// 5. SearchSessions returns at most max sessions passing f across the cluster.
	SearchSessions(ctx context.Context, f SessionFilter, max int) ([]SessionSnapshot, error)
	// 6. SearchStages returns at most max stages whose ID has prefix.
	SearchStages(ctx context.Context, prefix string, max int) ([]StageSnapshot, error)
	// 7. NotifyMail tells charID, wherever online, that mail arrived.
	// It returns ErrNotFound if the character is not online.
	NotifyMail(ctx context.Context, charID uint32, n MailNotice) error

	// Cast queues frame to each of targets wherever online (whisper, party,
	// guild chat) and returns the IDs it found online.
	Cast(ctx context.Context, targets []uint32, frame []byte) ([]uint32, error)

	// AcquireSemaphore takes the named cluster-wide semaphore for h. If h
	// already holds it, the existing lease is returned. If someone else holds
	// it, the error is a *SemaphoreHeldError.
	AcquireSemaphore(ctx context.Context, name string, h Holder) (SemaphoreLease, error)
	// ReleaseSemaphore frees the semaphore if h holds it (ErrNotHolder otherwise).
	ReleaseSemaphore(ctx context.Context, name string, h Holder) error
	// ReleaseAll frees every semaphore held by charID (logout, kick).
	ReleaseAll(ctx context.Context, charID uint32)

	// Channels lists the live channels of the cluster (for sign-in).
	Channels(ctx context.Context) ([]ChannelInfo, error)

	// Close stops background work and removes what this registry published.
	Close(ctx context.Context) error
}

// DefaultKickTimeout bounds how long SessionOnline waits for a previous
// session's logout save.
const DefaultKickTimeout = 10 * time.Second

func hasFoldPrefix(s, prefix string) bool {
	if len(prefix) > len(s) {
		return false
	}
	return equalFoldASCII(s[:len(prefix)], prefix)
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}
