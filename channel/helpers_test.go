package channel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/store"
	"github.com/guildhall/guildhall/wire"
)

// guard is the failure guard of every wait in these tests: generous, never
// an assertion about speed.
const guard = 20 * time.Second

// ---- fake store ----

// fakeStore is an in-memory Store that records the order of character
// loads and saves.
type fakeStore struct {
	mu        sync.Mutex
	changed   chan struct{}
	tokens    map[string]store.SignSession
	chars     map[uint32]*store.Character
	events    []string // "load:<id>", "save:<id>"
	saves     map[uint32]int
	saveErr   error // returned by SaveCharacter when set
	signErr   error // returned by UseSignSession when set
	mail      []store.Mail
	nextMail  int64
	guilds    map[uint32]*store.Guild
	nextGuild uint32
	invites   map[[2]uint32]bool
	applied   map[[2]uint32]bool
	fences    map[string]uint64
	fenced    map[string][]byte
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		changed: make(chan struct{}),
		tokens:  map[string]store.SignSession{},
		chars:   map[uint32]*store.Character{},
		saves:   map[uint32]int{},
		guilds:  map[uint32]*store.Guild{},
		invites: map[[2]uint32]bool{},
		applied: map[[2]uint32]bool{},
		fences:  map[string]uint64{},
		fenced:  map[string][]byte{},
	}
}

// bump wakes waiters; call with mu held.
func (f *fakeStore) bump() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// addChar creates a character and returns a fresh token for it.
func (f *fakeStore) addChar(id uint32, name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.chars[id] == nil {
		f.chars[id] = &store.Character{ID: id, Name: name}
	}
	tok := fmt.Sprintf("tok-%d-%d", id, len(f.tokens))
	f.tokens[tok] = store.SignSession{CharID: id, CharName: name, Expires: time.Now().Add(time.Hour)}
	return tok
}

func (f *fakeStore) setSaveErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saveErr = err
}

func (f *fakeStore) saveCount(id uint32) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.saves[id]
}

func (f *fakeStore) eventLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

// waitFor waits until pred (called with mu held) is true.
func (f *fakeStore) waitFor(t testing.TB, what string, pred func() bool) {
	t.Helper()
	deadline := time.NewTimer(guard)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		ok := pred()
		ch := f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (f *fakeStore) UseSignSession(ctx context.Context, token string, channelID uint16) (store.SignSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.signErr != nil {
		return store.SignSession{}, f.signErr
	}
	ss, ok := f.tokens[token]
	if !ok {
		return store.SignSession{}, fmt.Errorf("fake: token: %w", store.ErrNotFound)
	}
	ss.ServerID = channelID
	return ss, nil
}

func (f *fakeStore) LoadCharacter(ctx context.Context, id uint32) (store.Character, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.chars[id]
	if !ok {
		return store.Character{}, fmt.Errorf("fake: char %d: %w", id, store.ErrNotFound)
	}
	f.events = append(f.events, fmt.Sprintf("load:%d", id))
	f.bump()
	return *c, nil
}

func (f *fakeStore) SaveCharacter(ctx context.Context, s store.CharacterSave) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saves[s.CharID]++
	f.events = append(f.events, fmt.Sprintf("save:%d", s.CharID))
	f.bump()
	if f.saveErr != nil {
		return f.saveErr
	}
	c, ok := f.chars[s.CharID]
	if !ok {
		return fmt.Errorf("fake: char %d: %w", s.CharID, store.ErrNotFound)
	}
	if s.SaveData != nil {
		c.SaveData = append([]byte(nil), s.SaveData...)
		h := sha256.Sum256(c.SaveData)
		c.SaveHash = h[:]
	}
	c.Playtime += s.Playtime
	c.LastStage = s.LastStage
	return nil
}

func (f *fakeStore) CharacterByName(ctx context.Context, name string) (uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, c := range f.chars {
		if strings.EqualFold(c.Name, name) {
			return id, nil
		}
	}
	return 0, fmt.Errorf("fake: name %q: %w", name, store.ErrNotFound)
}

func (f *fakeStore) SendMail(ctx context.Context, m store.Mail) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.chars[m.ToID]; !ok {
		return 0, fmt.Errorf("fake: recipient %d: %w", m.ToID, store.ErrNotFound)
	}
	f.nextMail++
	m.ID = f.nextMail
	f.mail = append(f.mail, m)
	f.bump()
	return m.ID, nil
}

func (f *fakeStore) SendGuildMail(ctx context.Context, gid uint32, m store.Mail) (map[uint32]int64, error) {
	f.mu.Lock()
	g, ok := f.guilds[gid]
	f.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("fake: guild %d: %w", gid, store.ErrNotFound)
	}
	out := map[uint32]int64{}
	for _, mem := range g.Members {
		m.ToID = mem.CharID
		m.Guild = true
		id, err := f.SendMail(ctx, m)
		if err != nil {
			return nil, err
		}
		out[mem.CharID] = id
	}
	return out, nil
}

func (f *fakeStore) ListMail(ctx context.Context, charID uint32, limit int) ([]store.Mail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Mail
	for i := len(f.mail) - 1; i >= 0 && len(out) < limit; i-- {
		if f.mail[i].ToID == charID {
			out = append(out, f.mail[i])
		}
	}
	return out, nil
}

func (f *fakeStore) ReadMail(ctx context.Context, charID uint32, id int64) (store.Mail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.mail {
		if f.mail[i].ID == id && f.mail[i].ToID == charID {
			f.mail[i].Read = true
			return f.mail[i], nil
		}
	}
	return store.Mail{}, fmt.Errorf("fake: mail %d: %w", id, store.ErrNotFound)
}

func (f *fakeStore) DeleteMail(ctx context.Context, charID uint32, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.mail {
		if f.mail[i].ID == id && f.mail[i].ToID == charID {
			f.mail = append(f.mail[:i], f.mail[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("fake: mail %d: %w", id, store.ErrNotFound)
}

func (f *fakeStore) UnreadMail(ctx context.Context, charID uint32) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, m := range f.mail {
		if m.ToID == charID && !m.Read {
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) CreateGuild(ctx context.Context, leaderID uint32, name string) (uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.chars[leaderID]
	if c == nil {
		return 0, store.ErrNotFound
	}
	if c.GuildID != 0 {
		return 0, fmt.Errorf("fake: in a guild: %w", store.ErrExists)
	}
	for _, g := range f.guilds {
		if strings.EqualFold(g.Name, name) {
			return 0, fmt.Errorf("fake: guild name: %w", store.ErrExists)
		}
	}
	f.nextGuild++
	g := &store.Guild{ID: f.nextGuild, Name: name, LeaderID: leaderID, Members: []store.GuildMember{{CharID: leaderID, Name: c.Name}}}
	f.guilds[g.ID] = g
	c.GuildID = g.ID
	return g.ID, nil
}

func (f *fakeStore) Guild(ctx context.Context, gid uint32) (store.Guild, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.guilds[gid]
	if !ok {
		return store.Guild{}, fmt.Errorf("fake: guild %d: %w", gid, store.ErrNotFound)
	}
	out := *g
	out.Members = append([]store.GuildMember(nil), g.Members...)
	return out, nil
}

func (f *fakeStore) leaderGuild(leaderID uint32) (*store.Guild, error) {
	c := f.chars[leaderID]
	if c == nil || c.GuildID == 0 || f.guilds[c.GuildID].LeaderID != leaderID {
		return nil, fmt.Errorf("fake: not a leader: %w", store.ErrForbidden)
	}
	return f.guilds[c.GuildID], nil
}

func (f *fakeStore) join(g *store.Guild, charID uint32) error {
	c := f.chars[charID]
	if c == nil {
		return store.ErrNotFound
	}
	if c.GuildID != 0 {
		return fmt.Errorf("fake: in a guild: %w", store.ErrExists)
	}
	c.GuildID = g.ID
	g.Members = append(g.Members, store.GuildMember{CharID: charID, Name: c.Name})
	return nil
}

func (f *fakeStore) InviteToGuild(ctx context.Context, leaderID, charID uint32) (uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.leaderGuild(leaderID)
	if err != nil {
		return 0, err
	}
	f.invites[[2]uint32{g.ID, charID}] = true
	return g.ID, nil
}

func (f *fakeStore) ApplyToGuild(ctx context.Context, gid, charID uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.guilds[gid] == nil {
		return store.ErrNotFound
	}
	f.applied[[2]uint32{gid, charID}] = true
	return nil
}

func (f *fakeStore) AcceptInvite(ctx context.Context, gid, charID uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.invites[[2]uint32{gid, charID}] {
		return fmt.Errorf("fake: no invite: %w", store.ErrForbidden)
	}
	delete(f.invites, [2]uint32{gid, charID})
	return f.join(f.guilds[gid], charID)
}

func (f *fakeStore) AcceptApplication(ctx context.Context, leaderID, applicant uint32) (uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.leaderGuild(leaderID)
	if err != nil {
		return 0, err
	}
	if !f.applied[[2]uint32{g.ID, applicant}] {
		return 0, fmt.Errorf("fake: no application: %w", store.ErrForbidden)
	}
	return g.ID, f.join(g, applicant)
}

func (f *fakeStore) remove(g *store.Guild, charID uint32) {
	for i, m := range g.Members {
		if m.CharID == charID {
			g.Members = append(g.Members[:i], g.Members[i+1:]...)
			break
		}
	}
	f.chars[charID].GuildID = 0
}

func (f *fakeStore) LeaveGuild(ctx context.Context, charID uint32) (uint32, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.chars[charID]
	if c == nil || c.GuildID == 0 {
		return 0, false, store.ErrNotFound
	}
	g := f.guilds[c.GuildID]
	if g.LeaderID == charID {
		for _, m := range g.Members {
			f.chars[m.CharID].GuildID = 0
		}
		delete(f.guilds, g.ID)
		return g.ID, true, nil
	}
	f.remove(g, charID)
	return g.ID, false, nil
}

func (f *fakeStore) KickFromGuild(ctx context.Context, leaderID, charID uint32) (uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.leaderGuild(leaderID)
	if err != nil {
		return 0, err
	}
	if c := f.chars[charID]; c == nil || c.GuildID != g.ID {
		return 0, store.ErrNotFound
	}
	f.remove(g, charID)
	return g.ID, nil
}

func (f *fakeStore) FencedWrite(ctx context.Context, sema string, token uint64, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if token < f.fences[sema] {
		return fmt.Errorf("fake: fence %q: %w", sema, store.ErrStaleToken)
	}
	f.fences[sema] = token
	f.fenced[sema] = append([]byte(nil), data...)
	return nil
}

var _ Store = (*fakeStore)(nil)

// ---- log capture ----

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ---- harness ----

type harness struct {
	reg   *registry.Local
	store *fakeStore
	met   *Metrics
	logs  *syncBuffer
	log   *slog.Logger
}

func newHarness(t testing.TB) *harness {
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := &harness{
		reg:   registry.NewLocal("replica-a", log),
		store: newFakeStore(),
		met:   NewMetrics(prometheus.NewRegistry()),
		logs:  logs,
		log:   log,
	}
	t.Cleanup(func() { _ = h.reg.Close(context.Background()) })
	return h
}

func (h *harness) config(id uint16) Config {
	return Config{
		ID:              id,
		ReplicaID:       "replica-a",
		ListenAddr:      "127.0.0.1:0",
		MaxPlayers:      100,
		TownStages:      []string{"town"},
		DefaultStageMax: 8,
		SaveTimeout:     2 * time.Second,
		WriteTimeout:    5 * time.Second,
	}
}

func (h *harness) deps() Deps {
	return Deps{Registry: h.reg, Store: h.store, Logger: h.log, Metrics: h.met}
}

// start runs a channel; mod may adjust its config and deps.
func (h *harness) start(t testing.TB, id uint16, mod func(*Config, *Deps)) *Server {
	t.Helper()
	cfg, deps := h.config(id), h.deps()
	if mod != nil {
		mod(&cfg, &deps)
	}
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// counter reads a counter's or gauge's value.
func counter(c prometheus.Metric) int {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return int(m.Counter.GetValue())
	}
	return int(m.Gauge.GetValue())
}

// waitEmpty waits until srv has no connection left (every logout done).
func waitEmpty(t testing.TB, srv *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := srv.waitEmpty(ctx); err != nil {
		t.Fatalf("channel %d never emptied: %v", srv.ID(), err)
	}
}

// note records an event in the fake store's event log (alongside its loads
// and saves) and wakes waiters.
func (f *fakeStore) note(ev string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
	f.bump()
}

// countEvents returns how many times ev is in the log; call with mu held.
func (f *fakeStore) countEvents(ev string) int {
	n := 0
	for _, e := range f.events {
		if e == ev {
			n++
		}
	}
	return n
}

// timeAfter is a failure guard for a select: it fires after guard.
func timeAfter(t testing.TB) <-chan time.Time {
	tm := time.NewTimer(guard)
	t.Cleanup(func() { tm.Stop() })
	return tm.C
}

// await receives from ch, failing the test after guard.
func await[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-timeAfter(t):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// ---- test client ----

// tclient speaks protocol v1 over TCP, synchronously.
type tclient struct {
	t       testing.TB
	conn    net.Conn
	buf     []byte
	nextReq uint32
	pending []wire.Message // pushes read while waiting for something else
	welcome *wire.Welcome
}

func dial(t testing.TB, addr string) *tclient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, guard)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &tclient{t: t, conn: conn}
}

// hello sends a Hello and returns the server's answer.
func (c *tclient) hello(token string) wire.Message {
	c.t.Helper()
	c.send(1, &wire.Hello{Magic: wire.Magic, Version: wire.Version, Token: token})
	m, _, err := c.read()
	if err != nil {
		c.t.Fatalf("hello: %v", err)
	}
	return m
}

// login dials and logs in, failing the test unless welcomed.
func login(t testing.TB, srv *Server, token string) *tclient {
	t.Helper()
	c := dial(t, srv.Addr())
	m := c.hello(token)
	w, ok := m.(*wire.Welcome)
	if !ok {
		t.Fatalf("login: got %T %v, want Welcome", m, m)
	}
	c.welcome = w
	c.nextReq = 1
	return c
}

func (c *tclient) send(reqID uint32, m wire.Message) {
	c.t.Helper()
	frame, err := wire.Encode(reqID, m)
	if err != nil {
		c.t.Fatalf("encode: %v", err)
	}
	c.raw(frame)
}

func (c *tclient) raw(b []byte) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(guard))
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next message and its request ID.
func (c *tclient) read() (wire.Message, uint32, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(guard))
	f, buf, err := wire.ReadFrame(c.conn, c.buf)
	c.buf = buf
	if err != nil {
		return nil, 0, err
	}
	m, err := f.Decode()
	if err != nil {
		c.t.Fatalf("decode %s: %v", f.Type, err)
	}
	return m, f.ReqID, nil
}

// call sends a request and returns its answer, keeping pushes read meanwhile.
func (c *tclient) call(m wire.Message) wire.Message {
	c.t.Helper()
	c.nextReq++
	id := c.nextReq
	c.send(id, m)
	for {
		got, rid, err := c.read()
		if err != nil {
			c.t.Fatalf("call %s: %v", m.Type(), err)
		}
		if rid == id {
			return got
		}
		if rid != 0 {
			c.t.Fatalf("call %s: answer for request %d, want %d", m.Type(), rid, id)
		}
		c.pending = append(c.pending, got)
	}
}

// mustOK calls and requires an OK.
func (c *tclient) mustOK(m wire.Message) *wire.OK {
	c.t.Helper()
	got := c.call(m)
	ok, isOK := got.(*wire.OK)
	if !isOK {
		c.t.Fatalf("%s: got %T %v, want OK", m.Type(), got, got)
	}
	return ok
}

// mustErr calls and requires an Error with code.
func (c *tclient) mustErr(m wire.Message, code wire.ErrorCode) *wire.Error {
	c.t.Helper()
	got := c.call(m)
	e, isErr := got.(*wire.Error)
	if !isErr || e.Code != code {
		c.t.Fatalf("%s: got %T %v, want Error %s", m.Type(), got, got, code)
	}
	return e
}

// push returns the next push of type t (earlier pushes of other types are kept).
func (c *tclient) push(t wire.Type) wire.Message {
	c.t.Helper()
	for i, m := range c.pending {
		if m.Type() == t {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return m
		}
	}
	for {
		m, _, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", t, err)
		}
		if m.Type() == t {
			return m
		}
		c.pending = append(c.pending, m)
	}
}

// closed reads until the server closes the connection and returns what it sent.
func (c *tclient) closed() []wire.Message {
	c.t.Helper()
	out := c.pending
	c.pending = nil
	for {
		m, _, err := c.read()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
				return out
			}
			c.t.Fatalf("waiting for close: %v", err)
		}
		out = append(out, m)
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

func kickedReason(ms []wire.Message) string {
	for _, m := range ms {
		if k, ok := m.(*wire.Kicked); ok {
			return k.Reason
		}
	}
	return ""
}

func sortedIDs(ss []registry.SessionSnapshot) []uint32 {
	out := make([]uint32, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.CharID)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
