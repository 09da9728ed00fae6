package main

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line string
		want Command
	}{
		{"/help", Command{Kind: KHelp}},
		{"/?", Command{Kind: KHelp}},
		{"/channels", Command{Kind: KChannels}},
		{"/enter town1", Command{Kind: KEnter, Stage: "town1"}},
		{"  /ENTER town1 secret  ", Command{Kind: KEnter, Stage: "town1", Password: "secret"}},
		{"-/enter town1", Command{Kind: KEnter, Stage: "town1", MayFail: true}},
		{"/create room1", Command{Kind: KCreate, Stage: "room1"}},
		{"/create room1 4", Command{Kind: KCreate, Stage: "room1", Max: 4}},
		{"/create room1 4 pw", Command{Kind: KCreate, Stage: "room1", Max: 4, Password: "pw"}},
		{"/move quest2", Command{Kind: KMove, Stage: "quest2"}},
		{"/move quest2 pw", Command{Kind: KMove, Stage: "quest2", Password: "pw"}},
		{"/back", Command{Kind: KBack}},
		{"/leave", Command{Kind: KLeave}},
		{"/lock", Command{Kind: KLock}},
		{"/lock room1", Command{Kind: KLock, Stage: "room1"}},
		{"/unlock", Command{Kind: KUnlock}},
		{"/reserve room1 pw", Command{Kind: KReserve, Stage: "room1", Password: "pw"}},
		{"/unreserve room1", Command{Kind: KUnreserve, Stage: "room1"}},
		{"/ready", Command{Kind: KReady, Ready: true}},
		{"/ready off", Command{Kind: KReady, Ready: false}},
		{"/ready room1", Command{Kind: KReady, Stage: "room1", Ready: true}},
		{"/ready room1 off", Command{Kind: KReady, Stage: "room1", Ready: false}},
		{"/ready room1 on", Command{Kind: KReady, Stage: "room1", Ready: true}},
		{"/who", Command{Kind: KWho}},
		{"/who town1", Command{Kind: KWho, Stage: "town1"}},
		{"/stages", Command{Kind: KStages}},
		{"/stages qu", Command{Kind: KStages, Prefix: "qu"}},
		{"/lobby qu", Command{Kind: KLobby, Prefix: "qu"}},
		{"/players Al", Command{Kind: KPlayers, Prefix: "Al"}},
		{"hello  there", Command{Kind: KSay, Text: "hello  there"}},
		{"//me waves", Command{Kind: KSay, Text: "/me waves"}},
		{"-_- ok", Command{Kind: KSay, Text: "-_- ok"}},
		{"/say hi  all", Command{Kind: KSay, Text: "hi  all"}},
		{"/shout anyone?", Command{Kind: KShout, Text: "anyone?"}},
		{"/world hello world", Command{Kind: KWorld, Text: "hello world"}},
		{"/g meet at 8", Command{Kind: KGuildChat, Text: "meet at 8"}},
		{"/w Carol psst  you", Command{Kind: KWhisper, Name: "Carol", Text: "psst  you"}},
		{"/tell Carol hi", Command{Kind: KWhisper, Name: "Carol", Text: "hi"}},
		{"/find Bob", Command{Kind: KFind, Name: "Bob"}},
		{"/mail Bob Hello there | see you at 8 | ok?", Command{Kind: KMail, Name: "Bob", Subject: "Hello there", Body: "see you at 8 | ok?"}},
		{"/mail Bob Just a subject", Command{Kind: KMail, Name: "Bob", Subject: "Just a subject"}},
		{"/inbox", Command{Kind: KInbox}},
		{"/read 5", Command{Kind: KRead, ID: 5}},
		{"/delmail 12", Command{Kind: KDelMail, ID: 12}},
		{"/guild create Night Owls", Command{Kind: KGuildCreate, Name: "Night Owls"}},
		{"/guild invite Bob", Command{Kind: KGuildInvite, Name: "Bob"}},
		{"/guild apply 3", Command{Kind: KGuildApply, ID: 3}},
		{"/guild accept 3", Command{Kind: KGuildAccept, ID: 3}},
		{"/guild accept Bob", Command{Kind: KGuildAccept, Name: "Bob"}},
		{"/GUILD Leave", Command{Kind: KGuildLeave}},
		{"/guild kick Bob", Command{Kind: KGuildKick, Name: "Bob"}},
		{"/guild members", Command{Kind: KGuildMembers}},
		{"/guild mail Raid | tonight at 8", Command{Kind: KGuildMail, Subject: "Raid", Body: "tonight at 8"}},
		{"/sema get raid1", Command{Kind: KSemaGet, Name: "raid1"}},
		{"/sema get raid1 global", Command{Kind: KSemaGet, Name: "raid1", Global: true}},
		{"/sema get raid1 4", Command{Kind: KSemaGet, Name: "raid1", Capacity: 4}},
		{"/sema release raid1 global", Command{Kind: KSemaRelease, Name: "raid1", Global: true}},
		{"/sema write raid1 boss down", Command{Kind: KSemaWrite, Name: "raid1", Text: "boss down"}},
		{"/save level 12", Command{Kind: KSave, Text: "level 12"}},
		{"/load", Command{Kind: KLoad}},
		{"/ping", Command{Kind: KPing}},
		{"/quit", Command{Kind: KQuit}},
		{"/exit", Command{Kind: KQuit}},
		{"/wait cast", Command{Kind: KWait, Event: "cast", Timeout: DefaultWaitTimeout}},
		{"/wait cast 5s", Command{Kind: KWait, Event: "cast", Timeout: 5 * time.Second}},
		{"/wait mail 3", Command{Kind: KWait, Event: "mail", Timeout: 3 * time.Second}},
		{"/wait join 5s Bob entered", Command{Kind: KWait, Event: "join", Timeout: 5 * time.Second, Match: "Bob entered"}},
		{"/wait say hello", Command{Kind: KWait, Event: "stage", Timeout: DefaultWaitTimeout, Match: "hello"}},
		{"/wait g", Command{Kind: KWait, Event: "guildchat", Timeout: DefaultWaitTimeout}},
		{"/wait shout", Command{Kind: KWait, Event: "channel", Timeout: DefaultWaitTimeout}},
		{"/sleep 200ms", Command{Kind: KSleep, Sleep: 200 * time.Millisecond}},
		{"/sleep 1", Command{Kind: KSleep, Sleep: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := ParseCommand(tt.line)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct {
		line string
		want error
	}{
		{"", ErrEmpty},
		{"   ", ErrEmpty},
		{"# a comment", ErrEmpty},
		{"/frobnicate", ErrUnknownCommand},
		{"/enter", ErrUsage},
		{"/enter a b c", ErrUsage},
		{"/create", ErrUsage},
		{"/create room1 many", ErrUsage},
		{"/create room1 70000", ErrUsage},
		{"/help me", ErrUsage},
		{"/unreserve", ErrUsage},
		{"/ready a b", ErrUsage},
		{"/who a b", ErrUsage},
		{"/say", ErrUsage},
		{"/say   ", ErrUsage},
		{"/w Carol", ErrUsage},
		{"/w", ErrUsage},
		{"/find", ErrUsage},
		{"/mail Bob", ErrUsage},
		{"/mail Bob | body only", ErrUsage},
		{"/read", ErrUsage},
		{"/read x", ErrUsage},
		{"/read -3", ErrUsage},
		{"/delmail 0", ErrUsage},
		{"/guild", ErrUsage},
		{"/guild dance", ErrUsage},
		{"/guild create", ErrUsage},
		{"/guild apply Bob", ErrUsage},
		{"/guild invite", ErrUsage},
		{"/guild members now", ErrUsage},
		{"/guild mail | body", ErrUsage},
		{"/sema", ErrUsage},
		{"/sema get", ErrUsage},
		{"/sema get x global 4", ErrUsage},
		{"/sema release x 4", ErrUsage},
		{"/sema write", ErrUsage},
		{"/wait", ErrUsage},
		{"/wait dinner", ErrUsage},
		{"/sleep", ErrUsage},
		{"/sleep soon", ErrUsage},
		{"/sleep -1s", ErrUsage},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, err := ParseCommand(tt.line)
			require.Error(t, err)
			assert.True(t, errors.Is(err, tt.want), "got %v, want %v", err, tt.want)
		})
	}
}

func TestUsageErrorNamesTheCommand(t *testing.T) {
	_, err := ParseCommand("/create room1 lots")
	require.ErrorIs(t, err, ErrUsage)
	assert.Contains(t, err.Error(), "/create STAGE [max] [password]")
}

func TestEveryHelpCommandParses(t *testing.T) {
	// Every command /help lists has a usage line that names a command
	// ParseCommand knows (the first word of its usage line).
	for _, k := range helpOrder() {
		word, rest := cut(usageOf(k))
		if word == "/guild" || word == "/sema" {
			sub, _ := cut(rest)
			word += " " + sub
		}
		_, err := ParseCommand(word)
		assert.False(t, errors.Is(err, ErrUnknownCommand), "%s: %v", k, err)
	}
}
