package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxHTTPBody bounds how much of an HTTP response body the client reads.
const maxHTTPBody = 1 << 20

// APIError is an error answer of the HTTP sign-in API: the HTTP status and
// the JSON body's "code" and "error" fields. Code is one of "bad_request",
// "exists", "unauthorized", "unavailable" (or whatever a newer server sends);
// when the body is not the documented JSON, Code is empty and Message holds
// the start of the body.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("client: http %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("client: http %d %s: %s", e.Status, e.Code, e.Message)
}

// ChannelInfo is one channel of the cluster as the sign-in API lists it.
type ChannelInfo struct {
	ID         uint16 `json:"id"`
	Name       string `json:"name"`
	Replica    string `json:"replica"`
	Addr       string `json:"addr"` // host:port for Dial
	Players    int    `json:"players"`
	MaxPlayers int    `json:"max_players"`
	Enabled    bool   `json:"enabled"`
}

// SignInResult is a successful sign-in: the token for Dial, when it
// expires, the account's character and the cluster's channels.
type SignInResult struct {
	Token     string
	ExpiresAt time.Time
	AccountID int64
	CharID    uint32
	Name      string
	Channels  []ChannelInfo
}

// API is the HTTP sign-in API at Base (e.g. "http://127.0.0.1:8080"),
// spoken through Client, or http.DefaultClient when Client is nil. A program
// that signs many accounts in at once (a load generator) gives it a Client
// whose transport keeps enough idle connections per host. The package-level
// SignUp, SignIn and Channels are API{Base: httpBase} with the default client.
type API struct {
	Base   string
	Client *http.Client
}

// SignUp creates an account with one character through the HTTP API at
// httpBase (e.g. "http://127.0.0.1:8080"). An existing username gives an
// *APIError with Status 409 and Code "exists".
func SignUp(ctx context.Context, httpBase, username, password, character string) (accountID int64, charID uint32, err error) {
	return API{Base: httpBase}.SignUp(ctx, username, password, character)
}

// SignIn authenticates through the HTTP API at httpBase and returns a token
// for Dial with the channel list. Wrong credentials give an *APIError with
// Status 401 and Code "unauthorized".
func SignIn(ctx context.Context, httpBase, username, password string) (*SignInResult, error) {
	return API{Base: httpBase}.SignIn(ctx, username, password)
}

// Channels lists the cluster's channels through the HTTP API at httpBase.
func Channels(ctx context.Context, httpBase string) ([]ChannelInfo, error) {
	return API{Base: httpBase}.Channels(ctx)
}

// SignUp is the package-level SignUp through a's client.
func (a API) SignUp(ctx context.Context, username, password, character string) (accountID int64, charID uint32, err error) {
	req := map[string]string{"username": username, "password": password, "character": character}
	var resp struct {
		AccountID int64  `json:"account_id"`
		CharID    uint32 `json:"char_id"`
	}
	if err := a.doJSON(ctx, http.MethodPost, "/v1/accounts", req, &resp); err != nil {
		return 0, 0, fmt.Errorf("client: sign up %q: %w", username, err)
	}
	return resp.AccountID, resp.CharID, nil
}

// SignIn is the package-level SignIn through a's client.
func (a API) SignIn(ctx context.Context, username, password string) (*SignInResult, error) {
	req := map[string]string{"username": username, "password": password}
	var resp struct {
		Token     string        `json:"token"`
		ExpiresAt string        `json:"expires_at"`
		AccountID int64         `json:"account_id"`
		CharID    uint32        `json:"char_id"`
		Name      string        `json:"name"`
		Channels  []ChannelInfo `json:"channels"`
	}
	if err := a.doJSON(ctx, http.MethodPost, "/v1/signin", req, &resp); err != nil {
		return nil, fmt.Errorf("client: sign in %q: %w", username, err)
	}
	if resp.Token == "" {
		return nil, fmt.Errorf("client: sign in %q: response has no token", username)
	}
	res := &SignInResult{
		Token:     resp.Token,
		AccountID: resp.AccountID,
		CharID:    resp.CharID,
		Name:      resp.Name,
		Channels:  resp.Channels,
	}
	if resp.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, resp.ExpiresAt)
		if err != nil {
			return nil, fmt.Errorf("client: sign in %q: expires_at: %w", username, err)
		}
		res.ExpiresAt = t
	}
	return res, nil
}

// Channels is the package-level Channels through a's client.
func (a API) Channels(ctx context.Context) ([]ChannelInfo, error) {
	var resp struct {
		Channels []ChannelInfo `json:"channels"`
	}
	if err := a.doJSON(ctx, http.MethodGet, "/v1/channels", nil, &resp); err != nil {
		return nil, fmt.Errorf("client: channels: %w", err)
	}
	return resp.Channels, nil
}

// doJSON sends body (if non-nil) as JSON and decodes a 2xx answer into out;
// any other status becomes an *APIError.
func (a API) doJSON(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.Base, "/")+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	hc := a.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPBody))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := &APIError{Status: resp.StatusCode}
		var e struct {
			Error string `json:"error"`
			Code  string `json:"code"`
		}
		if json.Unmarshal(data, &e) == nil && (e.Error != "" || e.Code != "") {
			apiErr.Code, apiErr.Message = e.Code, e.Error
		} else {
			msg := strings.TrimSpace(string(data))
			if len(msg) > 200 {
				msg = msg[:200]
			}
			if msg == "" {
				msg = http.StatusText(resp.StatusCode)
			}
			apiErr.Message = msg
		}
		return apiErr
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}
