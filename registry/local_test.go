package registry_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/guildhall/guildhall/registry"
	"github.com/guildhall/guildhall/registry/registrytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// localCluster is the in-process registry as a registrytest.Cluster: one
// replica, no TTLs.
type localCluster struct {
	t   *testing.T
	reg *registry.Local
}

func newLocalCluster(t *testing.T) registrytest.Cluster {
	return &localCluster{t: t}
}

func (c *localCluster) Replica(t *testing.T, id string) registry.ChannelRegistry {
	t.Helper()
	if c.reg == nil {
		c.reg = registry.NewLocal(id, nil)
		reg := c.reg
		t.Cleanup(func() {
			if err := reg.Close(context.Background()); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	if c.reg.ReplicaID() != id {
		t.Fatalf("local registry is replica %q; asked for a second replica %q", c.reg.ReplicaID(), id)
	}
	return c.reg
}

func (c *localCluster) Advance(time.Duration) {}

func (c *localCluster) MaxReplicas() int { return 1 }

func TestLocalConformance(t *testing.T) {
	registrytest.Run(t, newLocalCluster)
}
