package signin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/guildhall/guildhall/store"
)

// CreateAccountRequest is the body of POST /v1/accounts.
type CreateAccountRequest struct {
	Username  string `json:"username"`
	Password  string `json:"password"`
	Character string `json:"character"`
}

// CreateAccountResponse is the 201 body of POST /v1/accounts.
type CreateAccountResponse struct {
	AccountID int64  `json:"account_id"`
	CharID    uint32 `json:"char_id"`
}

// SignInRequest is the body of POST /v1/signin.
type SignInRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// SignInResponse is the 200 body of POST /v1/signin.
type SignInResponse struct {
	Token     string        `json:"token"`
	ExpiresAt string        `json:"expires_at"` // RFC 3339
	AccountID int64         `json:"account_id"`
	CharID    uint32        `json:"char_id"`
	Name      string        `json:"name"`
	Channels  []ChannelJSON `json:"channels"`
}

// ChannelsResponse is the body of GET /v1/channels.
type ChannelsResponse struct {
	Channels []ChannelJSON `json:"channels"`
}

// ErrorResponse is every error body.
type ErrorResponse struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// Validation limits for account creation.
const (
	MinUsername = 3
	MaxUsername = 32
	MinPassword = 8
	MaxPassword = 128
	MinCharName = 3
	MaxCharName = 16
)

// errBody is a request body problem; its message is safe to return.
var errBody = errors.New("bad request body")

// errTooLarge is a body over MaxBody.
var errTooLarge = errors.New("request body too large")

// DecodeJSON decodes exactly one JSON object from r into v, rejecting
// unknown fields and trailing data. Errors wrap a message fit to return to
// the client.
func DecodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: limit %d bytes", errTooLarge, MaxBody)
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: empty body", errBody)
		}
		return fmt.Errorf("%w: %w", errBody, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: limit %d bytes", errTooLarge, MaxBody)
		}
		return fmt.Errorf("%w: trailing data after the JSON object", errBody)
	}
	return nil
}

func validName(what, s string, min, max int) error {
	if len(s) < min || len(s) > max {
		return fmt.Errorf("%s must be %d to %d characters", what, min, max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return fmt.Errorf("%s may hold only letters, digits and '_'", what)
		}
	}
	return nil
}

// Validate checks the request against the documented limits.
func (r CreateAccountRequest) Validate() error {
	if err := validName("username", r.Username, MinUsername, MaxUsername); err != nil {
		return err
	}
	if n := len([]rune(r.Password)); n < MinPassword || n > MaxPassword || len(r.Password) > 4*MaxPassword {
		return fmt.Errorf("password must be %d to %d characters", MinPassword, MaxPassword)
	}
	return validName("character", r.Character, MinCharName, MaxCharName)
}

func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	if err := DecodeJSON(r.Body, v); err != nil {
		if errors.Is(err, errTooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, err.Error())
		} else {
			writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		}
		return false
	}
	return true
}

func (h *Handler) createAccount(w http.ResponseWriter, r *http.Request) {
	var req CreateAccountRequest
	if !h.decode(w, r, &req) {
		return
	}
	if err := req.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	accID, charID, err := h.cfg.Store.CreateAccount(ctx, req.Username, req.Password, req.Character)
	switch {
	case err == nil:
	case errors.Is(err, store.ErrExists):
		writeError(w, http.StatusConflict, CodeExists, "username or character name already taken")
		return
	default:
		h.storeFailure(w, "create_account", err)
		return
	}
	h.log.Info("account created", "account_id", accID, "char_id", charID)
	writeJSON(w, http.StatusCreated, CreateAccountResponse{AccountID: accID, CharID: charID})
}

func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	var req SignInRequest
	if !h.decode(w, r, &req) {
		return
	}
	// Malformed credentials cannot match an account: same answer as a
	// wrong password, without a database round trip.
	if len(req.Username) > MaxUsername || len(req.Password) > 4*MaxPassword || req.Username == "" || req.Password == "" {
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, MsgBadCredentials)
		return
	}
	// Each store call gets its own Timeout: the password hash comparison
	// in Authenticate is slow on purpose and must not eat the budget of the
	// calls after it (under load that turned good sign-ins into 503s).
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	acc, chars, err := h.cfg.Store.Authenticate(ctx, req.Username, req.Password)
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrBadPassword):
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, MsgBadCredentials)
		return
	default:
		h.storeFailure(w, "authenticate", err)
		return
	}
	if len(chars) == 0 {
		h.log.Error("sign-in: account has no character", "account_id", acc.ID)
		writeError(w, http.StatusInternalServerError, CodeInternal, "account has no character")
		return
	}
	ch := chars[0]
	ctx, cancel = context.WithTimeout(r.Context(), h.cfg.Timeout)
	token, expires, err := h.cfg.Store.CreateSignSession(ctx, acc.ID, ch.ID, h.cfg.ReplicaID, h.cfg.TokenTTL)
	cancel()
	if err != nil {
		h.storeFailure(w, "create_sign_session", err)
		return
	}
	ctx, cancel = context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	list, err := h.liveChannels(ctx)
	if err != nil {
		h.log.Error("sign-in: listing channels", "err", err)
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "channel list unavailable, try again")
		return
	}
	writeJSON(w, http.StatusOK, SignInResponse{
		Token: token, ExpiresAt: expires.UTC().Format(time.RFC3339),
		AccountID: acc.ID, CharID: ch.ID, Name: ch.Name, Channels: list,
	})
}

func (h *Handler) channels(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	list, err := h.liveChannels(ctx)
	if err != nil {
		h.log.Error("listing channels", "err", err)
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "channel list unavailable, try again")
		return
	}
	writeJSON(w, http.StatusOK, ChannelsResponse{Channels: list})
}

func (h *Handler) livez(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.cfg.Store.Ping(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not ready: database: "+err.Error()+"\n")
		return
	}
	if h.cfg.Ready != nil {
		if err := h.cfg.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: "+err.Error()+"\n")
			return
		}
	}
	_, _ = io.WriteString(w, "ready\n")
}

// storeFailure answers a store error of op: 503 when the database is
// unreachable (or the call timed out), 500 otherwise; the detail is logged,
// not sent, and the failure counted by op and kind.
func (h *Handler) storeFailure(w http.ResponseWriter, op string, err error) {
	unavailable := errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
	kind := StoreErrOther
	if unavailable {
		kind = StoreErrUnavailable
	}
	h.storeErrors.WithLabelValues(op, kind).Inc()
	h.log.Error("sign-in store call failed", "op", op, "kind", kind, "err", err)
	if unavailable {
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, MsgUnavailable)
		return
	}
	writeError(w, http.StatusInternalServerError, CodeInternal, "internal error")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorResponse{Error: msg, Code: code})
}
