package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind names a command. Its value is the canonical command word.
type Kind string

// Command kinds.
const (
	KHelp         Kind = "help"
	KChannels     Kind = "channels"
	KEnter        Kind = "enter"
	KCreate       Kind = "create"
	KMove         Kind = "move"
	KBack         Kind = "back"
	KLeave        Kind = "leave"
	KLock         Kind = "lock"
	KUnlock       Kind = "unlock"
	KReserve      Kind = "reserve"
	KUnreserve    Kind = "unreserve"
	KReady        Kind = "ready"
	KWho          Kind = "who"
	KStages       Kind = "stages"
	KLobby        Kind = "lobby"
	KPlayers      Kind = "players"
	KSay          Kind = "say"
	KShout        Kind = "shout"
	KWorld        Kind = "world"
	KGuildChat    Kind = "g"
	KWhisper      Kind = "w"
	KFind         Kind = "find"
	KMail         Kind = "mail"
	KInbox        Kind = "inbox"
	KRead         Kind = "read"
	KDelMail      Kind = "delmail"
	KGuildCreate  Kind = "guild create"
	KGuildInvite  Kind = "guild invite"
	KGuildApply   Kind = "guild apply"
	KGuildAccept  Kind = "guild accept"
	KGuildLeave   Kind = "guild leave"
	KGuildKick    Kind = "guild kick"
	KGuildMembers Kind = "guild members"
	KGuildMail    Kind = "guild mail"
	KSemaGet      Kind = "sema get"
	KSemaRelease  Kind = "sema release"
	KSemaWrite    Kind = "sema write"
	KSave         Kind = "save"
	KLoad         Kind = "load"
	KPing         Kind = "ping"
	KQuit         Kind = "quit"
	KWait         Kind = "wait"
	KSleep        Kind = "sleep"
)

// DefaultWaitTimeout is how long /wait waits when no timeout is given.
const DefaultWaitTimeout = 10 * time.Second

// Errors returned (wrapped) by ParseCommand.
var (
	// ErrUnknownCommand: the command word is not one ghclient knows.
	ErrUnknownCommand = errors.New("unknown command (try /help)")
	// ErrUsage: the command's arguments are missing or malformed; the
	// wrapping error carries the command's usage line.
	ErrUsage = errors.New("usage")
	// ErrEmpty: the line holds no command (blank or a '#' comment).
	ErrEmpty = errors.New("empty line")
)

// Command is one parsed line. Only the fields its Kind documents in
// usageOf are set.
type Command struct {
	Kind Kind
	// MayFail is set by a leading '-' ("-/enter x"): a failure of this
	// command does not fail a script.
	MayFail bool

	Stage    string // stage commands, /who
	Password string // /enter, /create, /move, /reserve
	Max      uint16 // /create: max players (0: channel default)
	Ready    bool   // /ready: the flag to set
	Prefix   string // /stages, /lobby, /players
	Name     string // player, guild or semaphore name
	ID       int64  // mail ID, guild ID (/guild apply, /guild accept)
	Text     string // chat text, save data, semaphore data
	Subject  string // mail subjects
	Body     string // mail bodies
	Global   bool   // /sema: cluster-wide
	Capacity uint16 // /sema get: capacity of a local semaphore (0: 1)

	Event   string        // /wait: event kind (see waitKind)
	Timeout time.Duration // /wait
	Match   string        // /wait: text the event line must contain
	Sleep   time.Duration // /sleep
}

// usageOf returns the usage line of a command, shown by /help and in usage errors.
func usageOf(k Kind) string {
	switch k {
	case KHelp:
		return "/help"
	case KChannels:
		return "/channels"
	case KEnter:
		return "/enter STAGE [password]"
	case KCreate:
		return "/create STAGE [max] [password]"
	case KMove:
		return "/move STAGE [password]"
	case KBack:
		return "/back"
	case KLeave:
		return "/leave"
	case KLock:
		return "/lock [STAGE]"
	case KUnlock:
		return "/unlock [STAGE]"
	case KReserve:
		return "/reserve STAGE [password]"
	case KUnreserve:
		return "/unreserve STAGE"
	case KReady:
		return "/ready [STAGE] [on|off]"
	case KWho:
		return "/who [STAGE]"
	case KStages:
		return "/stages [prefix]"
	case KLobby:
		return "/lobby [prefix]"
	case KPlayers:
		return "/players [prefix]"
	case KSay:
		return "/say TEXT (or plain text)"
	case KShout:
		return "/shout TEXT"
	case KWorld:
		return "/world TEXT"
	case KGuildChat:
		return "/g TEXT"
	case KWhisper:
		return "/w NAME TEXT"
	case KFind:
		return "/find NAME"
	case KMail:
		return "/mail NAME SUBJECT | BODY"
	case KInbox:
		return "/inbox"
	case KRead:
		return "/read ID"
	case KDelMail:
		return "/delmail ID"
	case KGuildCreate:
		return "/guild create NAME"
	case KGuildInvite:
		return "/guild invite NAME"
	case KGuildApply:
		return "/guild apply GUILD-ID"
	case KGuildAccept:
		return "/guild accept GUILD-ID|NAME"
	case KGuildLeave:
		return "/guild leave"
	case KGuildKick:
		return "/guild kick NAME"
	case KGuildMembers:
		return "/guild members"
	case KGuildMail:
		return "/guild mail SUBJECT | BODY"
	case KSemaGet:
		return "/sema get NAME [global] [capacity]"
	case KSemaRelease:
		return "/sema release NAME [global]"
	case KSemaWrite:
		return "/sema write NAME TEXT"
	case KSave:
		return "/save TEXT"
	case KLoad:
		return "/load"
	case KPing:
		return "/ping"
	case KQuit:
		return "/quit"
	case KWait:
		return "/wait EVENT [timeout] [text]"
	case KSleep:
		return "/sleep DURATION"
	}
	return "/" + string(k)
}

// helpOrder returns the commands in the order /help lists them.
func helpOrder() []Kind {
	return []Kind{
		KHelp, KChannels, KEnter, KCreate, KMove, KBack, KLeave, KLock, KUnlock,
		KReserve, KUnreserve, KReady, KWho, KStages, KLobby, KPlayers,
		KSay, KShout, KWorld, KGuildChat, KWhisper, KFind,
		KMail, KInbox, KRead, KDelMail,
		KGuildCreate, KGuildInvite, KGuildApply, KGuildAccept, KGuildLeave, KGuildKick,
		KGuildMembers, KGuildMail,
		KSemaGet, KSemaRelease, KSemaWrite, KSave, KLoad, KPing, KWait, KSleep, KQuit,
	}
}

// waitKind returns the canonical event kind for a word /wait accepts.
func waitKind(word string) (string, bool) {
	switch strings.ToLower(word) {
	case "cast", "join", "leave", "mail", "kicked", "notice", "guild", "error", "world", "stage", "channel", "whisper", "guildchat":
		return strings.ToLower(word), true
	case "say":
		return "stage", true
	case "shout":
		return "channel", true
	case "w":
		return "whisper", true
	case "g":
		return "guildchat", true
	}
	return "", false
}

// commandKind maps a word the user typed to a command kind. Words of
// commands with subcommands ("guild", "sema") are handled by ParseCommand.
func commandKind(word string) (Kind, bool) {
	switch word {
	case "help", "?", "h":
		return KHelp, true
	case "enter", "join":
		return KEnter, true
	case "say", "s":
		return KSay, true
	case "g", "gc":
		return KGuildChat, true
	case "w", "whisper", "tell", "msg":
		return KWhisper, true
	case "quit", "exit", "logout":
		return KQuit, true
	case "channels", "create", "move", "back", "leave", "lock", "unlock", "reserve",
		"unreserve", "ready", "who", "stages", "lobby", "players", "shout", "world",
		"find", "mail", "inbox", "read", "delmail", "save", "load", "ping", "wait", "sleep":
		return Kind(word), true
	}
	return "", false
}

func usage(k Kind) error { return fmt.Errorf("%w: %s", ErrUsage, usageOf(k)) }

// cut returns the first whitespace-separated word of s and the rest with
// leading whitespace removed (inner spacing of the rest is preserved).
func cut(s string) (word, rest string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

// splitPipe splits "SUBJECT | BODY" at the first '|'; both halves are trimmed.
func splitPipe(s string) (subject, body string) {
	subject, body, _ = strings.Cut(s, "|")
	return strings.TrimSpace(subject), strings.TrimSpace(body)
}

// ParseCommand parses one input line. A line not starting with '/' is a
// stage chat line (/say); "//text" says "/text". A leading '-' before the
// '/' sets MayFail. Blank lines and lines starting with '#' return ErrEmpty.
// Errors wrap ErrEmpty, ErrUnknownCommand or ErrUsage.
func ParseCommand(line string) (Command, error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return Command{}, ErrEmpty
	}
	var c Command
	if strings.HasPrefix(line, "-/") {
		c.MayFail = true
		line = line[1:]
	}
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		if strings.HasPrefix(line, "//") {
			line = line[1:]
		}
		c.Kind, c.Text = KSay, line
		return c, nil
	}
	word, rest := cut(line[1:])
	word = strings.ToLower(word)
	switch word {
	case "guild":
		sub, r := cut(rest)
		return parseGuild(c, strings.ToLower(sub), r)
	case "sema":
		sub, r := cut(rest)
		return parseSema(c, strings.ToLower(sub), r)
	}
	k, ok := commandKind(word)
	if !ok {
		return Command{}, fmt.Errorf("/%s: %w", word, ErrUnknownCommand)
	}
	c.Kind = k
	args := strings.Fields(rest)
	switch k {
	case KHelp, KChannels, KBack, KLeave, KInbox, KLoad, KPing, KQuit:
		if len(args) != 0 {
			return Command{}, usage(k)
		}
	case KEnter, KMove, KReserve:
		if len(args) < 1 || len(args) > 2 {
			return Command{}, usage(k)
		}
		c.Stage = args[0]
		if len(args) == 2 {
			c.Password = args[1]
		}
	case KCreate:
		if len(args) < 1 || len(args) > 3 {
			return Command{}, usage(k)
		}
		c.Stage = args[0]
		if len(args) >= 2 {
			n, err := strconv.ParseUint(args[1], 10, 16)
			if err != nil {
				return Command{}, fmt.Errorf("%w (max must be a number 0-65535)", usage(k))
			}
			c.Max = uint16(n)
		}
		if len(args) == 3 {
			c.Password = args[2]
		}
	case KUnreserve:
		if len(args) != 1 {
			return Command{}, usage(k)
		}
		c.Stage = args[0]
	case KLock, KUnlock, KWho:
		if len(args) > 1 {
			return Command{}, usage(k)
		}
		if len(args) == 1 {
			c.Stage = args[0]
		}
	case KReady:
		c.Ready = true
		if n := len(args); n > 0 {
			switch strings.ToLower(args[n-1]) {
			case "on":
				args = args[:n-1]
			case "off":
				c.Ready = false
				args = args[:n-1]
			}
		}
		if len(args) > 1 {
			return Command{}, usage(k)
		}
		if len(args) == 1 {
			c.Stage = args[0]
		}
	case KStages, KLobby, KPlayers:
		if len(args) > 1 {
			return Command{}, usage(k)
		}
		if len(args) == 1 {
			c.Prefix = args[0]
		}
	case KSay, KShout, KWorld, KGuildChat, KSave:
		if rest == "" {
			return Command{}, usage(k)
		}
		c.Text = rest
	case KWhisper:
		name, text := cut(rest)
		if name == "" || text == "" {
			return Command{}, usage(k)
		}
		c.Name, c.Text = name, text
	case KFind:
		if len(args) != 1 {
			return Command{}, usage(k)
		}
		c.Name = args[0]
	case KMail:
		name, r := cut(rest)
		c.Name = name
		c.Subject, c.Body = splitPipe(r)
		if c.Name == "" || c.Subject == "" {
			return Command{}, usage(k)
		}
	case KRead, KDelMail:
		if len(args) != 1 {
			return Command{}, usage(k)
		}
		id, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || id <= 0 {
			return Command{}, fmt.Errorf("%w (ID must be a positive number)", usage(k))
		}
		c.ID = id
	case KWait:
		return parseWait(c, rest)
	case KSleep:
		if len(args) != 1 {
			return Command{}, usage(k)
		}
		d, err := parseDuration(args[0])
		if err != nil {
			return Command{}, fmt.Errorf("%w (%v)", usage(k), err)
		}
		c.Sleep = d
	}
	return c, nil
}

// parseDuration accepts Go durations ("200ms", "5s") and bare seconds ("5").
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

func parseWait(c Command, rest string) (Command, error) {
	ev, r := cut(rest)
	kind, ok := waitKind(ev)
	if !ok {
		return Command{}, fmt.Errorf("%w (events: cast say shout world whisper g join leave mail kicked notice guild error)", usage(KWait))
	}
	c.Event, c.Timeout = kind, DefaultWaitTimeout
	if r != "" {
		word, more := cut(r)
		if d, err := parseDuration(word); err == nil {
			c.Timeout, r = d, more
		}
	}
	c.Match = r
	return c, nil
}

func parseGuild(c Command, sub, rest string) (Command, error) {
	args := strings.Fields(rest)
	switch sub {
	case "create":
		c.Kind = KGuildCreate
		if rest == "" {
			return Command{}, usage(c.Kind)
		}
		c.Name = rest
	case "invite", "kick":
		c.Kind = KGuildInvite
		if sub == "kick" {
			c.Kind = KGuildKick
		}
		if len(args) != 1 {
			return Command{}, usage(c.Kind)
		}
		c.Name = args[0]
	case "apply":
		c.Kind = KGuildApply
		if len(args) != 1 {
			return Command{}, usage(c.Kind)
		}
		id, err := strconv.ParseUint(args[0], 10, 32)
		if err != nil || id == 0 {
			return Command{}, fmt.Errorf("%w (GUILD-ID must be a positive number)", usage(c.Kind))
		}
		c.ID = int64(id)
	case "accept":
		c.Kind = KGuildAccept
		if len(args) != 1 {
			return Command{}, usage(c.Kind)
		}
		if id, err := strconv.ParseUint(args[0], 10, 32); err == nil && id > 0 {
			c.ID = int64(id)
		} else {
			c.Name = args[0]
		}
	case "leave", "members":
		c.Kind = KGuildLeave
		if sub == "members" {
			c.Kind = KGuildMembers
		}
		if len(args) != 0 {
			return Command{}, usage(c.Kind)
		}
	case "mail":
		c.Kind = KGuildMail
		c.Subject, c.Body = splitPipe(rest)
		if c.Subject == "" {
			return Command{}, usage(c.Kind)
		}
	default:
		return Command{}, fmt.Errorf("%w: /guild create|invite|apply|accept|leave|kick|members|mail", ErrUsage)
	}
	return c, nil
}

func parseSema(c Command, sub, rest string) (Command, error) {
	switch sub {
	case "get", "acquire", "release":
		c.Kind = KSemaGet
		if sub == "release" {
			c.Kind = KSemaRelease
		}
		args := strings.Fields(rest)
		if len(args) < 1 {
			return Command{}, usage(c.Kind)
		}
		c.Name = args[0]
		for _, a := range args[1:] {
			if strings.EqualFold(a, "global") {
				c.Global = true
				continue
			}
			n, err := strconv.ParseUint(a, 10, 16)
			if c.Kind != KSemaGet || err != nil {
				return Command{}, usage(c.Kind)
			}
			c.Capacity = uint16(n)
		}
		if c.Global && c.Capacity > 1 {
			return Command{}, fmt.Errorf("%w (a global semaphore has capacity 1)", usage(c.Kind))
		}
	case "write":
		c.Kind = KSemaWrite
		name, text := cut(rest)
		if name == "" {
			return Command{}, usage(c.Kind)
		}
		c.Name, c.Text = name, text
	default:
		return Command{}, fmt.Errorf("%w: /sema get|release|write NAME ...", ErrUsage)
	}
	return c, nil
}
