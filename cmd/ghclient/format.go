package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/wire"
)

// Output conventions (stable, for scripts and the end-to-end tests):
//   - every command ends with exactly one line starting "ok " or "error: ";
//     list commands print their items first, one per line;
//   - chat events print as "[scope] Name: text";
//   - other events print as "* words".

// scopeName is the word a cast scope is shown and waited for with.
func scopeName(scope uint8) string {
	switch scope {
	case wire.ScopeStage:
		return "stage"
	case wire.ScopeChannel:
		return "channel"
	case wire.ScopeWorld:
		return "world"
	case wire.ScopeTargets:
		return "whisper"
	case wire.ScopeGuild:
		return "guild"
	}
	return "scope " + strconv.Itoa(int(scope))
}

// text shows a payload or save data as text when it is printable UTF-8,
// else as its size.
func text(b []byte) string {
	if !utf8.Valid(b) {
		return fmt.Sprintf("<%d bytes of binary data>", len(b))
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, string(b))
}

// who names a character: its name when known, else "character N".
func who(id uint32, name string) string {
	if name != "" {
		return name
	}
	return "character " + strconv.FormatUint(uint64(id), 10)
}

// FormatEvent renders a push as one line, except PlayersOffline: one line
// per player. names resolves character IDs the event does not name
// (StageLeft); it may return "".
func FormatEvent(m wire.Message, names func(uint32) string) string {
	switch e := m.(type) {
	case *wire.CastMsg:
		return fmt.Sprintf("[%s] %s: %s", scopeName(e.Scope), who(e.SenderID, e.SenderName), text(e.Payload))
	case *wire.StageJoined:
		return fmt.Sprintf("* %s entered %s", who(e.CharID, e.Name), e.StageID)
	case *wire.StageLeft:
		return fmt.Sprintf("* %s left %s", who(e.CharID, names(e.CharID)), e.StageID)
	case *wire.MailNotify:
		return fmt.Sprintf("* you have mail from %s: %s", who(e.FromID, e.FromName), e.Subject)
	case *wire.Kicked:
		return "* kicked: " + e.Reason
	case *wire.Notice:
		return "* notice: " + text([]byte(e.Text))
	case *wire.GuildEvent:
		guild := fmt.Sprintf("guild %s (id %d)", e.GuildName, e.GuildID)
		if e.GuildName == "" {
			guild = fmt.Sprintf("guild %d", e.GuildID)
		}
		name := who(e.CharID, e.Name)
		switch e.Event {
		case wire.GuildInvited:
			return fmt.Sprintf("* %s invited you to %s", name, guild)
		case wire.GuildApplied:
			return fmt.Sprintf("* %s applied to %s", name, guild)
		case wire.GuildJoined:
			return fmt.Sprintf("* %s joined %s", name, guild)
		case wire.GuildLeft:
			return fmt.Sprintf("* %s left %s", name, guild)
		case wire.GuildKicked:
			return fmt.Sprintf("* %s was kicked from %s", name, guild)
		}
		return fmt.Sprintf("* %s: guild event %d for %s", guild, e.Event, name)
	case *wire.PlayersOffline:
		if len(e.Players) == 0 {
			return "* no players went offline"
		}
		lines := make([]string, len(e.Players))
		for i, p := range e.Players {
			lines[i] = fmt.Sprintf("* %s went offline (their replica stopped)", who(p.CharID, p.Name))
		}
		return strings.Join(lines, "\n")
	case *wire.Error:
		return "* error: " + FormatError(e)
	case nil:
		return "* empty event"
	}
	return "* " + m.Type().String()
}

// eventKinds lists the /wait kinds an event satisfies (see waitKind).
func eventKinds(m wire.Message) []string {
	switch e := m.(type) {
	case *wire.CastMsg:
		k := scopeName(e.Scope)
		if e.Scope == wire.ScopeGuild {
			k = "guildchat"
		}
		return []string{"cast", k}
	case *wire.StageJoined:
		return []string{"join"}
	case *wire.StageLeft:
		return []string{"leave"}
	case *wire.MailNotify:
		return []string{"mail"}
	case *wire.Kicked:
		return []string{"kicked"}
	case *wire.Notice:
		return []string{"notice"}
	case *wire.GuildEvent:
		return []string{"guild"}
	case *wire.Error:
		return []string{"error"}
	}
	return nil
}

// heldBy finds "character N" in a semaphore-held error message and
// returns N ("" if absent).
func heldBy(msg string) string {
	_, after, ok := strings.Cut(msg, "character ")
	if !ok {
		return ""
	}
	end := strings.IndexFunc(after, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(after)
	}
	return after[:end]
}

// FormatError renders an error in words: server errors by their code, with
// where a semaphore is held or where to go for a draining channel.
func FormatError(err error) string {
	var we *wire.Error
	var ke *client.KickedError
	var ae *client.APIError
	switch {
	case err == nil:
		return "no error"
	case errors.As(err, &we):
		return formatWireError(we)
	case errors.As(err, &ke):
		return "kicked: " + ke.Reason
	case errors.As(err, &ae):
		if ae.Message != "" {
			return fmt.Sprintf("%s (http %d)", ae.Message, ae.Status)
		}
		return fmt.Sprintf("http %d", ae.Status)
	case errors.Is(err, client.ErrServerClosed):
		return "connection closed by server"
	case errors.Is(err, client.ErrClosed):
		return "not connected"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out waiting for the server"
	}
	return err.Error()
}

func formatWireError(e *wire.Error) string {
	s := e.Code.String()
	msg := e.Message
	where := ""
	if e.Channel != 0 {
		where = fmt.Sprintf(" on channel %d", e.Channel)
	}
	if e.Addr != "" {
		where += " (" + e.Addr + ")"
	}
	switch e.Code {
	case wire.CodeSemaHeld:
		if n := heldBy(msg); n != "" {
			s += " by character " + n
			msg = ""
		}
		if strings.HasPrefix(msg, s) {
			msg = "" // "semaphore held elsewhere" says nothing more
		}
		s += where
	case wire.CodeDraining:
		if where != "" {
			s += ", try" + strings.TrimPrefix(where, " on")
		}
	default:
		s += where
	}
	if msg != "" && msg != e.Code.String() {
		s += ": " + msg
	}
	return s
}

// formatStage renders a StageInfo in one line: "stage town1 2/16 players
// (host Alice) [locked] [password]: Alice, Bob; reserved: Carol (ready)".
func formatStage(si *wire.StageInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "stage %s %d/%d players", si.StageID, len(si.Members), si.MaxPlayers)
	host := ""
	for _, m := range si.Members {
		if m.CharID == si.HostID {
			host = m.Name
		}
	}
	if si.HostID != 0 {
		fmt.Fprintf(&b, " (host %s)", who(si.HostID, host))
	}
	if si.Locked {
		b.WriteString(" locked")
	}
	if si.HasPassword {
		b.WriteString(" password")
	}
	b.WriteString(":")
	for i, m := range si.Members {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(" " + who(m.CharID, m.Name))
	}
	if len(si.Reservations) > 0 {
		b.WriteString("; reserved:")
		for i, m := range si.Reservations {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(" " + who(m.CharID, m.Name))
			if m.Ready {
				b.WriteString(" (ready)")
			}
		}
	}
	return b.String()
}

// players renders "N player(s)".
func players(n int) string {
	if n == 1 {
		return "1 player"
	}
	return fmt.Sprintf("%d players", n)
}

// formatStageEntry renders one stage of a /stages or /lobby list.
func formatStageEntry(s wire.StageEntry) string {
	line := fmt.Sprintf("stage %s channel %d %d/%d players", s.StageID, s.ChannelID, s.Players, s.MaxPlayers)
	if s.Addr != "" {
		line += " (" + s.Addr + ")"
	}
	if s.Locked {
		line += " locked"
	}
	if s.HasPassword {
		line += " password"
	}
	return line
}

// formatPlayer renders where a player is online.
func formatPlayer(p wire.PlayerLoc) string {
	line := fmt.Sprintf("%s (#%d) on channel %d", who(p.CharID, p.Name), p.CharID, p.ChannelID)
	if p.Addr != "" {
		line += " (" + p.Addr + ")"
	}
	if p.StageID != "" {
		line += " in " + p.StageID
	} else {
		line += " in no stage"
	}
	return line
}

// formatMailHeader renders one inbox entry.
func formatMailHeader(h wire.MailHeader) string {
	line := fmt.Sprintf("mail %d from %s: %s", h.ID, who(h.FromID, h.FromName), h.Subject)
	if h.SentAt != 0 {
		line += " (" + time.Unix(h.SentAt, 0).UTC().Format("2006-01-02 15:04") + ")"
	}
	if h.Guild {
		line += " [guild]"
	}
	if !h.Read {
		line += " [unread]"
	}
	return line
}

// formatGuild renders a GuildInfo in one line.
func formatGuild(g *wire.GuildInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "guild %s (id %d), %d members:", g.Name, g.GuildID, len(g.Members))
	for i, m := range g.Members {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(" " + who(m.CharID, m.Name))
		var tags []string
		if m.CharID == g.LeaderID {
			tags = append(tags, "leader")
		}
		if m.Ready {
			tags = append(tags, "online")
		}
		if len(tags) > 0 {
			b.WriteString(" (" + strings.Join(tags, ", ") + ")")
		}
	}
	return b.String()
}

// formatChannel renders one channel of the sign-in list.
func formatChannel(ch client.ChannelInfo, current uint16) string {
	line := fmt.Sprintf("channel %d %s %s %d/%d players", ch.ID, ch.Name, ch.Addr, ch.Players, ch.MaxPlayers)
	if !ch.Enabled {
		line += " disabled"
	}
	if ch.ID == current {
		line += " (current)"
	}
	return line
}

// formatWelcome renders the handshake result.
func formatWelcome(w wire.Welcome) string {
	line := fmt.Sprintf("ok signed in as %s (#%d) on channel %d", w.Name, w.CharID, w.ChannelID)
	switch w.UnreadMail {
	case 0:
	case 1:
		line += ", 1 unread mail"
	default:
		line += fmt.Sprintf(", %d unread mails", w.UnreadMail)
	}
	if w.GuildID != 0 {
		line += fmt.Sprintf(", guild %d", w.GuildID)
	}
	return line
}

// helpLines returns the /help text, one command per line.
func helpLines() []string {
	lines := make([]string, 0, len(helpOrder())+2)
	for _, k := range helpOrder() {
		lines = append(lines, "  "+usageOf(k))
	}
	lines = append(lines,
		"  a leading '-' (\"-/enter x\") lets a command fail without failing a script",
		"  /wait events: cast say shout world whisper g join leave mail kicked notice guild error")
	return lines
}
