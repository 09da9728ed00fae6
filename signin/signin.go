// Package signin is a replica's HTTP API: account creation and sign-in
// (which issues a channel login token and the cluster's channel list), the
// live channel list, health probes and the Prometheus metrics endpoint.
//
// The contract, which the client library is written against:
//
//	POST /v1/accounts {"username","password","character"}
//	    201 {"account_id","char_id"}
//	    400 code "bad_request", 409 code "exists", 503 code "unavailable"
//	POST /v1/signin {"username","password"}
//	    200 {"token","expires_at","account_id","char_id","name","channels":[...]}
//	    401 code "unauthorized" (same message for an unknown user and a
//	    wrong password), 503 code "unavailable"
//	GET /v1/channels  200 {"channels":[...]} (live, not draining)
//	GET /livez        200 while the process runs
//	GET /readyz       200 when ready, 503 with the reason otherwise
//	GET /metrics      Prometheus text format
//
// Every error body is {"error": message, "code": code}. Request bodies are
// limited to MaxBody bytes, must be one JSON object, and may not carry
// unknown fields.
package signin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/store"
)

// MaxBody bounds a request body in bytes.
const MaxBody = 4 << 10

// Error codes in error bodies.
const (
	CodeBadRequest   = "bad_request"
	CodeExists       = "exists"
	CodeUnauthorized = "unauthorized"
	CodeUnavailable  = "unavailable"
	CodeInternal     = "internal"
	CodeTooLarge     = "too_large"
)

// MsgBadCredentials is the one message for an unknown user or a wrong
// password, so the API does not reveal which usernames exist.
const MsgBadCredentials = "bad username or password"

// MsgUnavailable is the message of a 503 caused by the database: accounts
// and sign-in wait for it, while players already in a channel stay there.
const MsgUnavailable = "the account database is unavailable; try again in a moment"

// Store is the durable state the API needs. pgstore.Store implements it.
// Errors wrap the sentinels of package store.
type Store interface {
	// CreateAccount creates an account with one character and returns their
	// IDs; store.ErrExists if the username or character name is taken.
	CreateAccount(ctx context.Context, username, password, charName string) (int64, uint32, error)
	// Authenticate checks the password and returns the account with its
	// characters; store.ErrNotFound or store.ErrBadPassword on failure.
	Authenticate(ctx context.Context, username, password string) (store.Account, []store.Character, error)
	// CreateSignSession issues a random login token for the character,
	// owned by replicaID, valid for ttl; it returns the token and its expiry.
	CreateSignSession(ctx context.Context, accountID int64, charID uint32, replicaID string, ttl time.Duration) (string, time.Time, error)
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
}

// ChannelLister lists the cluster's live channels; registry.ChannelRegistry
// satisfies it.
type ChannelLister interface {
	Channels(ctx context.Context) ([]registry.ChannelInfo, error)
}

// Config is what NewHandler needs.
type Config struct {
	Store    Store         // required
	Channels ChannelLister // required
	// ReplicaID owns the sign sessions this replica issues. Required.
	ReplicaID string
	// TokenTTL is how long an issued token stays valid. Required (> 0).
	TokenTTL time.Duration
	// Ready reports whether this replica's channels are started and not
	// draining; nil means always. /readyz also pings the store.
	Ready func(ctx context.Context) error
	// Metrics serves /metrics; nil leaves /metrics unrouted (404).
	Metrics http.Handler
	// Logger receives request failures; nil means slog.Default().
	Logger *slog.Logger
	// Timeout bounds each store call (and the channel listing) on its own;
	// 0 means 10 seconds.
	Timeout time.Duration
	// Registerer, if non-nil, gets the handler's metrics (nil: they are
	// kept but not exported):
	//
	//	guildhall_signin_store_errors_total{op,kind}
	//
	// counts failed store calls of account creation and sign-in, by op
	// (create_account, authenticate, create_sign_session) and kind
	// (StoreErrUnavailable: the database was unreachable or the call timed
	// out, answered 503; StoreErrOther: anything else, answered 500). The
	// expected answers (a taken name, bad credentials) are not failures.
	// Handlers sharing a Registerer share the counter.
	Registerer prometheus.Registerer
}

// Kinds of store failure, the kind label of guildhall_signin_store_errors_total.
const (
	StoreErrUnavailable = "unavailable"
	StoreErrOther       = "other"
)

// newStoreErrors creates the store failure counter and registers it with
// reg (if non-nil), reusing one already registered there.
func newStoreErrors(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "guildhall", Subsystem: "signin", Name: "store_errors_total",
		Help: "Failed store calls of account creation and sign-in, by operation and kind (unavailable or other).",
	}, []string{"op", "kind"})
	if reg == nil {
		return v, nil
	}
	if err := reg.Register(v); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, fmt.Errorf("signin: register metrics: %w", err)
	}
	return v, nil
}

// Handler serves the API. It is safe for concurrent use.
type Handler struct {
	cfg         Config
	log         *slog.Logger
	mux         *http.ServeMux
	storeErrors *prometheus.CounterVec // by op and kind
}

// NewHandler returns the API handler, or an error naming a missing field
// or saying why its metrics could not be registered with cfg.Registerer.
func NewHandler(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("signin: Config.Store is nil")
	case cfg.Channels == nil:
		return nil, errors.New("signin: Config.Channels is nil")
	case cfg.ReplicaID == "":
		return nil, errors.New("signin: Config.ReplicaID is empty")
	case cfg.TokenTTL <= 0:
		return nil, fmt.Errorf("signin: Config.TokenTTL %s is not positive", cfg.TokenTTL)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	storeErrors, err := newStoreErrors(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), storeErrors: storeErrors}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.mux.HandleFunc("POST /v1/accounts", h.createAccount)
	h.mux.HandleFunc("POST /v1/signin", h.signIn)
	h.mux.HandleFunc("GET /v1/channels", h.channels)
	h.mux.HandleFunc("GET /livez", h.livez)
	h.mux.HandleFunc("GET /readyz", h.readyz)
	if cfg.Metrics != nil {
		h.mux.Handle("GET /metrics", cfg.Metrics)
	}
	return h, nil
}

// ServeHTTP routes the request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// ChannelJSON is one entry of a channel list.
type ChannelJSON struct {
	ID         uint16 `json:"id"`
	Name       string `json:"name"`
	Replica    string `json:"replica"`
	Addr       string `json:"addr"`
	Players    int    `json:"players"`
	MaxPlayers int    `json:"max_players"`
	Enabled    bool   `json:"enabled"`
}

// liveChannels lists the cluster's channels that are not draining, by ID.
func (h *Handler) liveChannels(ctx context.Context) ([]ChannelJSON, error) {
	infos, err := h.cfg.Channels.Channels(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ChannelJSON, 0, len(infos))
	for _, c := range infos {
		if c.Draining {
			continue
		}
		out = append(out, ChannelJSON{
			ID: c.ID, Name: c.Name, Replica: c.ReplicaID, Addr: c.Addr,
			Players: c.Players, MaxPlayers: c.MaxPlayers, Enabled: true,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Replica < out[j].Replica
	})
	return out, nil
}
