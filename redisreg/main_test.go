package redisreg

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/guildhall/guildhall/redistest"
	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/registry/registrytest"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cluster is a registrytest.Cluster of Registries sharing one Redis.
type cluster struct {
	client redis.UniversalClient
	mini   *miniredis.Miniredis // nil on a real redis-server
	prefix string
	tune   func(*Options)

	mu   sync.Mutex
	regs map[string]*Registry
}

func newMiniCluster(t testing.TB) *cluster {
	m, c := redistest.Miniredis(t)
	return &cluster{client: c, mini: m, prefix: "gh", regs: map[string]*Registry{}}
}

func newServerCluster(t testing.TB) *cluster {
	p := redistest.Server(t)
	return &cluster{client: redistest.Client(t, p.Addr()), prefix: "gh", regs: map[string]*Registry{}}
}

func (c *cluster) options(id string) Options {
	o := Options{
		Prefix: c.prefix, ReplicaID: id,
		Logger:          slog.New(slog.DiscardHandler),
		RefreshInterval: time.Second, HealthInterval: 50 * time.Millisecond,
		KickTimeout: 10 * time.Second, OpTimeout: 2 * time.Second,
	}
	if c.tune != nil {
		c.tune(&o)
	}
	return o
}

// start creates and starts a registry for id with extra option tweaks.
func (c *cluster) start(t testing.TB, id string, tweak func(*Options)) *Registry {
	t.Helper()
	o := c.options(id)
	if tweak != nil {
		tweak(&o)
	}
	r, err := New(c.client, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	return r
}

func (c *cluster) Replica(t *testing.T, id string) registry.ChannelRegistry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.regs[id]; ok {
		return r
	}
	r := c.start(t, id, nil)
	c.regs[id] = r
	return r
}

func (c *cluster) Advance(d time.Duration) {
	if c.mini != nil {
		c.mini.FastForward(d)
	}
	// A real Redis: Close removed everything the closed replica published.
}

func (c *cluster) MaxReplicas() int { return 3 }

func TestConformanceMiniredis(t *testing.T) {
	registrytest.Run(t, func(t *testing.T) registrytest.Cluster { return newMiniCluster(t) })
}

func TestConformanceRedisServer(t *testing.T) {
	p := redistest.Server(t)
	client := redistest.Client(t, p.Addr())
	n := 0
	registrytest.Run(t, func(t *testing.T) registrytest.Cluster {
		n++ // one server, a fresh key prefix per subtest
		return &cluster{client: client, prefix: fmt.Sprintf("gh%d", n), regs: map[string]*Registry{}}
	})
}
