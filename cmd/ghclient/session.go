package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/wire"
)

// Limits of the session.
const (
	// maxBacklog bounds the events kept for /wait; the oldest go first.
	maxBacklog = 4096
	// listMax is how many entries list commands ask the server for.
	listMax = 200
)

// Errors of commands that fail on the client side.
var (
	// ErrNoStage: the command needs a stage and none was given or entered.
	ErrNoStage = errors.New("not in a stage (give STAGE)")
	// ErrWaitTimeout: /wait saw no matching event in time.
	ErrWaitTimeout = errors.New("timed out")
	// ErrEnded: the connection ended.
	ErrEnded = errors.New("connection ended")
	// ErrOffline: the named character is not online.
	ErrOffline = errors.New("is not online")
)

// remote is the part of *client.Conn a Session uses.
type remote interface {
	Request(ctx context.Context, m wire.Message) (wire.Message, error)
	// Logout logs out and closes the connection; its end is then not
	// reported as a disconnection.
	Logout(ctx context.Context) error
	Welcome() wire.Welcome
	Events() <-chan wire.Message
	Done() <-chan struct{}
	Err() error
	Close() error
}

// printer writes whole lines to w, one writer at a time.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) println(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	io.WriteString(p.w, s+"\n") //nolint:errcheck // nothing useful to do if stdout fails
}

// seen is an event kept for /wait.
type seen struct {
	kinds []string
	line  string
}

// Session runs commands on one connection and prints its events as they
// arrive. Its methods are safe for concurrent use, but commands are meant
// to run one at a time (Do waits for the answer).
type Session struct {
	rem      remote
	out      *printer
	channels []client.ChannelInfo
	timeout  time.Duration

	mu       sync.Mutex
	stage    string            // current stage ("" when none)
	reserved string            // last stage reserved
	names    map[uint32]string // character names seen
	backlog  []seen            // events not yet matched by /wait
	changed  chan struct{}     // closed and replaced when backlog or ended changes
	ended    bool              // the event stream ended

	pumpDone chan struct{}
}

// NewSession starts printing rem's events to out and returns the session.
// channels is the sign-in channel list (for /channels); timeout bounds each
// request. Close must be called to stop it.
func NewSession(rem remote, out io.Writer, channels []client.ChannelInfo, timeout time.Duration) *Session {
	s := &Session{
		rem:      rem,
		out:      &printer{w: out},
		channels: channels,
		timeout:  timeout,
		names:    make(map[uint32]string),
		changed:  make(chan struct{}),
		pumpDone: make(chan struct{}),
	}
	w := rem.Welcome()
	s.names[w.CharID] = w.Name
	go s.pump()
	return s
}

// Ended returns a channel closed once every event has been printed after
// the connection ended.
func (s *Session) Ended() <-chan struct{} { return s.pumpDone }

// Close closes the connection and waits until its last event is printed.
func (s *Session) Close() {
	s.rem.Close() //nolint:errcheck // Close always returns nil
	<-s.pumpDone
}

// Prompt returns "name@chN/stage> ".
func (s *Session) Prompt() string {
	w := s.rem.Welcome()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := fmt.Sprintf("%s@ch%d", w.Name, w.ChannelID)
	if s.stage != "" {
		p += "/" + s.stage
	}
	return p + "> "
}

// Println prints a line between events.
func (s *Session) Println(line string) { s.out.println(line) }

func (s *Session) pump() {
	defer close(s.pumpDone)
	for m := range s.rem.Events() {
		s.mu.Lock()
		switch e := m.(type) {
		case *wire.StageJoined:
			s.names[e.CharID] = e.Name
		case *wire.CastMsg:
			if e.SenderName != "" {
				s.names[e.SenderID] = e.SenderName
			}
		}
		line := FormatEvent(m, s.nameLocked)
		if kinds := eventKinds(m); kinds != nil {
			if len(s.backlog) == maxBacklog {
				s.backlog = append(s.backlog[:0], s.backlog[1:]...)
			}
			s.backlog = append(s.backlog, seen{kinds: kinds, line: line})
			s.signalLocked()
		}
		s.mu.Unlock()
		s.out.println(line)
	}
	if err := s.rem.Err(); err != nil && !errors.Is(err, client.ErrClosed) {
		s.out.println("* disconnected: " + FormatError(err))
	}
	s.mu.Lock()
	s.ended = true
	s.signalLocked()
	s.mu.Unlock()
}

func (s *Session) nameLocked(id uint32) string { return s.names[id] }

func (s *Session) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait waits for the oldest unmatched event of kind whose line contains
// match, including events that arrived before the call, and consumes it.
func (s *Session) wait(ctx context.Context, kind, match string, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		for i, e := range s.backlog {
			if hasKind(e.kinds, kind) && strings.Contains(e.line, match) {
				s.backlog = append(s.backlog[:i], s.backlog[i+1:]...)
				s.mu.Unlock()
				return nil
			}
		}
		ended, changed := s.ended, s.changed
		s.mu.Unlock()
		if ended {
			return fmt.Errorf("waiting for %s: %w", kind, ErrEnded)
		}
		select {
		case <-changed:
		case <-timer.C:
			return fmt.Errorf("%w waiting for %s after %s", ErrWaitTimeout, kind, timeout)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", kind, ctx.Err())
		}
	}
}

func hasKind(kinds []string, k string) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Do runs one command, prints its result lines and its final "ok ..." or
// "error: ..." line, and returns the command's error. quit reports that the
// session logged out.
func (s *Session) Do(ctx context.Context, c Command) (quit bool, err error) {
	lines, err := s.exec(ctx, c)
	for _, l := range lines {
		s.out.println(l)
	}
	if err != nil {
		s.out.println("error: " + FormatError(err))
	}
	return c.Kind == KQuit && err == nil, err
}

// ask sends m and returns the answer as a T.
func ask[T wire.Message](ctx context.Context, s *Session, m wire.Message) (T, error) {
	var zero T
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	r, err := s.rem.Request(ctx, m)
	if err != nil {
		return zero, err
	}
	t, ok := r.(T)
	if !ok {
		return zero, fmt.Errorf("%w: %s answered with %s", client.ErrUnexpected, m.Type(), r.Type())
	}
	return t, nil
}

func (s *Session) setStage(si *wire.StageInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stage = si.StageID
	s.learnLocked(si.Members)
	s.learnLocked(si.Reservations)
}

func (s *Session) learnLocked(ms []wire.Member) {
	for _, m := range ms {
		if m.Name != "" {
			s.names[m.CharID] = m.Name
		}
	}
}

func (s *Session) current() (stage, reserved string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stage, s.reserved
}

// stageOr returns stage, or the current stage when it is empty.
func (s *Session) stageOr(stage string) (string, error) {
	if stage != "" {
		return stage, nil
	}
	cur, _ := s.current()
	if cur == "" {
		return "", ErrNoStage
	}
	return cur, nil
}

// charID resolves a player reference: "#N" is character N, anything else
// a name looked up among online players.
func (s *Session) charID(ctx context.Context, ref string) (uint32, string, error) {
	if n, ok := strings.CutPrefix(ref, "#"); ok {
		id, err := strconv.ParseUint(n, 10, 32)
		if err != nil || id == 0 {
			return 0, "", fmt.Errorf("bad character reference %q (want NAME or #ID)", ref)
		}
		return uint32(id), ref, nil
	}
	pi, err := ask[*wire.PlayerInfo](ctx, s, &wire.FindPlayer{Name: ref})
	if err != nil {
		return 0, "", err
	}
	if !pi.Found {
		return 0, "", fmt.Errorf("%s %w", ref, ErrOffline)
	}
	return pi.Player.CharID, who(pi.Player.CharID, pi.Player.Name), nil
}

func (s *Session) cast(ctx context.Context, scope uint8, targets []uint32, text string) (uint64, error) {
	ok, err := ask[*wire.OK](ctx, s, &wire.Cast{Scope: scope, Targets: targets, Payload: []byte(text)})
	if err != nil {
		return 0, err
	}
	return ok.ID, nil
}

func okf(format string, args ...any) []string { return []string{"ok " + fmt.Sprintf(format, args...)} }

func (s *Session) exec(ctx context.Context, c Command) ([]string, error) {
	switch c.Kind {
	case KHelp:
		return append(helpLines(), "ok help"), nil
	case KChannels:
		var lines []string
		cur := s.rem.Welcome().ChannelID
		for _, ch := range s.channels {
			lines = append(lines, formatChannel(ch, cur))
		}
		return append(lines, fmt.Sprintf("ok %d channels", len(s.channels))), nil
	case KEnter, KMove:
		var m wire.Message = &wire.StageEnter{StageID: c.Stage, Password: c.Password}
		verb := "entered"
		if c.Kind == KMove {
			m, verb = &wire.StageMove{StageID: c.Stage, Password: c.Password}, "moved to"
		}
		si, err := ask[*wire.StageInfo](ctx, s, m)
		if err != nil {
			return nil, err
		}
		s.setStage(si)
		return okf("%s %s (%s)", verb, si.StageID, players(len(si.Members))), nil
	case KBack:
		si, err := ask[*wire.StageInfo](ctx, s, &wire.StageBack{})
		if err != nil {
			return nil, err
		}
		s.setStage(si)
		return okf("back in %s (%s)", si.StageID, players(len(si.Members))), nil
	case KCreate:
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		r, err := s.rem.Request(ctx, &wire.StageCreate{StageID: c.Stage, MaxPlayers: c.Max, Password: c.Password})
		if err != nil {
			return nil, err
		}
		if si, ok := r.(*wire.StageInfo); ok {
			s.setStage(si)
			return okf("created and entered %s", si.StageID), nil
		}
		return okf("created %s", c.Stage), nil
	case KLeave:
		cur, _ := s.current()
		if _, err := ask[*wire.OK](ctx, s, &wire.StageLeave{}); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.stage = ""
		s.mu.Unlock()
		if cur == "" {
			return okf("left the stage"), nil
		}
		return okf("left %s", cur), nil
	case KLock, KUnlock:
		stage, err := s.stageOr(c.Stage)
		if err != nil {
			return nil, err
		}
		if _, err := ask[*wire.OK](ctx, s, &wire.StageLock{StageID: stage, Locked: c.Kind == KLock}); err != nil {
			return nil, err
		}
		return okf("%sed %s", c.Kind, stage), nil
	case KReserve:
		if _, err := ask[*wire.OK](ctx, s, &wire.StageReserve{StageID: c.Stage, Password: c.Password}); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.reserved = c.Stage
		s.mu.Unlock()
		return okf("reserved %s", c.Stage), nil
	case KUnreserve:
		if _, err := ask[*wire.OK](ctx, s, &wire.StageUnreserve{StageID: c.Stage}); err != nil {
			return nil, err
		}
		s.mu.Lock()
		if s.reserved == c.Stage {
			s.reserved = ""
		}
		s.mu.Unlock()
		return okf("unreserved %s", c.Stage), nil
	case KReady:
		stage := c.Stage
		if stage == "" {
			cur, res := s.current()
			stage = res
			if stage == "" {
				stage = cur
			}
			if stage == "" {
				return nil, ErrNoStage
			}
		}
		if _, err := ask[*wire.OK](ctx, s, &wire.StageReady{StageID: stage, Ready: c.Ready}); err != nil {
			return nil, err
		}
		if c.Ready {
			return okf("ready in %s", stage), nil
		}
		return okf("not ready in %s", stage), nil
	case KWho:
		stage, err := s.stageOr(c.Stage)
		if err != nil {
			return nil, err
		}
		si, err := ask[*wire.StageInfo](ctx, s, &wire.StageClients{StageID: stage})
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.learnLocked(si.Members)
		s.mu.Unlock()
		return []string{"ok " + formatStage(si)}, nil
	case KStages, KLobby:
		r, err := ask[*wire.StageListResp](ctx, s, &wire.StageList{Prefix: c.Prefix, Max: listMax, Cluster: c.Kind == KLobby})
		if err != nil {
			return nil, err
		}
		lines := make([]string, 0, len(r.Stages)+1)
		for _, st := range r.Stages {
			lines = append(lines, formatStageEntry(st))
		}
		return append(lines, fmt.Sprintf("ok %d stages", len(r.Stages))), nil
	case KPlayers:
		r, err := ask[*wire.PlayerList](ctx, s, &wire.SearchPlayers{NamePrefix: c.Prefix, Max: listMax})
		if err != nil {
			return nil, err
		}
		lines := make([]string, 0, len(r.Players)+1)
		for _, p := range r.Players {
			lines = append(lines, "player "+formatPlayer(p))
		}
		return append(lines, "ok "+players(len(r.Players))), nil
	case KSay, KShout, KWorld, KGuildChat:
		scope := map[Kind]uint8{KSay: wire.ScopeStage, KShout: wire.ScopeChannel, KWorld: wire.ScopeWorld, KGuildChat: wire.ScopeGuild}[c.Kind]
		if _, err := s.cast(ctx, scope, nil, c.Text); err != nil {
			return nil, err
		}
		return okf("sent to %s", scopeName(scope)), nil
	case KWhisper:
		id, name, err := s.charID(ctx, c.Name)
		if err != nil {
			return nil, err
		}
		n, err := s.cast(ctx, wire.ScopeTargets, []uint32{id}, c.Text)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("%s %w", name, ErrOffline)
		}
		return okf("whispered %s", name), nil
	case KFind:
		var m wire.FindPlayer
		if n, ok := strings.CutPrefix(c.Name, "#"); ok {
			id, err := strconv.ParseUint(n, 10, 32)
			if err != nil || id == 0 {
				return nil, fmt.Errorf("bad character reference %q (want NAME or #ID)", c.Name)
			}
			m.CharID = uint32(id)
		} else {
			m.Name = c.Name
		}
		pi, err := ask[*wire.PlayerInfo](ctx, s, &m)
		if err != nil {
			return nil, err
		}
		if !pi.Found {
			return okf("%s %s", c.Name, ErrOffline), nil
		}
		return []string{"ok " + formatPlayer(pi.Player)}, nil
	case KMail:
		m := &wire.MailSend{ToName: c.Name, Subject: c.Subject, Body: c.Body}
		if n, ok := strings.CutPrefix(c.Name, "#"); ok {
			id, err := strconv.ParseUint(n, 10, 32)
			if err != nil || id == 0 {
				return nil, fmt.Errorf("bad character reference %q (want NAME or #ID)", c.Name)
			}
			m.ToID, m.ToName = uint32(id), ""
		}
		r, err := ask[*wire.OK](ctx, s, m)
		if err != nil {
			return nil, err
		}
		return okf("mail sent (id %d)", r.ID), nil
	case KInbox:
		r, err := ask[*wire.MailListResp](ctx, s, &wire.MailList{})
		if err != nil {
			return nil, err
		}
		lines := make([]string, 0, len(r.Mail)+1)
		unread := 0
		for _, h := range r.Mail {
			lines = append(lines, formatMailHeader(h))
			if !h.Read {
				unread++
			}
		}
		return append(lines, fmt.Sprintf("ok %d mails (%d unread)", len(r.Mail), unread)), nil
	case KRead:
		r, err := ask[*wire.MailBody](ctx, s, &wire.MailRead{ID: c.ID})
		if err != nil {
			return nil, err
		}
		r.Header.Read = true
		lines := []string{formatMailHeader(r.Header)}
		for _, l := range strings.Split(r.Body, "\n") {
			lines = append(lines, "  "+l)
		}
		return append(lines, fmt.Sprintf("ok read mail %d", r.Header.ID)), nil
	case KDelMail:
		if _, err := ask[*wire.OK](ctx, s, &wire.MailDelete{ID: c.ID}); err != nil {
			return nil, err
		}
		return okf("deleted mail %d", c.ID), nil
	case KGuildCreate:
		r, err := ask[*wire.OK](ctx, s, &wire.GuildCreate{Name: c.Name})
		if err != nil {
			return nil, err
		}
		return okf("created guild %s (id %d)", c.Name, r.ID), nil
	case KGuildInvite:
		id, name, err := s.charID(ctx, c.Name)
		if err != nil {
			return nil, err
		}
		if _, err := ask[*wire.OK](ctx, s, &wire.GuildInvite{CharID: id}); err != nil {
			return nil, err
		}
		return okf("invited %s to the guild", name), nil
	case KGuildApply:
		if _, err := ask[*wire.OK](ctx, s, &wire.GuildApply{GuildID: uint32(c.ID)}); err != nil {
			return nil, err
		}
		return okf("applied to guild %d", c.ID), nil
	case KGuildAccept:
		if c.ID != 0 {
			if _, err := ask[*wire.OK](ctx, s, &wire.GuildAccept{GuildID: uint32(c.ID)}); err != nil {
				return nil, err
			}
			return okf("joined guild %d", c.ID), nil
		}
		id, name, err := s.charID(ctx, c.Name)
		if err != nil {
			return nil, err
		}
		if _, err := ask[*wire.OK](ctx, s, &wire.GuildAccept{CharID: id}); err != nil {
			return nil, err
		}
		return okf("accepted %s into the guild", name), nil
	case KGuildLeave:
		if _, err := ask[*wire.OK](ctx, s, &wire.GuildLeave{}); err != nil {
			return nil, err
		}
		return okf("left the guild"), nil
	case KGuildKick:
		id, name, err := s.memberID(ctx, c.Name)
		if err != nil {
			return nil, err
		}
		if _, err := ask[*wire.OK](ctx, s, &wire.GuildKick{CharID: id}); err != nil {
			return nil, err
		}
		return okf("kicked %s from the guild", name), nil
	case KGuildMembers:
		g, err := ask[*wire.GuildInfo](ctx, s, &wire.GuildMembers{})
		if err != nil {
			return nil, err
		}
		return []string{"ok " + formatGuild(g)}, nil
	case KGuildMail:
		r, err := ask[*wire.OK](ctx, s, &wire.GuildMail{Subject: c.Subject, Body: c.Body})
		if err != nil {
			return nil, err
		}
		return okf("guild mail sent to %d members", r.ID), nil
	case KSemaGet:
		r, err := ask[*wire.OK](ctx, s, &wire.SemaAcquire{Name: c.Name, Global: c.Global, Capacity: c.Capacity})
		if err != nil {
			return nil, err
		}
		if c.Global {
			return okf("semaphore %s acquired (token %d)", c.Name, r.ID), nil
		}
		return okf("semaphore %s acquired", c.Name), nil
	case KSemaRelease:
		if _, err := ask[*wire.OK](ctx, s, &wire.SemaRelease{Name: c.Name, Global: c.Global}); err != nil {
			return nil, err
		}
		return okf("semaphore %s released", c.Name), nil
	case KSemaWrite:
		if _, err := ask[*wire.OK](ctx, s, &wire.SemaWrite{Name: c.Name, Data: []byte(c.Text)}); err != nil {
			return nil, err
		}
		return okf("semaphore %s written (%d bytes)", c.Name, len(c.Text)), nil
	case KSave:
		if _, err := ask[*wire.OK](ctx, s, &wire.SaveData{Data: []byte(c.Text)}); err != nil {
			return nil, err
		}
		return okf("saved %d bytes", len(c.Text)), nil
	case KLoad:
		d, err := ask[*wire.CharData](ctx, s, &wire.LoadData{})
		if err != nil {
			return nil, err
		}
		play := time.Duration(d.Playtime) * time.Second
		if len(d.Data) == 0 {
			return okf("no data (playtime %s)", play), nil
		}
		return okf("data: %s (%d bytes, playtime %s)", text(d.Data), len(d.Data), play), nil
	case KPing:
		start := time.Now()
		if _, err := ask[*wire.Pong](ctx, s, &wire.Ping{ClientTime: start.UnixNano()}); err != nil {
			return nil, err
		}
		return okf("pong in %s", time.Since(start).Round(10*time.Microsecond)), nil
	case KQuit:
		ctx, cancel := context.WithTimeout(ctx, s.timeout)
		defer cancel()
		if err := s.rem.Logout(ctx); err != nil {
			return nil, err
		}
		return okf("bye"), nil
	case KWait:
		if err := s.wait(ctx, c.Event, c.Match, c.Timeout); err != nil {
			return nil, err
		}
		return okf("wait %s", c.Event), nil
	case KSleep:
		t := time.NewTimer(c.Sleep)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return okf("slept %s", c.Sleep), nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownCommand, c.Kind)
}

// memberID resolves a guild member by name (online or not) from the guild
// list, falling back to charID for "#N" and online players.
func (s *Session) memberID(ctx context.Context, ref string) (uint32, string, error) {
	if !strings.HasPrefix(ref, "#") {
		g, err := ask[*wire.GuildInfo](ctx, s, &wire.GuildMembers{})
		if err != nil {
			return 0, "", err
		}
		for _, m := range g.Members {
			if strings.EqualFold(m.Name, ref) {
				return m.CharID, m.Name, nil
			}
		}
	}
	return s.charID(ctx, ref)
}
