package loadgen

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/guildhall/guildhall/wire"
)

// fakeCluster is a tiny in-test guildhall: a sign-in API and two channels
// ("replicas" r1 and r2) speaking wire, with just enough semantics for the
// scenarios. dropEvery > 0 drops every n-th delivery; dupEvery > 0 sends every
// n-th delivery twice; sharedToken makes every global acquire succeed with
// the same token (a broken semaphore).
type fakeCluster struct {
	t          *testing.T
	http       *httptest.Server
	lns        []net.Listener
	dropEvery  int
	dupEvery   int
	brokenSema bool
	mu         sync.Mutex
	accounts   map[string]uint32
	tokens     map[string]uint32
	sessions   map[uint32]*fakeSess
	stages     map[string]map[uint32]*fakeSess
	semas      map[string]uint32
	semaToken  map[string]uint64
	deliveries int
	wg         sync.WaitGroup
	conns      map[net.Conn]bool
}

type fakeSess struct {
	char  uint32
	wmu   sync.Mutex
	conn  net.Conn
	stage string
}

func (s *fakeSess) send(f []byte) {
	s.wmu.Lock()
	_, _ = s.conn.Write(f)
	s.wmu.Unlock()
}

func newFakeCluster(t *testing.T) *fakeCluster {
	fc := &fakeCluster{t: t, accounts: map[string]uint32{}, tokens: map[string]uint32{}, sessions: map[uint32]*fakeSess{},
		stages: map[string]map[uint32]*fakeSess{}, semas: map[string]uint32{}, semaToken: map[string]uint64{}, conns: map[net.Conn]bool{}}
	for i := 0; i < 2; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		fc.lns = append(fc.lns, ln)
		fc.wg.Add(1)
		go fc.accept(ln)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/channels", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"channels": fc.channelList()})
	})
	mux.HandleFunc("POST /v1/accounts", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Username, Password, Character string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		fc.mu.Lock()
		defer fc.mu.Unlock()
		if _, ok := fc.accounts[req.Username]; ok {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"error":"exists","code":"exists"}`)
			return
		}
		fc.accounts[req.Username] = uint32(len(fc.accounts) + 100)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"account_id":%d,"char_id":%d}`, fc.accounts[req.Username], fc.accounts[req.Username])
	})
	mux.HandleFunc("POST /v1/signin", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Username, Password string }
		_ = json.NewDecoder(r.Body).Decode(&req)
		fc.mu.Lock()
		id, ok := fc.accounts[req.Username]
		tok := fmt.Sprintf("tok%d", len(fc.tokens))
		if ok {
			fc.tokens[tok] = id
		}
		fc.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"bad username or password","code":"unauthorized"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_at": "2030-01-01T00:00:00Z",
			"account_id": id, "char_id": id, "name": req.Username, "channels": fc.channelList()})
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "process_resident_memory_bytes 1e+07")
	})
	fc.http = httptest.NewServer(mux)
	t.Cleanup(fc.close)
	return fc
}

func (fc *fakeCluster) channelList() []map[string]any {
	var out []map[string]any
	for i, ln := range fc.lns {
		out = append(out, map[string]any{"id": i + 1, "name": "ch", "replica": fmt.Sprintf("r%d", i+1),
			"addr": ln.Addr().String(), "players": 0, "max_players": 1000, "enabled": true})
	}
	return out
}

func (fc *fakeCluster) close() {
	fc.http.Close()
	for _, ln := range fc.lns {
		ln.Close()
	}
	fc.mu.Lock()
	for c := range fc.conns {
		c.Close()
	}
	fc.mu.Unlock()
	fc.wg.Wait()
}

func (fc *fakeCluster) accept(ln net.Listener) {
	defer fc.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		fc.mu.Lock()
		fc.conns[c] = true
		fc.mu.Unlock()
		fc.wg.Add(1)
		go fc.serve(c)
	}
}

// deliver sends frame to s, applying the configured faults.
func (fc *fakeCluster) deliver(s *fakeSess, f []byte) {
	fc.mu.Lock()
	fc.deliveries++
	n := fc.deliveries
	fc.mu.Unlock()
	if fc.dropEvery > 0 && n%fc.dropEvery == 0 {
		return
	}
	s.send(f)
	if fc.dupEvery > 0 && n%fc.dupEvery == 0 {
		s.send(f)
	}
}

func (fc *fakeCluster) serve(c net.Conn) {
	defer fc.wg.Done()
	defer c.Close()
	br := bufio.NewReader(c)
	f, _, err := wire.ReadFrame(br, nil)
	if err != nil {
		return
	}
	m, err := f.Decode()
	h, ok := m.(*wire.Hello)
	if err != nil || !ok {
		return
	}
	fc.mu.Lock()
	char, ok := fc.tokens[h.Token]
	fc.mu.Unlock()
	s := &fakeSess{char: char, conn: c}
	reply := func(id uint32, m wire.Message) {
		b, _ := wire.Encode(id, m)
		s.send(b)
	}
	if !ok {
		reply(0, &wire.Error{Code: wire.CodeUnauthorized})
		return
	}
	fc.mu.Lock()
	fc.sessions[char] = s
	fc.mu.Unlock()
	defer func() {
		fc.mu.Lock()
		delete(fc.sessions, char)
		if st := fc.stages[s.stage]; st != nil {
			delete(st, char)
		}
		for n, h := range fc.semas {
			if h == char {
				delete(fc.semas, n)
			}
		}
		fc.mu.Unlock()
	}()
	reply(0, &wire.Welcome{Version: 1, CharID: char, Name: "x"})
	var buf []byte
	for {
		f, buf, err = wire.ReadFrame(br, buf)
		if err != nil {
			return
		}
		m, err := f.Decode()
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *wire.Ping:
		case *wire.Logout:
			reply(f.ReqID, &wire.OK{})
			return
		case *wire.StageCreate:
			fc.mu.Lock()
			if fc.stages[m.StageID] == nil {
				fc.stages[m.StageID] = map[uint32]*fakeSess{}
			}
			fc.mu.Unlock()
			reply(f.ReqID, &wire.OK{})
		case *wire.StageEnter:
			fc.mu.Lock()
			st := fc.stages[m.StageID]
			if st != nil {
				st[char] = s
				s.stage = m.StageID
			}
			fc.mu.Unlock()
			if st == nil {
				reply(f.ReqID, &wire.Error{Code: wire.CodeNotFound})
			} else {
				reply(f.ReqID, &wire.StageInfo{StageID: m.StageID})
			}
		case *wire.Cast:
			out, _ := wire.Encode(0, &wire.CastMsg{Scope: m.Scope, SenderID: char, SenderName: "x", Payload: m.Payload})
			var to []*fakeSess
			fc.mu.Lock()
			switch m.Scope {
			case wire.ScopeStage:
				for id, o := range fc.stages[s.stage] {
					if id != char {
						to = append(to, o)
					}
				}
			case wire.ScopeWorld:
				for id, o := range fc.sessions {
					if id != char {
						to = append(to, o)
					}
				}
			case wire.ScopeTargets:
				for _, id := range m.Targets {
					if o := fc.sessions[id]; o != nil {
						to = append(to, o)
					}
				}
			}
			fc.mu.Unlock()
			for _, o := range to {
				fc.deliver(o, out)
			}
		case *wire.SemaAcquire:
			fc.mu.Lock()
			h, held := fc.semas[m.Name]
			var tok uint64
			if !held || h == char || fc.brokenSema {
				fc.semas[m.Name] = char
				if !fc.brokenSema {
					fc.semaToken[m.Name]++
				}
				tok = fc.semaToken[m.Name]
				held = false
			}
			fc.mu.Unlock()
			if held {
				reply(f.ReqID, &wire.Error{Code: wire.CodeSemaHeld, Channel: 1})
			} else {
				reply(f.ReqID, &wire.OK{ID: tok})
			}
		case *wire.SemaRelease:
			fc.mu.Lock()
			if fc.semas[m.Name] == char {
				delete(fc.semas, m.Name)
			}
			fc.mu.Unlock()
			reply(f.ReqID, &wire.OK{})
		default:
			reply(f.ReqID, &wire.Error{Code: wire.CodeBadRequest})
		}
	}
}
