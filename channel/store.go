package channel

import (
	"context"

	"github.com/guildhall/guildhall/store"
)

// Store is the durable state a channel server needs. pgstore.Store
// implements it; tests use an in-memory fake. Errors wrap the sentinels of
// package store (store.ErrNotFound, store.ErrUnavailable, ...).
type Store interface {
	// UseSignSession validates token (not expired) and binds it to
	// channelID; it returns the session with the character it is bound to.
	// store.ErrNotFound for an unknown token, store.ErrExpired when expired.
	UseSignSession(ctx context.Context, token string, channelID uint16) (store.SignSession, error)

	// LoadCharacter returns the character with its save data and guild.
	LoadCharacter(ctx context.Context, charID uint32) (store.Character, error)
	// SaveCharacter writes save data (when non-nil, with its SHA-256 hash),
	// adds playtime and records the last stage and login time.
	SaveCharacter(ctx context.Context, s store.CharacterSave) error
	// CharacterByName returns the character ID with that exact name
	// (case-insensitive), or store.ErrNotFound.
	CharacterByName(ctx context.Context, name string) (uint32, error)

	// SendMail stores mail and returns its ID. FromName may be empty: the
	// store fills it from the sender's character.
	SendMail(ctx context.Context, m store.Mail) (int64, error)
	// SendGuildMail stores one mail per member of the guild (sender included)
	// in one transaction and returns the recipients' IDs with the new mail IDs.
	SendGuildMail(ctx context.Context, guildID uint32, m store.Mail) (map[uint32]int64, error)
	// ListMail returns up to limit mails of charID's inbox, newest first.
	ListMail(ctx context.Context, charID uint32, limit int) ([]store.Mail, error)
	// ReadMail returns one mail of charID's inbox and marks it read.
	ReadMail(ctx context.Context, charID uint32, mailID int64) (store.Mail, error)
	// DeleteMail deletes one mail of charID's inbox.
	DeleteMail(ctx context.Context, charID uint32, mailID int64) error
	// UnreadMail counts unread mails of charID.
	UnreadMail(ctx context.Context, charID uint32) (int, error)

	// CreateGuild creates a guild led (and joined) by leaderID.
	// store.ErrExists if the name is taken or the leader is in a guild.
	CreateGuild(ctx context.Context, leaderID uint32, name string) (uint32, error)
	// Guild returns a guild with its members.
	Guild(ctx context.Context, guildID uint32) (store.Guild, error)
	// InviteToGuild records an invitation (leader only: store.ErrForbidden).
	InviteToGuild(ctx context.Context, leaderID, charID uint32) (guildID uint32, err error)
	// ApplyToGuild records an application of charID to guildID.
	ApplyToGuild(ctx context.Context, guildID, charID uint32) error
	// AcceptInvite makes charID a member of guildID if invited.
	AcceptInvite(ctx context.Context, guildID, charID uint32) error
	// AcceptApplication makes applicant a member of the leader's guild if it applied.
	AcceptApplication(ctx context.Context, leaderID, applicant uint32) (guildID uint32, err error)
	// LeaveGuild removes charID from its guild; a leader leaving disbands it.
	LeaveGuild(ctx context.Context, charID uint32) (guildID uint32, disbanded bool, err error)
	// KickFromGuild removes charID from the leader's guild.
	KickFromGuild(ctx context.Context, leaderID, charID uint32) (guildID uint32, err error)

	// FencedWrite stores data under a global semaphore name if token is at
	// least the highest token accepted for that name (store.ErrStaleToken
	// otherwise), and records token as the highest.
	FencedWrite(ctx context.Context, sema string, token uint64, data []byte) error
}
