// Package store defines the durable records of guildhall and the sentinel
// errors of every store implementation. It holds types only, no logic and no
// I/O: channel and signin declare the interfaces they need in terms of these
// types, and pgstore implements them on PostgreSQL.
package store

import (
	"errors"
	"time"
)

// Sentinel errors. Implementations wrap them with %w.
var (
	// ErrNotFound: no such account, character, mail, guild or sign session.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: a unique name (account, character, guild) is taken, or the
	// character is already a member of a guild.
	ErrExists = errors.New("store: already exists")
	// ErrExpired: the sign session's token has expired.
	ErrExpired = errors.New("store: token expired")
	// ErrBadPassword: the password does not match the account.
	ErrBadPassword = errors.New("store: bad password")
	// ErrForbidden: the caller may not do this (not the guild leader, no
	// pending invitation or application).
	ErrForbidden = errors.New("store: forbidden")
	// ErrStaleToken: a fenced write carried a token lower than the last one
	// accepted for that semaphore.
	ErrStaleToken = errors.New("store: stale fencing token")
	// ErrTooLarge: data over its limit.
	ErrTooLarge = errors.New("store: data too large")
	// ErrUnavailable: the database cannot be reached.
	ErrUnavailable = errors.New("store: database unavailable")
)

// Account is a player's account. The password hash never leaves the store.
type Account struct {
	ID       int64
	Username string
	Created  time.Time
}

// Character is a player's character and its save data.
type Character struct {
	ID        uint32
	AccountID int64
	Name      string
	SaveData  []byte
	SaveHash  []byte // SHA-256 of SaveData
	Playtime  time.Duration
	LastLogin time.Time
	LastStage string
	GuildID   uint32 // 0 when in no guild
}

// CharacterSave is what a logout or a SaveData request writes.
type CharacterSave struct {
	CharID    uint32
	SaveData  []byte        // nil: leave the save data unchanged
	Playtime  time.Duration // added to the stored playtime
	LastStage string
}

// SignSession is a sign-in token bound to a character and, once used for a
// channel login, to the channel (server) it logged in to.
type SignSession struct {
	AccountID int64
	CharID    uint32
	CharName  string
	ServerID  uint16 // 0 until a channel login binds it
	Expires   time.Time
	ReplicaID string // replica that issued the token
}

// Mail is one message in a character's inbox.
type Mail struct {
	ID       int64
	FromID   uint32
	FromName string
	ToID     uint32
	Subject  string
	Body     string
	SentAt   time.Time
	Read     bool
	Guild    bool // sent as guild mail
}

// Guild is a guild with its members.
type Guild struct {
	ID       uint32
	Name     string
	LeaderID uint32
	Members  []GuildMember
}

// GuildMember is one member of a guild.
type GuildMember struct {
	CharID uint32
	Name   string
	Joined time.Time
}

// ServerRow is one running channel in the servers table.
type ServerRow struct {
	ChannelID  uint16
	ReplicaID  string
	Name       string
	Addr       string
	Population int
	MaxPlayers int
	Updated    time.Time
}
