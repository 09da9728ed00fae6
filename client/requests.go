package client

import (
	"context"
	"fmt"
	"time"

	"github.com/guildhall/guildhall/wire"
)

// Typed requests. Each sends one request and waits for its answer; a server
// refusal is returned as the *wire.Error itself, an answer of the wrong type
// as an error wrapping ErrUnexpected. See Request for ctx and connection
// errors, and docs/protocol.md for what each request does.

// expect sends m and requires an answer of type *T.
func expect[T any, PT interface {
	*T
	wire.Message
}](ctx context.Context, c *Conn, m wire.Message) (PT, error) {
	resp, err := c.Request(ctx, m)
	if err != nil {
		return nil, err
	}
	r, ok := resp.(PT)
	if !ok {
		var want PT = new(T)
		return nil, fmt.Errorf("client: %s answered with %s, want %s: %w", m.Type(), resp.Type(), want.Type(), ErrUnexpected)
	}
	return r, nil
}

// ok sends m and requires an OK, returning its ID.
func (c *Conn) ok(ctx context.Context, m wire.Message) (uint64, error) {
	r, err := expect[wire.OK](ctx, c, m)
	if err != nil {
		return 0, err
	}
	return r.ID, nil
}

// Ping sends the local clock (unix nanoseconds) and returns the server's
// Pong: ClientTime echoed (so time.Since(time.Unix(0, p.ClientTime)) is the
// round trip) and ServerTime, the server's clock.
func (c *Conn) Ping(ctx context.Context) (*wire.Pong, error) {
	return expect[wire.Pong](ctx, c, &wire.Ping{ClientTime: time.Now().UnixNano()})
}

// Logout ends the session cleanly: the server saves the character and
// answers OK; Logout then closes the Conn (Err becomes ErrClosed). The Conn
// is closed even when the request fails.
func (c *Conn) Logout(ctx context.Context) error {
	c.mu.Lock()
	c.loggingOut = true
	c.mu.Unlock()
	_, err := c.ok(ctx, &wire.Logout{})
	c.Close()
	return err
}

// StageCreate creates a stage on this channel (maxPlayers 0: the channel
// default; password "" for none). It does not enter it.
func (c *Conn) StageCreate(ctx context.Context, stageID string, maxPlayers uint16, password string) error {
	_, err := c.ok(ctx, &wire.StageCreate{StageID: stageID, MaxPlayers: maxPlayers, Password: password})
	return err
}

// StageEnter enters a stage, leaving the current one and clearing the back
// stack, and returns the stage's description.
func (c *Conn) StageEnter(ctx context.Context, stageID, password string) (*wire.StageInfo, error) {
	return expect[wire.StageInfo](ctx, c, &wire.StageEnter{StageID: stageID, Password: password})
}

// StageMove enters a stage and pushes the current one on the back stack.
// It returns the new stage's description (a server that answers OK instead
// gives a StageInfo holding only StageID).
func (c *Conn) StageMove(ctx context.Context, stageID, password string) (*wire.StageInfo, error) {
	resp, err := c.Request(ctx, &wire.StageMove{StageID: stageID, Password: password})
	if err != nil {
		return nil, err
	}
	switch r := resp.(type) {
	case *wire.StageInfo:
		return r, nil
	case *wire.OK:
		return &wire.StageInfo{StageID: stageID}, nil
	}
	return nil, fmt.Errorf("client: StageMove answered with %s: %w", resp.Type(), ErrUnexpected)
}

// StageBack returns to the stage on top of the back stack.
func (c *Conn) StageBack(ctx context.Context) (*wire.StageInfo, error) {
	return expect[wire.StageInfo](ctx, c, &wire.StageBack{})
}

// StageLeave leaves the current stage.
func (c *Conn) StageLeave(ctx context.Context) error {
	_, err := c.ok(ctx, &wire.StageLeave{})
	return err
}

// StageLock locks or unlocks a stage (host only).
func (c *Conn) StageLock(ctx context.Context, stageID string, locked bool) error {
	_, err := c.ok(ctx, &wire.StageLock{StageID: stageID, Locked: locked})
	return err
}

// StageReserve reserves a slot in a stage.
func (c *Conn) StageReserve(ctx context.Context, stageID, password string) error {
	_, err := c.ok(ctx, &wire.StageReserve{StageID: stageID, Password: password})
	return err
}

// StageUnreserve gives up a reservation.
func (c *Conn) StageUnreserve(ctx context.Context, stageID string) error {
	_, err := c.ok(ctx, &wire.StageUnreserve{StageID: stageID})
	return err
}

// StageReady sets the ready flag of this session's reservation in a stage.
func (c *Conn) StageReady(ctx context.Context, stageID string, ready bool) error {
	_, err := c.ok(ctx, &wire.StageReady{StageID: stageID, Ready: ready})
	return err
}

// StageSetBinary sets the opaque value key of a stage (host only).
func (c *Conn) StageSetBinary(ctx context.Context, stageID string, key uint8, data []byte) error {
	_, err := c.ok(ctx, &wire.StageSetBinary{StageID: stageID, Key: key, Data: data})
	return err
}

// StageGetBinary reads the opaque value key of a stage (empty when unset).
func (c *Conn) StageGetBinary(ctx context.Context, stageID string, key uint8) ([]byte, error) {
	r, err := expect[wire.StageBinary](ctx, c, &wire.StageGetBinary{StageID: stageID, Key: key})
	if err != nil {
		return nil, err
	}
	return r.Data, nil
}

// StageClients returns a stage's members and reservations.
func (c *Conn) StageClients(ctx context.Context, stageID string) (*wire.StageInfo, error) {
	return expect[wire.StageInfo](ctx, c, &wire.StageClients{StageID: stageID})
}

// StageList lists up to max stages whose ID starts with prefix, on this
// channel or, with cluster set, on every channel of the cluster.
func (c *Conn) StageList(ctx context.Context, prefix string, max uint16, cluster bool) ([]wire.StageEntry, error) {
	r, err := expect[wire.StageListResp](ctx, c, &wire.StageList{Prefix: prefix, Max: max, Cluster: cluster})
	if err != nil {
		return nil, err
	}
	return r.Stages, nil
}

// Cast sends payload to a scope (wire.ScopeStage, ScopeChannel, ScopeWorld,
// ScopeTargets with targets, ScopeGuild) and waits for the server's OK:
// delivered is the number of recipients found online for ScopeTargets and
// ScopeGuild, 0 otherwise.
func (c *Conn) Cast(ctx context.Context, scope uint8, targets []uint32, payload []byte) (delivered uint64, err error) {
	return c.ok(ctx, &wire.Cast{Scope: scope, Targets: targets, Payload: payload})
}

// CastNoAck sends a cast with request ID 0: no OK comes back, and a
// failure arrives on Events as a *wire.Error. It returns once the frame is
// written.
func (c *Conn) CastNoAck(scope uint8, targets []uint32, payload []byte) error {
	return c.Send(&wire.Cast{Scope: scope, Targets: targets, Payload: payload})
}

// SemaAcquire takes a semaphore: local to the channel with a capacity (0
// means 1), or cluster-wide when global. For a global semaphore token is
// its fencing token. A held semaphore gives a *wire.Error with
// wire.CodeSemaHeld whose Channel and Addr say where the holder is.
func (c *Conn) SemaAcquire(ctx context.Context, name string, global bool, capacity uint16) (token uint64, err error) {
	return c.ok(ctx, &wire.SemaAcquire{Name: name, Global: global, Capacity: capacity})
}

// SemaRelease releases a semaphore this session holds.
func (c *Conn) SemaRelease(ctx context.Context, name string, global bool) error {
	_, err := c.ok(ctx, &wire.SemaRelease{Name: name, Global: global})
	return err
}

// SemaWrite stores data under a global semaphore this session holds; the
// server refuses it with wire.CodeStaleToken if a newer holder has written.
func (c *Conn) SemaWrite(ctx context.Context, name string, data []byte) error {
	_, err := c.ok(ctx, &wire.SemaWrite{Name: name, Data: data})
	return err
}

// SaveData replaces the character's save data.
func (c *Conn) SaveData(ctx context.Context, data []byte) error {
	_, err := c.ok(ctx, &wire.SaveData{Data: data})
	return err
}

// LoadData returns the character's save data, its SHA-256 and playtime.
func (c *Conn) LoadData(ctx context.Context) (*wire.CharData, error) {
	return expect[wire.CharData](ctx, c, &wire.LoadData{})
}

// MailSend sends mail to the character toID, or (toID 0) to the character
// named toName, and returns the mail's ID once it is durable.
func (c *Conn) MailSend(ctx context.Context, toID uint32, toName, subject, body string) (int64, error) {
	id, err := c.ok(ctx, &wire.MailSend{ToID: toID, ToName: toName, Subject: subject, Body: body})
	return int64(id), err
}

// MailList returns the inbox, newest first.
func (c *Conn) MailList(ctx context.Context) ([]wire.MailHeader, error) {
	r, err := expect[wire.MailListResp](ctx, c, &wire.MailList{})
	if err != nil {
		return nil, err
	}
	return r.Mail, nil
}

// MailRead returns one mail and marks it read.
func (c *Conn) MailRead(ctx context.Context, id int64) (*wire.MailBody, error) {
	return expect[wire.MailBody](ctx, c, &wire.MailRead{ID: id})
}

// MailDelete deletes one mail of the inbox.
func (c *Conn) MailDelete(ctx context.Context, id int64) error {
	_, err := c.ok(ctx, &wire.MailDelete{ID: id})
	return err
}

// GuildCreate creates a guild led by this character and returns its ID.
func (c *Conn) GuildCreate(ctx context.Context, name string) (uint32, error) {
	id, err := c.ok(ctx, &wire.GuildCreate{Name: name})
	return uint32(id), err
}

// GuildInvite invites a character to this leader's guild.
func (c *Conn) GuildInvite(ctx context.Context, charID uint32) error {
	_, err := c.ok(ctx, &wire.GuildInvite{CharID: charID})
	return err
}

// GuildApply applies to join a guild.
func (c *Conn) GuildApply(ctx context.Context, guildID uint32) error {
	_, err := c.ok(ctx, &wire.GuildApply{GuildID: guildID})
	return err
}

// GuildAccept accepts an invitation to guildID (as the invitee, charID 0)
// or the application of charID (as the leader, guildID 0).
func (c *Conn) GuildAccept(ctx context.Context, guildID, charID uint32) error {
	_, err := c.ok(ctx, &wire.GuildAccept{GuildID: guildID, CharID: charID})
	return err
}

// GuildLeave leaves the guild; a leader leaving disbands it.
func (c *Conn) GuildLeave(ctx context.Context) error {
	_, err := c.ok(ctx, &wire.GuildLeave{})
	return err
}

// GuildKick removes a member (leader only).
func (c *Conn) GuildKick(ctx context.Context, charID uint32) error {
	_, err := c.ok(ctx, &wire.GuildKick{CharID: charID})
	return err
}

// GuildMembers returns this character's guild with its members (Ready
// means online).
func (c *Conn) GuildMembers(ctx context.Context) (*wire.GuildInfo, error) {
	return expect[wire.GuildInfo](ctx, c, &wire.GuildMembers{})
}

// GuildMail mails every member of this character's guild and returns how
// many mails were sent.
func (c *Conn) GuildMail(ctx context.Context, subject, body string) (uint64, error) {
	return c.ok(ctx, &wire.GuildMail{Subject: subject, Body: body})
}

// FindPlayer says where a character is online, by charID or (charID 0) by
// name. PlayerInfo.Found is false when the character is offline.
func (c *Conn) FindPlayer(ctx context.Context, charID uint32, name string) (*wire.PlayerInfo, error) {
	return expect[wire.PlayerInfo](ctx, c, &wire.FindPlayer{CharID: charID, Name: name})
}

// SearchPlayers lists up to max online players across the cluster whose
// name starts with namePrefix and, if stageID is set, who are in that stage.
func (c *Conn) SearchPlayers(ctx context.Context, namePrefix, stageID string, max uint16) ([]wire.PlayerLoc, error) {
	r, err := expect[wire.PlayerList](ctx, c, &wire.SearchPlayers{NamePrefix: namePrefix, StageID: stageID, Max: max})
	if err != nil {
		return nil, err
	}
	return r.Players, nil
}
