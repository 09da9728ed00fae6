package channel

import (
	"bufio"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guildhall/guildhall/wire"
)

// BenchmarkStageBroadcast100: a stage of 100 members over real loopback TCP,
// one cast per iteration fanned out to the 99 others, which read and count
// every CastMsg. Reports deliveries/s and allocations per delivered message
// (the whole process: server and the test clients, whose readers do not
// allocate). The frame is encoded once per cast (TestStageCastEncodedOnce).
func BenchmarkStageBroadcast100(b *testing.B) {
	const members = 100
	h := newHarness(b)
	srv := h.start(b, 1, func(c *Config, _ *Deps) {
		c.SendQueueLen = 1 << 16
		c.MaxPlayers = members + 1
	})
	clients := make([]*tclient, members)
	for i := range clients {
		clients[i] = login(b, srv, h.store.addChar(uint32(i+1), fmt.Sprintf("m%03d", i)))
	}
	clients[0].mustOK(&wire.StageCreate{StageID: "arena", MaxPlayers: members})
	for _, c := range clients {
		if _, ok := c.call(&wire.StageEnter{StageID: "arena"}).(*wire.StageInfo); !ok {
			b.Fatal("enter failed")
		}
	}
	sender := clients[0]
	// A ping round trip after everyone entered: the sender's join pushes
	// are all queued before the answer.
	sender.call(&wire.Ping{})

	var delivered atomic.Int64
	progress := make(chan struct{}, 1)
	var wg sync.WaitGroup
	for _, c := range clients[1:] {
		wg.Add(1)
		go func(c *tclient) {
			defer wg.Done()
			r := bufio.NewReaderSize(c.conn, 64*1024)
			buf := make([]byte, 0, 8192)
			for {
				f, nb, err := wire.ReadFrame(r, buf)
				buf = nb
				if err != nil {
					return
				}
				if f.Type == wire.TCastMsg {
					delivered.Add(1)
					select {
					case progress <- struct{}{}:
					default:
					}
				}
			}
		}(c)
	}
	_ = sender.conn.SetReadDeadline(time.Time{})
	go func() { // the sender's own pushes are discarded
		buf := make([]byte, 0, 512)
		for {
			var err error
			if _, buf, err = wire.ReadFrame(sender.conn, buf); err != nil {
				return
			}
		}
	}()
	for _, c := range clients[1:] {
		_ = c.conn.SetReadDeadline(time.Time{})
	}

	frame, err := wire.Encode(0, &wire.Cast{Scope: wire.ScopeStage, Payload: make([]byte, 32)})
	if err != nil {
		b.Fatal(err)
	}
	waitFor := func(target int64) {
		for delivered.Load() < target {
			<-progress
		}
	}
	const window = 2048 // casts in flight
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := sender.conn.Write(frame); err != nil {
			b.Fatal(err)
		}
		if i >= window && i%256 == 0 {
			waitFor(int64(i-window) * (members - 1))
		}
	}
	total := int64(b.N) * (members - 1)
	waitFor(total)
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(total), "allocs/delivery")
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "deliveries/s")
	if n := counter(h.met.SlowConsumers); n != 0 {
		b.Fatalf("%d members disconnected as slow consumers", n)
	}
	_ = srv.Close()
	wg.Wait()
}
