package signin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeStore is an in-memory Store.
type fakeStore struct {
	mu       sync.Mutex
	down     bool
	accounts map[string]fakeAccount
	sessions map[string]fakeSession
	nextAcc  int64
	nextChar uint32
	now      time.Time
}

type fakeAccount struct {
	id       int64
	password string
	char     store.Character
}

type fakeSession struct {
	accountID int64
	charID    uint32
	replica   string
	expires   time.Time
}

func newFakeStore() *fakeStore {
	return &fakeStore{accounts: map[string]fakeAccount{}, sessions: map[string]fakeSession{},
		now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (s *fakeStore) setDown(d bool) { s.mu.Lock(); s.down = d; s.mu.Unlock() }

func (s *fakeStore) CreateAccount(_ context.Context, username, password, charName string) (int64, uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return 0, 0, fmt.Errorf("fake: %w", store.ErrUnavailable)
	}
	for u, a := range s.accounts {
		if strings.EqualFold(u, username) || strings.EqualFold(a.char.Name, charName) {
			return 0, 0, fmt.Errorf("fake: %w", store.ErrExists)
		}
	}
	s.nextAcc++
	s.nextChar++
	s.accounts[username] = fakeAccount{id: s.nextAcc, password: password,
		char: store.Character{ID: s.nextChar, AccountID: s.nextAcc, Name: charName}}
	return s.nextAcc, s.nextChar, nil
}

func (s *fakeStore) Authenticate(_ context.Context, username, password string) (store.Account, []store.Character, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return store.Account{}, nil, fmt.Errorf("fake: %w", store.ErrUnavailable)
	}
	a, ok := s.accounts[username]
	if !ok {
		return store.Account{}, nil, fmt.Errorf("fake: %w", store.ErrNotFound)
	}
	if a.password != password {
		return store.Account{}, nil, fmt.Errorf("fake: %w", store.ErrBadPassword)
	}
	return store.Account{ID: a.id, Username: username}, []store.Character{a.char}, nil
}

func (s *fakeStore) CreateSignSession(_ context.Context, accountID int64, charID uint32, replicaID string, ttl time.Duration) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return "", time.Time{}, fmt.Errorf("fake: %w", store.ErrUnavailable)
	}
	tok := fmt.Sprintf("tok-%d-%d", accountID, len(s.sessions)+1)
	exp := s.now.Add(ttl)
	s.sessions[tok] = fakeSession{accountID, charID, replicaID, exp}
	return tok, exp, nil
}

func (s *fakeStore) Ping(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return fmt.Errorf("fake: %w", store.ErrUnavailable)
	}
	return nil
}

type fakeChannels struct {
	infos []registry.ChannelInfo
	err   error
}

func (f fakeChannels) Channels(context.Context) ([]registry.ChannelInfo, error) {
	return f.infos, f.err
}

type env struct {
	srv   *httptest.Server
	store *fakeStore
}

func newEnv(t *testing.T, ch ChannelLister, ready func(context.Context) error) *env {
	t.Helper()
	st := newFakeStore()
	if ch == nil {
		ch = fakeChannels{infos: []registry.ChannelInfo{
			{ID: 2, Name: "Two", ReplicaID: "rB", Addr: "127.0.0.1:2", Players: 3, MaxPlayers: 50},
			{ID: 1, Name: "One", ReplicaID: "rA", Addr: "127.0.0.1:1", Players: 1, MaxPlayers: 100},
			{ID: 3, Name: "Three", ReplicaID: "rA", Addr: "127.0.0.1:3", Draining: true},
		}}
	}
	h, err := NewHandler(Config{
		Store: st, Channels: ch, ReplicaID: "rA", TokenTTL: 10 * time.Minute, Ready: ready,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "metric_x 1\n") }),
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{srv: srv, store: st}
}

func (e *env) do(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := e.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func decodeErr(t *testing.T, b []byte) ErrorResponse {
	t.Helper()
	var e ErrorResponse
	require.NoError(t, json.Unmarshal(b, &e), string(b))
	return e
}

const goodAccount = `{"username":"alice_1","password":"correct horse","character":"Alice"}`

func TestCreateAccountAndSignIn(t *testing.T) {
	e := newEnv(t, nil, nil)
	code, b := e.do(t, "POST", "/v1/accounts", goodAccount)
	require.Equal(t, http.StatusCreated, code, string(b))
	var ca CreateAccountResponse
	require.NoError(t, json.Unmarshal(b, &ca))
	require.Equal(t, int64(1), ca.AccountID)
	require.Equal(t, uint32(1), ca.CharID)

	code, b = e.do(t, "POST", "/v1/signin", `{"username":"alice_1","password":"correct horse"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	var si SignInResponse
	require.NoError(t, json.Unmarshal(b, &si))
	require.NotEmpty(t, si.Token)
	require.Equal(t, ca.AccountID, si.AccountID)
	require.Equal(t, ca.CharID, si.CharID)
	require.Equal(t, "Alice", si.Name)
	exp, err := time.Parse(time.RFC3339, si.ExpiresAt)
	require.NoError(t, err)
	require.Equal(t, e.store.now.Add(10*time.Minute), exp)
	// Live channels only, draining left out, sorted by ID.
	require.Equal(t, []ChannelJSON{
		{ID: 1, Name: "One", Replica: "rA", Addr: "127.0.0.1:1", Players: 1, MaxPlayers: 100, Enabled: true},
		{ID: 2, Name: "Two", Replica: "rB", Addr: "127.0.0.1:2", Players: 3, MaxPlayers: 50, Enabled: true},
	}, si.Channels)
	// The token is bound to this replica and the character.
	sess := e.store.sessions[si.Token]
	require.Equal(t, "rA", sess.replica)
	require.Equal(t, ca.CharID, sess.charID)

	// Raw JSON field names are the contract.
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	for _, k := range []string{"token", "expires_at", "account_id", "char_id", "name", "channels"} {
		require.Contains(t, raw, k)
	}
	ch0 := raw["channels"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "name", "replica", "addr", "players", "max_players", "enabled"} {
		require.Contains(t, ch0, k)
	}
}

func TestCreateAccountValidation(t *testing.T) {
	e := newEnv(t, nil, nil)
	cases := map[string]string{
		"short username":  `{"username":"ab","password":"12345678","character":"Bob"}`,
		"long username":   `{"username":"` + strings.Repeat("a", 33) + `","password":"12345678","character":"Bob"}`,
		"bad username":    `{"username":"bob smith","password":"12345678","character":"Bob"}`,
		"short password":  `{"username":"bob","password":"1234567","character":"Bob"}`,
		"long password":   `{"username":"bob","password":"` + strings.Repeat("p", 129) + `","character":"Bob"}`,
		"short character": `{"username":"bob","password":"12345678","character":"Bo"}`,
		"long character":  `{"username":"bob","password":"12345678","character":"` + strings.Repeat("c", 17) + `"}`,
		"bad character":   `{"username":"bob","password":"12345678","character":"Bob!"}`,
		"unknown field":   `{"username":"bob","password":"12345678","character":"Bob","admin":true}`,
		"not json":        `username=bob`,
		"empty":           ``,
		"trailing":        `{"username":"bob","password":"12345678","character":"Bob"} {}`,
		"wrong type":      `{"username":7,"password":"12345678","character":"Bob"}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			code, b := e.do(t, "POST", "/v1/accounts", body)
			require.Equal(t, http.StatusBadRequest, code, string(b))
			er := decodeErr(t, b)
			require.Equal(t, CodeBadRequest, er.Code)
			require.NotEmpty(t, er.Error)
		})
	}
	require.Empty(t, e.store.accounts, "nothing created by invalid requests")
	// Boundaries accepted.
	code, b := e.do(t, "POST", "/v1/accounts", `{"username":"abc","password":"12345678","character":"Abc"}`)
	require.Equal(t, http.StatusCreated, code, string(b))
	code, b = e.do(t, "POST", "/v1/accounts", `{"username":"`+strings.Repeat("a", 32)+`","password":"`+strings.Repeat("p", 128)+`","character":"`+strings.Repeat("c", 16)+`"}`)
	require.Equal(t, http.StatusCreated, code, string(b))
}

func TestCreateAccountDuplicate(t *testing.T) {
	e := newEnv(t, nil, nil)
	code, _ := e.do(t, "POST", "/v1/accounts", goodAccount)
	require.Equal(t, http.StatusCreated, code)
	code, b := e.do(t, "POST", "/v1/accounts", goodAccount)
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, CodeExists, decodeErr(t, b).Code)
}

func TestStoreDown(t *testing.T) {
	e := newEnv(t, nil, nil)
	code, _ := e.do(t, "POST", "/v1/accounts", goodAccount)
	require.Equal(t, http.StatusCreated, code)
	e.store.setDown(true)
	code, b := e.do(t, "POST", "/v1/accounts", `{"username":"bob","password":"12345678","character":"Bob"}`)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, CodeUnavailable, decodeErr(t, b).Code)
	code, b = e.do(t, "POST", "/v1/signin", `{"username":"alice_1","password":"correct horse"}`)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, ErrorResponse{Error: MsgUnavailable, Code: CodeUnavailable}, decodeErr(t, b))
	code, b = e.do(t, "GET", "/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, string(b), "database")
	code, _ = e.do(t, "GET", "/livez", "")
	require.Equal(t, http.StatusOK, code, "liveness does not depend on the database")
}

func TestSignInWrongCredentialsSameAnswer(t *testing.T) {
	e := newEnv(t, nil, nil)
	code, _ := e.do(t, "POST", "/v1/accounts", goodAccount)
	require.Equal(t, http.StatusCreated, code)
	var bodies []string
	for _, body := range []string{
		`{"username":"alice_1","password":"wrong password"}`,
		`{"username":"nobody","password":"correct horse"}`,
		`{"username":"","password":""}`,
		`{"username":"` + strings.Repeat("x", 100) + `","password":"correct horse"}`,
	} {
		code, b := e.do(t, "POST", "/v1/signin", body)
		require.Equal(t, http.StatusUnauthorized, code, body)
		er := decodeErr(t, b)
		require.Equal(t, CodeUnauthorized, er.Code)
		require.Equal(t, MsgBadCredentials, er.Error)
		bodies = append(bodies, string(b))
	}
	require.Equal(t, bodies[0], bodies[1], "unknown user and wrong password are indistinguishable")
	require.Empty(t, e.store.sessions)
}

func TestSignInBadBody(t *testing.T) {
	e := newEnv(t, nil, nil)
	code, b := e.do(t, "POST", "/v1/signin", `{"username":"a","password":"b","extra":1}`)
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, CodeBadRequest, decodeErr(t, b).Code)
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, nil, nil)
	big := `{"username":"bob","password":"` + strings.Repeat("p", MaxBody) + `","character":"Bob"}`
	code, b := e.do(t, "POST", "/v1/accounts", big)
	require.Equal(t, http.StatusRequestEntityTooLarge, code, string(b))
	require.Equal(t, CodeTooLarge, decodeErr(t, b).Code)
	require.Empty(t, e.store.accounts)
}

func TestChannelsEndpoint(t *testing.T) {
	e := newEnv(t, nil, nil)
	code, b := e.do(t, "GET", "/v1/channels", "")
	require.Equal(t, http.StatusOK, code)
	var cr ChannelsResponse
	require.NoError(t, json.Unmarshal(b, &cr))
	require.Len(t, cr.Channels, 2)
	require.Equal(t, uint16(1), cr.Channels[0].ID)
	require.Equal(t, uint16(2), cr.Channels[1].ID)

	// Empty list is [] not null.
	e2 := newEnv(t, fakeChannels{}, nil)
	code, b = e2.do(t, "GET", "/v1/channels", "")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"channels":[]}`, string(b))

	e3 := newEnv(t, fakeChannels{err: registry.ErrUnavailable}, nil)
	code, b = e3.do(t, "GET", "/v1/channels", "")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, CodeUnavailable, decodeErr(t, b).Code)
}

func TestReadyz(t *testing.T) {
	var mu sync.Mutex
	var notReady error = errors.New("channels draining")
	e := newEnv(t, nil, func(context.Context) error { mu.Lock(); defer mu.Unlock(); return notReady })
	code, b := e.do(t, "GET", "/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, string(b), "channels draining")
	mu.Lock()
	notReady = nil
	mu.Unlock()
	code, _ = e.do(t, "GET", "/readyz", "")
	require.Equal(t, http.StatusOK, code)
}

func TestMetricsAndRouting(t *testing.T) {
	e := newEnv(t, nil, nil)
	code, b := e.do(t, "GET", "/metrics", "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(b), "metric_x 1")
	code, _ = e.do(t, "GET", "/v1/signin", "")
	require.Equal(t, http.StatusMethodNotAllowed, code)
	code, _ = e.do(t, "GET", "/nope", "")
	require.Equal(t, http.StatusNotFound, code)
}

func TestNewHandlerRequiresFields(t *testing.T) {
	ok := Config{Store: newFakeStore(), Channels: fakeChannels{}, ReplicaID: "r", TokenTTL: time.Minute}
	_, err := NewHandler(ok)
	require.NoError(t, err)
	for name, mod := range map[string]func(*Config){
		"Store":     func(c *Config) { c.Store = nil },
		"Channels":  func(c *Config) { c.Channels = nil },
		"ReplicaID": func(c *Config) { c.ReplicaID = "" },
		"TokenTTL":  func(c *Config) { c.TokenTTL = 0 },
	} {
		c := ok
		mod(&c)
		_, err := NewHandler(c)
		require.ErrorContains(t, err, name)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(goodAccount))
	f.Add([]byte(`{"username":"a","password":"b"}`))
	f.Add([]byte(`{"username":"a"} x`))
	f.Add([]byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ca CreateAccountRequest
		if err := DecodeJSON(bytes.NewReader(data), &ca); err == nil {
			if ca.Validate() == nil {
				// A valid request respects every documented limit.
				if len(ca.Username) < MinUsername || len(ca.Username) > MaxUsername ||
					len(ca.Character) < MinCharName || len(ca.Character) > MaxCharName {
					t.Fatalf("Validate accepted out-of-limit request %+v", ca)
				}
			}
		} else if !errors.Is(err, errBody) && !errors.Is(err, errTooLarge) {
			t.Fatalf("decode error not classified: %v", err)
		}
		var si SignInRequest
		_ = DecodeJSON(bytes.NewReader(data), &si)
	})
}

// slowAuthStore's Authenticate uses up its whole deadline, as a bcrypt
// comparison on a loaded machine may; CreateSignSession then fails if its
// context has already ended.
type slowAuthStore struct{ *fakeStore }

func (s slowAuthStore) Authenticate(ctx context.Context, username, password string) (store.Account, []store.Character, error) {
	<-ctx.Done() // Timeout is short in the test: this returns once it passed
	return s.fakeStore.Authenticate(context.Background(), username, password)
}

func (s slowAuthStore) CreateSignSession(ctx context.Context, accountID int64, charID uint32, replicaID string, ttl time.Duration) (string, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return "", time.Time{}, fmt.Errorf("fake: %w", err)
	}
	return s.fakeStore.CreateSignSession(ctx, accountID, charID, replicaID, ttl)
}

// TestSignInTimeoutPerStoreCall: a slow password check does not leave the
// calls after it without time (each store call has its own Timeout).
func TestSignInTimeoutPerStoreCall(t *testing.T) {
	st := slowAuthStore{newFakeStore()}
	_, _, err := st.CreateAccount(context.Background(), "alice_1", "correct horse", "Alice")
	require.NoError(t, err)
	h, err := NewHandler(Config{
		Store: st, Channels: fakeChannels{infos: []registry.ChannelInfo{{ID: 1, Name: "One", ReplicaID: "rA", Addr: "127.0.0.1:1"}}},
		ReplicaID: "rA", TokenTTL: time.Minute, Timeout: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{srv: srv, store: st.fakeStore}
	code, b := e.do(t, "POST", "/v1/signin", `{"username":"alice_1","password":"correct horse"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	var si SignInResponse
	require.NoError(t, json.Unmarshal(b, &si))
	require.NotEmpty(t, si.Token)
}
