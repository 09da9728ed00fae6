package client

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// fakeSignIn implements the HTTP sign-in contract with one account.
func fakeSignIn(t *testing.T) *httptest.Server {
	t.Helper()
	channels := []map[string]any{
		{"id": 1, "name": "ch1", "replica": "r1", "addr": "127.0.0.1:54001", "players": 3, "max_players": 100, "enabled": true},
		{"id": 2, "name": "ch2", "replica": "r1", "addr": "127.0.0.1:54002", "players": 0, "max_players": 50, "enabled": false},
	}
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/accounts", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Username, Password, Character string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Username == "" || req.Character == "" {
			writeJSON(w, 400, map[string]string{"error": "bad request", "code": "bad_request"})
			return
		}
		if req.Username == "taken" {
			writeJSON(w, 409, map[string]string{"error": "username taken", "code": "exists"})
			return
		}
		writeJSON(w, 201, map[string]any{"account_id": 11, "char_id": 22})
	})
	mux.HandleFunc("POST /v1/signin", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Username, Password string }
		json.NewDecoder(r.Body).Decode(&req)
		if req.Username != "alice" || req.Password != "secret" {
			writeJSON(w, 401, map[string]string{"error": "bad username or password", "code": "unauthorized"})
			return
		}
		writeJSON(w, 200, map[string]any{"token": "tok", "expires_at": "2030-01-02T03:04:05Z", "account_id": 11,
			"char_id": 22, "name": "Alice", "channels": channels})
	})
	mux.HandleFunc("GET /v1/channels", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"channels": channels})
	})
	mux.HandleFunc("GET /broken/v1/channels", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream exploded", http.StatusBadGateway)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestSignUp(t *testing.T) {
	srv := fakeSignIn(t)
	acc, char, err := SignUp(testCtx(t), srv.URL, "alice", "secret", "Alice")
	if err != nil || acc != 11 || char != 22 {
		t.Fatalf("SignUp = %d %d %v", acc, char, err)
	}
	_, _, err = SignUp(testCtx(t), srv.URL+"/", "taken", "secret", "Alice")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "exists" || ae.Message != "username taken" {
		t.Fatalf("SignUp taken: %v, want APIError 409 exists", err)
	}
	_, _, err = SignUp(testCtx(t), srv.URL, "bob", "secret", "")
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "bad_request" {
		t.Fatalf("SignUp without character: %v, want APIError 400", err)
	}
}

func TestSignIn(t *testing.T) {
	srv := fakeSignIn(t)
	res, err := SignIn(testCtx(t), srv.URL, "alice", "secret")
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if res.Token != "tok" || !res.ExpiresAt.Equal(want) || res.AccountID != 11 || res.CharID != 22 || res.Name != "Alice" {
		t.Fatalf("SignIn = %+v", res)
	}
	if len(res.Channels) != 2 || res.Channels[0] != (ChannelInfo{ID: 1, Name: "ch1", Replica: "r1", Addr: "127.0.0.1:54001", Players: 3, MaxPlayers: 100, Enabled: true}) || res.Channels[1].Enabled {
		t.Fatalf("Channels = %+v", res.Channels)
	}
	_, err = SignIn(testCtx(t), srv.URL, "alice", "wrong")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "unauthorized" {
		t.Fatalf("SignIn wrong password: %v, want APIError 401", err)
	}
}

func TestChannels(t *testing.T) {
	srv := fakeSignIn(t)
	chs, err := Channels(testCtx(t), srv.URL)
	if err != nil || len(chs) != 2 || chs[1].ID != 2 || chs[1].MaxPlayers != 50 {
		t.Fatalf("Channels = %+v %v", chs, err)
	}
	_, err = Channels(testCtx(t), srv.URL+"/broken")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != "" || ae.Message != "upstream exploded" {
		t.Fatalf("Channels from a non-JSON error: %#v", err)
	}
}

// countingTransport counts the requests it passes on to http.DefaultTransport.
type countingTransport struct{ n int }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n++
	return http.DefaultTransport.RoundTrip(r)
}

func TestAPIUsesItsClient(t *testing.T) {
	srv := fakeSignIn(t)
	tr := &countingTransport{}
	api := API{Base: srv.URL + "/", Client: &http.Client{Transport: tr}}
	if _, _, err := api.SignUp(testCtx(t), "bob", "pw", "Bob"); err != nil {
		t.Fatalf("SignUp: %v", err)
	}
	res, err := api.SignIn(testCtx(t), "alice", "secret")
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	if res.Token != "tok" || len(res.Channels) != 2 {
		t.Fatalf("SignIn = %+v", res)
	}
	chs, err := api.Channels(testCtx(t))
	if err != nil || len(chs) != 2 {
		t.Fatalf("Channels = %v, %v", chs, err)
	}
	_, err = api.SignIn(testCtx(t), "alice", "wrong")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Fatalf("wrong password: err = %v, want *APIError 401", err)
	}
	if tr.n != 4 {
		t.Fatalf("client transport saw %d requests, want 4", tr.n)
	}
}
