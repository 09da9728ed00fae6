package signin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/guildhall/guildhall/registry"
)

// brokenSessionStore fails CreateSignSession with err (a store bug, say).
type brokenSessionStore struct {
	*fakeStore
	err error
}

func (s brokenSessionStore) CreateSignSession(context.Context, int64, uint32, string, time.Duration) (string, time.Time, error) {
	return "", time.Time{}, s.err
}

// storeErrorCounts gathers guildhall_signin_store_errors_total from reg as
// "op/kind" → count.
func storeErrorCounts(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "guildhall_signin_store_errors_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			out[l["op"]+"/"+l["kind"]] += m.GetCounter().GetValue()
		}
	}
	return out
}

func newMetricsEnv(t *testing.T, st Store, fs *fakeStore, reg prometheus.Registerer) *env {
	t.Helper()
	h, err := NewHandler(Config{
		Store: st, Channels: fakeChannels{infos: []registry.ChannelInfo{{ID: 1, Name: "One", ReplicaID: "rA", Addr: "127.0.0.1:1"}}},
		ReplicaID: "rA", TokenTTL: time.Minute, Registerer: reg,
	})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{srv: srv, store: fs}
}

// Store failures of account creation and sign-in are counted by operation
// and kind; expected refusals (taken names, bad credentials) are not.
func TestStoreErrorsCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	fs := newFakeStore()
	e := newMetricsEnv(t, fs, fs, reg)

	code, _ := e.do(t, "POST", "/v1/accounts", goodAccount)
	require.Equal(t, http.StatusCreated, code)
	code, _ = e.do(t, "POST", "/v1/accounts", goodAccount)
	require.Equal(t, http.StatusConflict, code)
	code, _ = e.do(t, "POST", "/v1/signin", `{"username":"alice_1","password":"wrong password"}`)
	require.Equal(t, http.StatusUnauthorized, code)
	require.Empty(t, storeErrorCounts(t, reg), "refusals are not store failures")

	fs.setDown(true)
	code, _ = e.do(t, "POST", "/v1/accounts", `{"username":"bob","password":"12345678","character":"Bob"}`)
	require.Equal(t, http.StatusServiceUnavailable, code)
	for range 2 {
		code, _ = e.do(t, "POST", "/v1/signin", `{"username":"alice_1","password":"correct horse"}`)
		require.Equal(t, http.StatusServiceUnavailable, code)
	}
	require.Equal(t, map[string]float64{"create_account/unavailable": 1, "authenticate/unavailable": 2}, storeErrorCounts(t, reg))
}

// A failure that is not the database being unreachable is counted as
// "other" (answered 500); a timed-out call as "unavailable" (503). Two
// handlers on one Registerer share the counter.
func TestStoreErrorKinds(t *testing.T) {
	reg := prometheus.NewRegistry()
	fs := newFakeStore()
	_, _, err := fs.CreateAccount(context.Background(), "alice_1", "correct horse", "Alice")
	require.NoError(t, err)
	broken := newMetricsEnv(t, brokenSessionStore{fs, errors.New("fake: constraint violated")}, fs, reg)
	slow := newMetricsEnv(t, brokenSessionStore{fs, fmt.Errorf("fake: %w", context.DeadlineExceeded)}, fs, reg)

	code, _ := broken.do(t, "POST", "/v1/signin", `{"username":"alice_1","password":"correct horse"}`)
	require.Equal(t, http.StatusInternalServerError, code)
	code, _ = slow.do(t, "POST", "/v1/signin", `{"username":"alice_1","password":"correct horse"}`)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, map[string]float64{"create_sign_session/other": 1, "create_sign_session/unavailable": 1}, storeErrorCounts(t, reg))
}

// A Registerer that already has a different metric of that name is a
// configuration error, not a panic.
func TestStoreErrorsRegistrationConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "guildhall_signin_store_errors_total", Help: "clash"}))
	_, err := NewHandler(Config{Store: newFakeStore(), Channels: fakeChannels{}, ReplicaID: "r", TokenTTL: time.Minute, Registerer: reg})
	require.ErrorContains(t, err, "signin: register metrics")
	var are prometheus.AlreadyRegisteredError
	require.False(t, errors.As(err, &are), "a clash with another metric is not a reuse: %v", err)
}
