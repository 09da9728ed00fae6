package loadgen

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"

	"github.com/guildhall/guildhall/client"
)

// api speaks the HTTP sign-in API (docs/protocol.md) through client.API with
// its own pooled http.Client, so concurrent bots reuse connections.
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

func (a *api) at(base string) client.API { return client.API{Base: base, Client: a.hc} }

// hasStatus reports whether err carries a sign-in API answer with status.
func hasStatus(err error, status int) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && ae.Status == status
}

// signInRetries is how many times a sign-in answered 503 ("try again") is
// retried, with a doubling backoff from signInBackoff.
const (
	signInRetries = 5
	signInBackoff = 100 * time.Millisecond
)

func (a *api) signIn(ctx context.Context, base, user, pass string) (*client.SignInResult, error) {
	backoff := signInBackoff
	for try := 0; ; try++ {
		si, err := a.at(base).SignIn(ctx, user, pass)
		if err == nil {
			return si, nil
		}
		if try >= signInRetries || !hasStatus(err, http.StatusServiceUnavailable) {
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
func (a *api) ensureSignIn(ctx context.Context, base, prefix, pass string, n int, signups chan struct{}) (*client.SignInResult, error) {
	user := AccountName(prefix, n)
	si, err := a.signIn(ctx, base, user, pass)
	if err == nil {
		return si, nil
	}
	if !hasStatus(err, http.StatusUnauthorized) {
		return nil, err
	}
	select {
	case signups <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	_, _, err = a.at(base).SignUp(ctx, user, pass, CharacterName(prefix, n))
	<-signups
	if err != nil {
		return nil, fmt.Errorf("sign up %s: %w", user, err)
	}
	return a.signIn(ctx, base, user, pass)
}
