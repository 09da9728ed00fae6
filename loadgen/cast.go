package loadgen

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guildhall/guildhall/wire"
)

// stream is a numbered sequence of casts sent by one sender goroutine.
type stream struct {
	id        uint32
	next      uint64 // next sequence number
	measuring bool
	lo        uint64 // first measured sequence number
	failed    SeqSet // sequence numbers whose write failed
	senders   []int32
}

// measure records that seq is about to be sent at send time nowNs.
func (s *stream) measure(seq uint64, measured bool) {
	if measured && !s.measuring {
		s.measuring = true
		s.lo = seq
	}
}

// window returns the measured range [lo, hi).
func (s *stream) window() (lo, hi uint64) {
	if !s.measuring {
		return s.next, s.next
	}
	return s.lo, s.next
}

// castPlan is what distinguishes town, world and whisper.
type castPlan struct {
	name  string
	scope uint8
	rate  float64 // total casts per second
	// perSession, when set, replaces rate by perSession times the number of
	// bots live after setup (bots refused at login or stage entry do not
	// send, so the survivors must not send their share).
	perSession float64
	// setup runs after the bots connected (e.g. stages).
	setup func(ctx context.Context, bots []*bot) error
	// pick chooses a sender (and a target, or -1) among the worker's bots.
	pick func(w *castWorker) (sender, target int)
	// streamID names the stream of a (worker, sender, target) send.
	streamID func(w *castWorker, sender, target int) uint32
	// audience is how many deliveries a send expects.
	audience func(sender, target int) int
	// expects lists the audit expectations once senders have stopped.
	expects func(workers []*castWorker, bots []*bot) []Expect
	// trackSenders keeps the sender of each measured sequence number.
	trackSenders bool
}

// castWorker is one sending goroutine and its streams.
type castWorker struct {
	id      int
	bots    []int // indices of live bots it sends for
	all     []int // indices of every live bot
	streams map[uint32]*stream
	rng     interface{ IntN(int) int }
	rr      int
}

func (w *castWorker) stream(id uint32) *stream {
	s := w.streams[id]
	if s == nil {
		s = &stream{id: id}
		w.streams[id] = s
	}
	return s
}

// castFrame builds a Cast frame (request ID 0: no OK) with room for the
// payload, and returns the frame and the payload's offset in it.
func castFrame(scope uint8, target int, size int) ([]byte, int) {
	m := &wire.Cast{Scope: scope, Payload: make([]byte, size)}
	if target >= 0 {
		m.Targets = []uint32{0}
	}
	f, err := wire.Encode(0, m)
	if err != nil {
		panic(fmt.Sprintf("loadgen: cast frame of %d bytes: %v", size, err)) // size is validated
	}
	return f, len(f) - size
}

func pingFrame() []byte {
	f, _ := wire.Encode(0, &wire.Ping{})
	return f
}

// runCast runs one cast scenario.
func (e *env) runCast(ctx context.Context, p castPlan) (ScenarioReport, error) {
	cfg := e.cfg
	var ctr counters
	var lat, local, cross Recorder
	var crossN, localN countersPair
	var measureStartNs atomic.Int64 // sends at or after it are measured
	measureStartNs.Store(1<<63 - 1)
	onCast := func(b *bot, scope uint8, sender uint32, payload []byte) {
		pl, err := ParsePayload(payload)
		if err != nil {
			b.inbox.Foreign++
			return
		}
		if int(pl.Sender) == b.idx {
			b.inbox.Echoes++
			return
		}
		if b.inbox.Mark(pl.Stream, pl.Seq) {
			return
		}
		ctr.total.Add(1)
		if pl.SentNs < measureStartNs.Load() {
			return
		}
		ctr.delivered.Add(1)
		d := time.Duration(e.nowNs() - pl.SentNs)
		lat.Record(b.idx, d)
		if int(pl.Replica) != b.replica {
			cross.Record(b.idx, d)
			crossN.add(b.idx)
		} else {
			local.Record(b.idx, d)
			localN.add(b.idx)
		}
	}
	var readers sync.WaitGroup
	n := cfg.Sessions * len(e.replicas)
	bots, err := e.connectBots(ctx, n, onCast, &ctr, &readers)
	if err != nil {
		return ScenarioReport{}, err
	}
	defer readers.Wait()
	defer closeBots(bots)
	if p.setup != nil {
		if err := p.setup(ctx, bots); err != nil {
			e.logoutBots(bots)
			return ScenarioReport{}, err
		}
	}
	var live []int
	for i, b := range bots {
		if b != nil {
			live = append(live, i)
		}
	}
	rate := p.rate
	if p.perSession > 0 {
		rate = p.perSession * float64(len(live))
	}
	workers := make([]*castWorker, min(cfg.Senders, len(live)))
	for i := range workers {
		workers[i] = &castWorker{id: i, all: live, streams: map[uint32]*stream{}, rng: newRand(uint64(i + 1))}
	}
	for k, i := range live {
		w := workers[k%len(workers)]
		w.bots = append(w.bots, i)
	}

	start := time.Now()
	measureStart := start.Add(cfg.Warmup)
	measureStartNs.Store(e.base.UnixNano() + int64(measureStart.Sub(e.base)))
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); e.keepalive(stop, bots) }()
	go func() { defer bg.Done(); e.progress(stop, p.name, start, &ctr) }()
	var senders sync.WaitGroup
	for _, w := range workers {
		senders.Add(1)
		go func(w *castWorker) {
			defer senders.Done()
			frames := map[bool][]byte{}
			var pl Payload
			pace(ctx, stop, rate/float64(len(workers)), start, &ctr.behind, func() {
				sender, target := p.pick(w)
				b := bots[sender]
				f, ok := frames[target >= 0]
				if !ok {
					f, _ = castFrame(p.scope, target, cfg.PayloadSize)
					frames[target >= 0] = f
				}
				off := len(f) - cfg.PayloadSize
				if target >= 0 {
					binary.BigEndian.PutUint32(f[wire.HeaderSize+1+2:], bots[target].charID)
				}
				s := w.stream(p.streamID(w, sender, target))
				seq := s.next
				s.next++
				now := e.nowNs()
				measured := now >= measureStartNs.Load()
				s.measure(seq, measured)
				pl = Payload{Stream: s.id, Seq: seq, SentNs: now, Sender: uint32(sender), Replica: uint16(b.replica)}
				pl.Put(f[off:])
				if p.trackSenders && s.measuring {
					s.senders = append(s.senders, int32(sender))
				}
				if err := b.write(f); err != nil {
					s.failed.Add(seq)
					ctr.fail(err)
					return
				}
				if measured {
					ctr.sent.Add(1)
					ctr.expected.Add(int64(p.audience(sender, target)))
				}
			})
		}(w)
	}
	// Run until the measured window ends.
	endAt := time.NewTimer(time.Until(measureStart.Add(cfg.Duration)))
	select {
	case <-ctx.Done():
	case <-endAt.C:
	}
	endAt.Stop()
	close(stop)
	senders.Wait()
	measured := time.Since(measureStart)
	if measured > cfg.Duration {
		measured = cfg.Duration
	}
	e.drainWait(ctx, &ctr)
	bg.Wait()
	e.logoutBots(bots)
	readers.Wait()

	inboxes := make([]*Inbox, len(bots))
	var sr ScenarioReport
	for i, b := range bots {
		if b == nil {
			inboxes[i] = &Inbox{}
			continue
		}
		inboxes[i] = &b.inbox
		if err := b.failure(); !isClosed(err) {
			ctr.fail(fmt.Errorf("bot %d disconnected: %w", i, err))
		}
		if b.kicked.Load() {
			sr.Kicked++
		}
		sr.ServerErrors += b.asyncErrs.Load()
		sr.Echoes += b.inbox.Echoes
		sr.Foreign += b.inbox.Foreign
	}
	t := Audit(inboxes, p.expects(workers, bots))
	sr.Sessions = len(live)
	sr.Sent = ctr.sent.Load()
	sr.Tally = t
	sr.Seconds = measured.Seconds()
	if sr.Seconds > 0 {
		sr.Rate = float64(t.Delivered) / sr.Seconds
		sr.SendRate = float64(sr.Sent) / sr.Seconds
	}
	sr.Latency = lat.Snapshot().Summary()
	if len(e.replicas) > 1 {
		l, c := local.Snapshot().Summary(), cross.Snapshot().Summary()
		sr.LocalLatency, sr.CrossLatency = &l, &c
		sr.CrossDelivered = crossN.sum()
	}
	sr.Behind = ctr.behind.Load()
	sr.Errors = ctr.errors.Load()
	sr.ErrorSamples = ctr.errorSamples()
	return sr, nil
}

// countersPair is a sharded counter (one shard per bot key).
type countersPair struct {
	mu [recorderShards]struct {
		sync.Mutex
		n int64
		_ [48]byte
	}
}

func (c *countersPair) add(key int) {
	s := &c.mu[uint(key)%recorderShards]
	s.Lock()
	s.n++
	s.Unlock()
}

func (c *countersPair) sum() int64 {
	var t int64
	for i := range c.mu {
		c.mu[i].Lock()
		t += c.mu[i].n
		c.mu[i].Unlock()
	}
	return t
}

// skipFailed returns a Skip function for a stream's failed sends, or nil.
func skipFailed(s *stream) func(uint64) bool {
	if s.failed.Len() == 0 {
		return nil
	}
	return s.failed.Has
}

// ---- town ----

func (e *env) runTown(ctx context.Context) (ScenarioReport, error) {
	var groups [][]int // bot indices per stage
	groupOf := map[int]int{}
	p := castPlan{
		name:       ScenarioTown,
		scope:      wire.ScopeStage,
		perSession: e.cfg.TownRate,
		setup: func(ctx context.Context, bots []*bot) error {
			var err error
			groups, err = e.formStages(ctx, bots)
			for g, l := range groups {
				for _, i := range l {
					groupOf[i] = g
				}
			}
			return err
		},
		pick: func(w *castWorker) (int, int) {
			i := w.bots[w.rr%len(w.bots)]
			w.rr++
			return i, -1
		},
		streamID: func(w *castWorker, sender, _ int) uint32 { return uint32(sender) },
		audience: func(sender, _ int) int { return len(groups[groupOf[sender]]) - 1 },
		expects: func(workers []*castWorker, bots []*bot) []Expect {
			streams := map[uint32]*stream{}
			for _, w := range workers {
				for id, s := range w.streams {
					streams[id] = s
				}
			}
			var out []Expect
			for _, g := range groups {
				for _, s := range g {
					st := streams[uint32(s)]
					if st == nil {
						continue
					}
					lo, hi := st.window()
					for _, r := range g {
						if r != s {
							out = append(out, Expect{Receiver: r, Stream: st.id, Lo: lo, Hi: hi, Skip: skipFailed(st)})
						}
					}
				}
			}
			return out
		},
	}
	sr, err := e.runCast(ctx, p)
	sr.Stages = len(groups)
	return sr, err
}

// formStages puts the live bots of each channel into stages of StageSize:
// the first member creates the stage, then everyone enters it. Bots that
// fail are closed and left out of the groups.
func (e *env) formStages(ctx context.Context, bots []*bot) ([][]int, error) {
	byAddr := map[string][]int{}
	var addrs []string
	for i, b := range bots {
		if b == nil {
			continue
		}
		if _, ok := byAddr[b.addr]; !ok {
			addrs = append(addrs, b.addr)
		}
		byAddr[b.addr] = append(byAddr[b.addr], i)
	}
	var groups [][]int
	for ai, a := range addrs {
		l := byAddr[a]
		for k := 0; k < len(l); k += e.cfg.StageSize {
			g := l[k:min(k+e.cfg.StageSize, len(l))]
			if len(g) < 2 {
				bots[g[0]].close() // a stage of one receives nothing
				bots[g[0]] = nil
				continue
			}
			stage := fmt.Sprintf("lg%s_%d_%d", e.cfg.RunID, ai, k/e.cfg.StageSize)
			if _, err := bots[g[0]].request(ctx, &wire.StageCreate{StageID: stage, MaxPlayers: uint16(len(g))}); err != nil {
				if we, ok := err.(*wire.Error); !ok || we.Code != wire.CodeExists {
					return groups, fmt.Errorf("%w: create stage %s: %w", ErrSetup, stage, err)
				}
			}
			var kept []int
			for _, i := range g {
				if _, err := bots[i].request(ctx, &wire.StageEnter{StageID: stage}); err != nil {
					e.cfg.Logger.Warn("stage enter failed", "bot", i, "stage", stage, "err", err)
					bots[i].close()
					bots[i] = nil
					continue
				}
				kept = append(kept, i)
			}
			if len(kept) >= 2 {
				groups = append(groups, kept)
			}
		}
	}
	if len(groups) == 0 {
		return nil, fmt.Errorf("%w: no stage of two or more bots", ErrSetup)
	}
	return groups, nil
}

// ---- world ----

func (e *env) runWorld(ctx context.Context) (ScenarioReport, error) {
	live := 0
	p := castPlan{
		name:  ScenarioWorld,
		scope: wire.ScopeWorld,
		rate:  e.cfg.WorldRate,
		setup: func(_ context.Context, bots []*bot) error {
			for _, b := range bots {
				if b != nil {
					live++
				}
			}
			return nil
		},
		pick:         func(w *castWorker) (int, int) { return w.bots[w.rng.IntN(len(w.bots))], -1 },
		streamID:     func(w *castWorker, _, _ int) uint32 { return uint32(w.id) },
		audience:     func(int, int) int { return live - 1 },
		trackSenders: true,
		expects: func(workers []*castWorker, bots []*bot) []Expect {
			var out []Expect
			for _, w := range workers {
				for _, s := range w.streams {
					lo, hi := s.window()
					for r, b := range bots {
						if b == nil {
							continue
						}
						out = append(out, Expect{Receiver: r, Stream: s.id, Lo: lo, Hi: hi, Skip: func(seq uint64) bool {
							return s.failed.Has(seq) || s.senders[seq-lo] == int32(r)
						}})
					}
				}
			}
			return out
		},
	}
	return e.runCast(ctx, p)
}

// ---- whisper ----

func (e *env) runWhisper(ctx context.Context) (ScenarioReport, error) {
	nw := uint32(e.cfg.Senders)
	p := castPlan{
		name:  ScenarioWhisper,
		scope: wire.ScopeTargets,
		rate:  e.cfg.WhisperRate,
		setup: func(_ context.Context, bots []*bot) error {
			live := 0
			for _, b := range bots {
				if b != nil {
					live++
				}
			}
			if live < 2 {
				return fmt.Errorf("%w: whisper needs two connected bots, have %d", ErrSetup, live)
			}
			return nil
		},
		pick: func(w *castWorker) (int, int) {
			s := w.bots[w.rng.IntN(len(w.bots))]
			for {
				t := w.all[w.rng.IntN(len(w.all))]
				if t != s {
					return s, t
				}
			}
		},
		streamID: func(w *castWorker, _, target int) uint32 { return uint32(target)*nw + uint32(w.id) },
		audience: func(int, int) int { return 1 },
		expects: func(workers []*castWorker, bots []*bot) []Expect {
			var out []Expect
			for _, w := range workers {
				for _, s := range w.streams {
					lo, hi := s.window()
					out = append(out, Expect{Receiver: int(s.id / nw), Stream: s.id, Lo: lo, Hi: hi, Skip: skipFailed(s)})
				}
			}
			return out
		},
	}
	return e.runCast(ctx, p)
}
