package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrUnauthorized: the sign-in API refused the username or password (401).
var ErrUnauthorized = errors.New("loadgen: sign-in refused (401)")

// APIError is a non-2xx answer of the sign-in API.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("sign-in API: HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap makes a 401 match ErrUnauthorized.
func (e *APIError) Unwrap() error {
	if e.Status == http.StatusUnauthorized {
		return ErrUnauthorized
	}
	return nil
}

// ChannelInfo is one live channel from the sign-in API's channel list.
type ChannelInfo struct {
	ID         uint16 `json:"id"`
	Name       string `json:"name"`
	Replica    string `json:"replica"`
	Addr       string `json:"addr"`
	Players    int    `json:"players"`
	MaxPlayers int    `json:"max_players"`
	Enabled    bool   `json:"enabled"`
}

// signIn is the answer of POST /v1/signin.
type signIn struct {
	Token     string        `json:"token"`
	ExpiresAt time.Time     `json:"expires_at"`
	AccountID int64         `json:"account_id"`
	CharID    uint32        `json:"char_id"`
	Name      string        `json:"name"`
	Channels  []ChannelInfo `json:"channels"`
}

// api speaks the HTTP sign-in API (docs/protocol.md) with its own client.
type api struct {
	hc *http.Client
}

func newAPI(concurrency int) *api {
	tr := &http.Transport{
		MaxIdleConns:        concurrency * 4,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     30 * time.Second,
	}
	return &api{hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

func (a *api) close() { a.hc.CloseIdleConnections() }

func (a *api) do(ctx context.Context, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error, Code string }
		_ = json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return fmt.Errorf("%s %s: %w", method, url, &APIError{Status: resp.StatusCode, Code: e.Code, Message: e.Error})
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, url, err)
		}
	}
	return nil
}

// signInRetries is how many times a sign-in answered 503 ("try again") is
// retried, with a doubling backoff from signInBackoff.
const (
	signInRetries = 5
	signInBackoff = 100 * time.Millisecond
)

func (a *api) signIn(ctx context.Context, base, user, pass string) (*signIn, error) {
	backoff := signInBackoff
	for try := 0; ; try++ {
		var out signIn
		err := a.do(ctx, http.MethodPost, base+"/v1/signin", map[string]string{"username": user, "password": pass}, &out)
		if err == nil {
			return &out, nil
		}
		var ae *APIError
		if try >= signInRetries || !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
			return nil, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
		backoff *= 2
	}
}

func (a *api) signUp(ctx context.Context, base, user, pass, char string) error {
	return a.do(ctx, http.MethodPost, base+"/v1/accounts",
		map[string]string{"username": user, "password": pass, "character": char}, nil)
}

func (a *api) channels(ctx context.Context, base string) ([]ChannelInfo, error) {
	var out struct {
		Channels []ChannelInfo `json:"channels"`
	}
	if err := a.do(ctx, http.MethodGet, base+"/v1/channels", nil, &out); err != nil {
		return nil, err
	}
	return out.Channels, nil
}

// AccountName returns the username of bot n: "<prefix>_<n>".
func AccountName(prefix string, n int) string { return prefix + "_" + strconv.Itoa(n) }

// CharacterName returns the character name of bot n: at most 16 characters
// of [a-z0-9_], unique per (prefix, n): "b" + a 6-character hash of the
// prefix + "_" + n in base 36.
func CharacterName(prefix string, n int) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(prefix))
	hs := strconv.FormatUint(uint64(h.Sum32()%2176782336), 36) // < 36^6
	for len(hs) < 6 {
		hs = "0" + hs
	}
	return "b" + hs + "_" + strconv.FormatInt(int64(n), 36)
}

// ensureSignIn signs bot n in at base, signing the account up first if the
// sign-in is refused (first run); signups bounds concurrent sign-ups, which
// are slow because of password hashing.
func (a *api) ensureSignIn(ctx context.Context, base, prefix, pass string, n int, signups chan struct{}) (*signIn, error) {
	user := AccountName(prefix, n)
	si, err := a.signIn(ctx, base, user, pass)
	if err == nil {
		return si, nil
	}
	if !errors.Is(err, ErrUnauthorized) {
		return nil, err
	}
	select {
	case signups <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	err = a.signUp(ctx, base, user, pass, CharacterName(prefix, n))
	<-signups
	if err != nil {
		return nil, fmt.Errorf("sign up %s: %w", user, err)
	}
	return a.signIn(ctx, base, user, pass)
}
