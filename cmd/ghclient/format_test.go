package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/wire"
)

func TestFormatEvent(t *testing.T) {
	names := func(id uint32) string {
		if id == 9 {
			return "Dave"
		}
		return ""
	}
	tests := []struct {
		ev    wire.Message
		want  string
		kinds []string
	}{
		{&wire.CastMsg{Scope: wire.ScopeStage, SenderID: 1, SenderName: "Alice", Payload: []byte("hello")}, "[stage] Alice: hello", []string{"cast", "stage"}},
		{&wire.CastMsg{Scope: wire.ScopeWorld, SenderID: 2, SenderName: "Bob", Payload: []byte("hi")}, "[world] Bob: hi", []string{"cast", "world"}},
		{&wire.CastMsg{Scope: wire.ScopeTargets, SenderID: 3, SenderName: "Carol", Payload: []byte("psst")}, "[whisper] Carol: psst", []string{"cast", "whisper"}},
		{&wire.CastMsg{Scope: wire.ScopeChannel, SenderID: 3, SenderName: "Carol", Payload: []byte("yo")}, "[channel] Carol: yo", []string{"cast", "channel"}},
		{&wire.CastMsg{Scope: wire.ScopeGuild, SenderID: 3, SenderName: "Carol", Payload: []byte("gg")}, "[guild] Carol: gg", []string{"cast", "guildchat"}},
		{&wire.CastMsg{Scope: wire.ScopeStage, SenderID: 4, Payload: []byte("anon")}, "[stage] character 4: anon", []string{"cast", "stage"}},
		{&wire.CastMsg{Scope: wire.ScopeStage, SenderID: 1, SenderName: "Alice", Payload: []byte{0xff, 0xfe, 0x00}}, "[stage] Alice: <3 bytes of binary data>", []string{"cast", "stage"}},
		{&wire.CastMsg{Scope: wire.ScopeStage, SenderID: 1, SenderName: "Alice", Payload: []byte("two\nlines")}, "[stage] Alice: two lines", []string{"cast", "stage"}},
		{&wire.StageJoined{StageID: "town1", CharID: 1, Name: "Alice"}, "* Alice entered town1", []string{"join"}},
		{&wire.StageLeft{StageID: "town1", CharID: 9}, "* Dave left town1", []string{"leave"}},
		{&wire.StageLeft{StageID: "town1", CharID: 8}, "* character 8 left town1", []string{"leave"}},
		{&wire.MailNotify{MailID: 5, FromID: 2, FromName: "Bob", Subject: "lunch?"}, "* you have mail from Bob: lunch?", []string{"mail"}},
		{&wire.Kicked{Reason: "logged in elsewhere"}, "* kicked: logged in elsewhere", []string{"kicked"}},
		{&wire.Notice{Text: "server restarting in 5 minutes"}, "* notice: server restarting in 5 minutes", []string{"notice"}},
		{&wire.GuildEvent{GuildID: 3, GuildName: "Owls", Event: wire.GuildInvited, CharID: 1, Name: "Alice"}, "* Alice invited you to guild Owls (id 3)", []string{"guild"}},
		{&wire.GuildEvent{GuildID: 3, GuildName: "Owls", Event: wire.GuildApplied, CharID: 2, Name: "Bob"}, "* Bob applied to guild Owls (id 3)", []string{"guild"}},
		{&wire.GuildEvent{GuildID: 3, GuildName: "Owls", Event: wire.GuildJoined, CharID: 2, Name: "Bob"}, "* Bob joined guild Owls (id 3)", []string{"guild"}},
		{&wire.GuildEvent{GuildID: 3, GuildName: "Owls", Event: wire.GuildLeft, CharID: 2, Name: "Bob"}, "* Bob left guild Owls (id 3)", []string{"guild"}},
		{&wire.GuildEvent{GuildID: 3, Event: wire.GuildKicked, CharID: 2, Name: "Bob"}, "* Bob was kicked from guild 3", []string{"guild"}},
		{&wire.GuildEvent{GuildID: 3, GuildName: "Owls", Event: 99, CharID: 2, Name: "Bob"}, "* guild Owls (id 3): guild event 99 for Bob", []string{"guild"}},
		{&wire.PlayersOffline{Players: []wire.Member{{CharID: 1, Name: "Alice"}, {CharID: 7}}},
			"* Alice went offline (their replica stopped)\n* character 7 went offline (their replica stopped)", nil},
		{&wire.PlayersOffline{}, "* no players went offline", nil},
		{&wire.Error{Code: wire.CodeUnavailable, Message: "redis down"}, "* error: service unavailable: redis down", []string{"error"}},
		{&wire.Pong{}, "* Pong", nil},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, FormatEvent(tt.ev, names))
			assert.Equal(t, tt.kinds, eventKinds(tt.ev))
		})
	}
}

func TestFormatError(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&wire.Error{Code: wire.CodeStageFull}, "stage full"},
		{&wire.Error{Code: wire.CodeWrongPass, Message: "wrong password"}, "wrong password"},
		{&wire.Error{Code: wire.CodeNotFound, Message: "no stage quest9"}, "not found: no stage quest9"},
		{&wire.Error{Code: wire.CodeSemaHeld, Message: "held by character 7", Channel: 2, Addr: "127.0.0.1:54002"}, "semaphore held by character 7 on channel 2 (127.0.0.1:54002)"},
		{&wire.Error{Code: wire.CodeSemaHeld, Channel: 2}, "semaphore held on channel 2"},
		{&wire.Error{Code: wire.CodeSemaHeld, Message: "semaphore held elsewhere", Channel: 2, Addr: "127.0.0.1:54002"}, "semaphore held on channel 2 (127.0.0.1:54002)"},
		{&wire.Error{Code: wire.CodeSemaHeld, Message: "semaphore is full", Channel: 1}, "semaphore held on channel 1: semaphore is full"},
		{&wire.Error{Code: wire.CodeSemaHeld, Message: "raid1", Channel: 2}, "semaphore held on channel 2: raid1"},
		{&wire.Error{Code: wire.CodeDraining, Channel: 3, Addr: "127.0.0.1:54003"}, "channel draining, try channel 3 (127.0.0.1:54003)"},
		{&wire.Error{Code: wire.CodeDraining}, "channel draining"},
		{fmt.Errorf("wrapped: %w", &wire.Error{Code: wire.CodeForbidden, Message: "not the leader"}), "forbidden: not the leader"},
		{&wire.Error{Code: 999}, "error 999"},
		{&client.KickedError{Reason: "duplicate login"}, "kicked: duplicate login"},
		{&client.APIError{Status: 401, Code: "unauthorized", Message: "bad password"}, "bad password (http 401)"},
		{&client.APIError{Status: 502}, "http 502"},
		{fmt.Errorf("x: %w", client.ErrServerClosed), "connection closed by server"},
		{client.ErrClosed, "not connected"},
		{fmt.Errorf("client: Ping: %w", context.DeadlineExceeded), "timed out waiting for the server"},
		{ErrNoStage, "not in a stage (give STAGE)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, FormatError(tt.err))
		})
	}
}

func TestFormatResults(t *testing.T) {
	si := &wire.StageInfo{
		StageID: "room1", HostID: 1, MaxPlayers: 4, Locked: true, HasPassword: true,
		Members:      []wire.Member{{CharID: 1, Name: "Alice"}, {CharID: 2, Name: "Bob"}},
		Reservations: []wire.Member{{CharID: 3, Name: "Carol", Ready: true}, {CharID: 4, Name: "Dave"}},
	}
	assert.Equal(t, "stage room1 2/4 players (host Alice) locked password: Alice, Bob; reserved: Carol (ready), Dave", formatStage(si))
	assert.Equal(t, "stage town1 0/100 players:", formatStage(&wire.StageInfo{StageID: "town1", MaxPlayers: 100}))

	assert.Equal(t, "stage quest1 channel 2 1/4 players (127.0.0.1:54002) locked",
		formatStageEntry(wire.StageEntry{StageID: "quest1", ChannelID: 2, Addr: "127.0.0.1:54002", Players: 1, MaxPlayers: 4, Locked: true}))
	assert.Equal(t, "Bob (#2) on channel 1 (127.0.0.1:54001) in town1",
		formatPlayer(wire.PlayerLoc{CharID: 2, Name: "Bob", ChannelID: 1, Addr: "127.0.0.1:54001", StageID: "town1"}))
	assert.Equal(t, "Bob (#2) on channel 1 in no stage", formatPlayer(wire.PlayerLoc{CharID: 2, Name: "Bob", ChannelID: 1}))
	assert.Equal(t, "mail 5 from Bob: lunch? (2023-11-14 22:13) [unread]",
		formatMailHeader(wire.MailHeader{ID: 5, FromID: 2, FromName: "Bob", Subject: "lunch?", SentAt: 1700000000}))
	assert.Equal(t, "mail 6 from Alice: raid [guild]",
		formatMailHeader(wire.MailHeader{ID: 6, FromID: 1, FromName: "Alice", Subject: "raid", Read: true, Guild: true}))
	assert.Equal(t, "guild Owls (id 3), 2 members: Alice (leader, online), Bob",
		formatGuild(&wire.GuildInfo{GuildID: 3, Name: "Owls", LeaderID: 1, Members: []wire.Member{{CharID: 1, Name: "Alice", Ready: true}, {CharID: 2, Name: "Bob"}}}))
	assert.Equal(t, "channel 2 Two 127.0.0.1:54002 5/100 players disabled",
		formatChannel(client.ChannelInfo{ID: 2, Name: "Two", Addr: "127.0.0.1:54002", Players: 5, MaxPlayers: 100}, 1))
	assert.Equal(t, "channel 1 One 127.0.0.1:54001 5/100 players (current)",
		formatChannel(client.ChannelInfo{ID: 1, Name: "One", Addr: "127.0.0.1:54001", Players: 5, MaxPlayers: 100, Enabled: true}, 1))
	assert.Equal(t, "ok signed in as Alice (#1) on channel 2, 3 unread mails, guild 4",
		formatWelcome(wire.Welcome{CharID: 1, Name: "Alice", ChannelID: 2, UnreadMail: 3, GuildID: 4}))
	assert.Equal(t, "ok signed in as Alice (#1) on channel 2, 1 unread mail",
		formatWelcome(wire.Welcome{CharID: 1, Name: "Alice", ChannelID: 2, UnreadMail: 1}))
}
