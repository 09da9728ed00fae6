package registry_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/guildhall/guildhall/registry"
)

// Local issues fencing tokens from one counter, so it keeps no per-name
// state after a release (names come from clients: a per-name map would grow
// without bound) and tokens still increase for every name.
func TestLocalTokensComeFromOneCounter(t *testing.T) {
	ctx := context.Background()
	l := registry.NewLocal("r1", nil)
	h := registry.Holder{CharID: 1, ChannelID: 1}
	var last uint64
	for i := range 5 {
		name := fmt.Sprint("sema-", i%3)
		lease, err := l.AcquireSemaphore(ctx, name, h)
		if err != nil {
			t.Fatal(err)
		}
		if lease.Token <= last {
			t.Fatalf("grant %d of %q: token %d, want above every earlier token (%d)", i, name, lease.Token, last)
		}
		last = lease.Token
		if err := l.ReleaseSemaphore(ctx, name, h); err != nil {
			t.Fatal(err)
		}
	}
}
