package redistest

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMiniredis(t *testing.T) {
	m, c := Miniredis(t)
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	m.FastForward(2 * time.Second)
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("key survived its TTL: n=%d err=%v", n, err)
	}
}

func TestServerRestartLosesData(t *testing.T) {
	p := Server(t)
	c := Client(t, p.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// The pooled connection broke with the restart; go-redis retries on a new one.
	n, err := c.Exists(ctx, "k").Result()
	if err != nil {
		n, err = c.Exists(ctx, "k").Result()
	}
	if err != nil || n != 0 {
		t.Fatalf("after restart: n=%d err=%v, want an empty dataset", n, err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("ping succeeded after Stop")
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}
