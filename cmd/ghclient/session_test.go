package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// guard bounds how long a test may block; it is never a measured duration.
const guard = 10 * time.Second

// fakeRemote answers requests with handle and lets the test push events.
type fakeRemote struct {
	welcome wire.Welcome
	handle  func(wire.Message) (wire.Message, error)
	events  chan wire.Message
	done    chan struct{}
	seen    chan wire.Message // every request, in order

	mu        sync.Mutex
	err       error
	closeOnce sync.Once
}

func newFake(handle func(wire.Message) (wire.Message, error)) *fakeRemote {
	return &fakeRemote{
		welcome: wire.Welcome{CharID: 1, Name: "Alice", ChannelID: 1},
		handle:  handle,
		events:  make(chan wire.Message, 64),
		done:    make(chan struct{}),
		seen:    make(chan wire.Message, 256),
	}
}

func (f *fakeRemote) Request(ctx context.Context, m wire.Message) (wire.Message, error) {
	select {
	case <-f.done:
		return nil, f.Err()
	default:
	}
	f.seen <- m
	return f.handle(m)
}
func (f *fakeRemote) Logout(ctx context.Context) error {
	_, err := f.Request(ctx, &wire.Logout{})
	f.end(client.ErrClosed)
	return err
}
func (f *fakeRemote) Welcome() wire.Welcome       { return f.welcome }
func (f *fakeRemote) Events() <-chan wire.Message { return f.events }
func (f *fakeRemote) Done() <-chan struct{}       { return f.done }
func (f *fakeRemote) Err() error                  { f.mu.Lock(); defer f.mu.Unlock(); return f.err }
func (f *fakeRemote) Close() error                { f.end(client.ErrClosed); return nil }
func (f *fakeRemote) push(m wire.Message)         { f.events <- m }
func (f *fakeRemote) end(err error) {
	f.closeOnce.Do(func() {
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
		close(f.done)
		close(f.events)
	})
}

// syncBuffer is a bytes.Buffer safe for the session's printer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}
func (b *syncBuffer) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Split(strings.TrimSuffix(b.b.String(), "\n"), "\n")
}

// server is a tiny scripted server for the fake: enough answers for the
// session tests.
func server(m wire.Message) (wire.Message, error) {
	switch r := m.(type) {
	case *wire.StageEnter:
		if r.StageID == "full" {
			return nil, &wire.Error{Code: wire.CodeStageFull}
		}
		return &wire.StageInfo{StageID: r.StageID, MaxPlayers: 16, Members: []wire.Member{{CharID: 1, Name: "Alice"}, {CharID: 9, Name: "Dave"}}}, nil
	case *wire.StageLeave, *wire.StageLock, *wire.Logout, *wire.StageReserve, *wire.StageReady:
		return &wire.OK{}, nil
	case *wire.FindPlayer:
		if r.Name == "Carol" {
			return &wire.PlayerInfo{Found: true, Player: wire.PlayerLoc{CharID: 3, Name: "Carol", ChannelID: 2}}, nil
		}
		return &wire.PlayerInfo{}, nil
	case *wire.Cast:
		return &wire.OK{ID: uint64(len(r.Targets))}, nil
	case *wire.MailSend:
		return &wire.OK{ID: 5}, nil
	case *wire.SemaAcquire:
		return nil, &wire.Error{Code: wire.CodeSemaHeld, Message: "held by character 7", Channel: 2, Addr: "127.0.0.1:54002"}
	case *wire.Ping:
		return &wire.Pong{ClientTime: r.ClientTime}, nil
	case *wire.GuildMembers:
		return &wire.GuildInfo{GuildID: 3, Name: "Owls", LeaderID: 1, Members: []wire.Member{{CharID: 1, Name: "Alice"}, {CharID: 4, Name: "Eve"}}}, nil
	case *wire.GuildKick:
		if r.CharID != 4 {
			return nil, &wire.Error{Code: wire.CodeNotFound}
		}
		return &wire.OK{}, nil
	}
	return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "fake: " + m.Type().String()}
}

func runScript(t *testing.T, f *fakeRemote, script string, keepGoing bool) ([]string, error) {
	t.Helper()
	out := &syncBuffer{}
	s := NewSession(f, out, nil, guard)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	err := RunScript(ctx, s, strings.NewReader(script), keepGoing)
	s.Close()
	return out.Lines(), err
}

func requests(f *fakeRemote) []wire.Message {
	var ms []wire.Message
	for {
		select {
		case m := <-f.seen:
			ms = append(ms, m)
		default:
			return ms
		}
	}
}

func TestScriptRunsCommandsInOrder(t *testing.T) {
	f := newFake(server)
	lines, err := runScript(t, f, `
# enter and talk
/enter town1
hello there
/w Carol psst
/mail Bob lunch? | at noon
-/sema get raid1 global
/guild kick Eve
/leave
`, false)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"ok entered town1 (2 players)",
		"ok sent to stage",
		"ok whispered Carol",
		"ok mail sent (id 5)",
		"error: semaphore held by character 7 on channel 2 (127.0.0.1:54002)",
		"ok kicked Eve from the guild",
		"ok left town1",
		"ok bye",
	}, lines)

	reqs := requests(f)
	require.Len(t, reqs, 10)
	assert.Equal(t, &wire.StageEnter{StageID: "town1"}, reqs[0])
	assert.Equal(t, &wire.Cast{Scope: wire.ScopeStage, Payload: []byte("hello there")}, reqs[1])
	assert.Equal(t, &wire.FindPlayer{Name: "Carol"}, reqs[2])
	assert.Equal(t, &wire.Cast{Scope: wire.ScopeTargets, Targets: []uint32{3}, Payload: []byte("psst")}, reqs[3])
	assert.Equal(t, &wire.MailSend{ToName: "Bob", Subject: "lunch?", Body: "at noon"}, reqs[4])
	assert.Equal(t, &wire.SemaAcquire{Name: "raid1", Global: true}, reqs[5])
	assert.Equal(t, &wire.GuildMembers{}, reqs[6])
	assert.Equal(t, &wire.GuildKick{CharID: 4}, reqs[7])
	assert.Equal(t, &wire.StageLeave{}, reqs[8])
	assert.Equal(t, &wire.Logout{}, reqs[9])
}

func TestScriptStopsAtFirstFailure(t *testing.T) {
	f := newFake(server)
	lines, err := runScript(t, f, "/enter full\n/enter town1\n", false)
	require.ErrorIs(t, err, ErrScriptFailed)
	var we *wire.Error
	require.ErrorAs(t, err, &we)
	assert.Equal(t, wire.CodeStageFull, we.Code)
	assert.Equal(t, []string{"error: stage full", "ok bye"}, lines)
}

func TestScriptKeepGoing(t *testing.T) {
	f := newFake(server)
	lines, err := runScript(t, f, "/bogus\n/w Nobody hi\n/enter town1\n", true)
	require.ErrorIs(t, err, ErrScriptFailed)
	assert.Equal(t, []string{
		"error: line 1: /bogus: unknown command (try /help)",
		"error: Nobody is not online",
		"ok entered town1 (2 players)",
		"ok bye",
	}, lines)
}

func TestScriptQuitStops(t *testing.T) {
	f := newFake(server)
	lines, err := runScript(t, f, "/quit\n/enter town1\n", false)
	require.NoError(t, err)
	assert.Equal(t, []string{"ok bye"}, lines)
	assert.Len(t, requests(f), 1)
}

func TestWaitMatchesEarlierEvent(t *testing.T) {
	f := newFake(server)
	f.push(&wire.StageJoined{StageID: "town1", CharID: 2, Name: "Bob"})
	f.push(&wire.CastMsg{Scope: wire.ScopeStage, SenderID: 2, SenderName: "Bob", Payload: []byte("hi")})
	lines, err := runScript(t, f, "/wait join 10s Bob\n/wait cast 10s\n", false)
	require.NoError(t, err)
	assert.Contains(t, lines, "ok wait join")
	assert.Contains(t, lines, "ok wait cast")
	assert.Contains(t, lines, "* Bob entered town1")
	assert.Contains(t, lines, "[stage] Bob: hi")
}

func TestWaitForLaterEvent(t *testing.T) {
	f := newFake(server)
	go func() {
		// Push once the script has sent its ping, i.e. while it waits.
		for m := range f.seen {
			if _, ok := m.(*wire.Ping); ok {
				f.push(&wire.MailNotify{MailID: 8, FromName: "Bob", Subject: "later"})
				f.push(&wire.StageLeft{StageID: "town1", CharID: 9})
				return
			}
		}
	}()
	lines, err := runScript(t, f, "/enter town1\n/ping\n/wait mail 10s later\n/wait leave 10s Dave\n", false)
	require.NoError(t, err)
	assert.Contains(t, lines, "* you have mail from Bob: later")
	assert.Contains(t, lines, "* Dave left town1", "name learnt from the enter answer")
	assert.Equal(t, "ok bye", lines[len(lines)-1])
}

func TestWaitConsumesEachEventOnce(t *testing.T) {
	f := newFake(server)
	f.push(&wire.CastMsg{Scope: wire.ScopeWorld, SenderID: 2, SenderName: "Bob", Payload: []byte("one")})
	lines, err := runScript(t, f, "/wait world 10s\n/wait world 1ms\n", false)
	require.ErrorIs(t, err, ErrWaitTimeout)
	assert.Contains(t, lines, "ok wait world")
	assert.Contains(t, lines, "error: timed out waiting for world after 1ms")
}

func TestWaitFailsWhenConnectionEnds(t *testing.T) {
	f := newFake(server)
	f.push(&wire.Kicked{Reason: "duplicate login"})
	f.end(&client.KickedError{Reason: "duplicate login"})
	lines, err := runScript(t, f, "/wait cast 10s\n", false)
	require.ErrorIs(t, err, ErrEnded)
	assert.Contains(t, lines, "* kicked: duplicate login")
	assert.Contains(t, lines, "* disconnected: kicked: duplicate login")
	assert.Contains(t, lines, "error: waiting for cast: connection ended")
}

func TestStageCommandsNeedAStage(t *testing.T) {
	f := newFake(server)
	lines, err := runScript(t, f, "-/lock\n-/who\n/enter town1\n/lock\n", false)
	require.NoError(t, err)
	assert.Equal(t, []string{
		"error: not in a stage (give STAGE)",
		"error: not in a stage (give STAGE)",
		"ok entered town1 (2 players)",
		"ok locked town1",
		"ok bye",
	}, lines)
}

func TestPrompt(t *testing.T) {
	f := newFake(server)
	s := NewSession(f, io.Discard, nil, guard)
	defer s.Close()
	assert.Equal(t, "Alice@ch1> ", s.Prompt())
	_, err := s.Do(context.Background(), Command{Kind: KEnter, Stage: "town1"})
	require.NoError(t, err)
	assert.Equal(t, "Alice@ch1/town1> ", s.Prompt())
}

func TestUnexpectedAnswerIsAnError(t *testing.T) {
	f := newFake(func(wire.Message) (wire.Message, error) { return &wire.OK{}, nil })
	s := NewSession(f, io.Discard, nil, guard)
	defer s.Close()
	_, err := s.Do(context.Background(), Command{Kind: KEnter, Stage: "town1"})
	require.ErrorIs(t, err, client.ErrUnexpected)
	assert.True(t, errors.Is(err, client.ErrUnexpected))
}

func TestPickChannel(t *testing.T) {
	chs := []client.ChannelInfo{
		{ID: 1, Players: 10, MaxPlayers: 100, Enabled: true},
		{ID: 2, Players: 3, MaxPlayers: 100, Enabled: false},
		{ID: 3, Players: 5, MaxPlayers: 5, Enabled: true},
		{ID: 4, Players: 7, MaxPlayers: 100, Enabled: true},
		{ID: 5, Players: 7, MaxPlayers: 100, Enabled: true},
	}
	ch, err := pickChannel(chs, 0)
	require.NoError(t, err)
	assert.Equal(t, uint16(4), ch.ID, "fewest players among enabled channels with room, lowest ID on ties")

	ch, err = pickChannel(chs, 3)
	require.NoError(t, err)
	assert.Equal(t, uint16(3), ch.ID, "an explicit channel is used even when it looks full")

	_, err = pickChannel(chs, 2)
	assert.ErrorIs(t, err, ErrNoChannel)
	_, err = pickChannel(chs, 9)
	assert.ErrorIs(t, err, ErrNoChannel)
	_, err = pickChannel(nil, 0)
	assert.ErrorIs(t, err, ErrNoChannel)
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-user", "alice", "-channel", "2", "-signup", "Alice"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8080", cfg.httpBase)
	assert.Equal(t, "alice", cfg.user)
	assert.Equal(t, 2, cfg.channel)
	assert.Equal(t, "Alice", cfg.signup)

	for _, args := range [][]string{
		{},
		{"-user", "a", "-channel", "70000"},
		{"-user", "a", "extra"},
		{"-user", "a", "-timeout", "0s"},
		{"-nope"},
	} {
		_, err := parseFlags(args, io.Discard)
		assert.Error(t, err, "%q", args)
	}
}
