package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/wire"
)

// env is the shared state of one run.
type env struct {
	cfg      Config
	api      *api
	replicas []string               // sorted replica IDs
	channels [][]client.ChannelInfo // per replica, sorted by ID
	base     time.Time              // the run's clock origin (monotonic)
	signups  chan struct{}
}

// nowNs returns unix nanoseconds computed from the monotonic clock, so that
// timestamps in payloads never go backwards within a run.
func (e *env) nowNs() int64 { return e.base.UnixNano() + int64(time.Since(e.base)) }

// Run executes the configured scenarios one after the other and returns
// their figures. It returns an error (wrapping ErrConfig, ErrRemote,
// ErrNoChannels or ErrSetup) when a scenario could not run at all; losses,
// duplicates and safety violations are not errors: they are in the Report
// (see Report.Problems). Cancelling ctx ends the run early; the scenarios
// finished so far are returned.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg = cfg.withDefaults()
	rep := Report{RunID: cfg.RunID, Started: time.Now().UTC(), Config: publicConfig(cfg)}
	if err := cfg.Validate(); err != nil {
		return rep, err
	}
	e := &env{cfg: cfg, api: newAPI(cfg.ConnectConcurrency), base: time.Now(), signups: make(chan struct{}, cfg.SignupConcurrency)}
	defer e.api.close()
	if err := e.discover(ctx); err != nil {
		return rep, err
	}
	rep.Replicas = e.replicas
	for _, name := range cfg.Scenarios() {
		if ctx.Err() != nil {
			return rep, fmt.Errorf("loadgen: run cancelled before %s: %w", name, ctx.Err())
		}
		cfg.Logger.Info("scenario starting", "scenario", name, "replicas", len(e.replicas), "sessions_per_replica", cfg.Sessions)
		var sr ScenarioReport
		var err error
		switch name {
		case ScenarioTown:
			sr, err = e.runTown(ctx)
		case ScenarioWorld:
			sr, err = e.runWorld(ctx)
		case ScenarioWhisper:
			sr, err = e.runWhisper(ctx)
		case ScenarioLogin:
			sr, err = e.runLogin(ctx)
		case ScenarioSemaphore:
			sr, err = e.runSemaphore(ctx)
		case ScenarioIdle:
			sr, err = e.runIdle(ctx)
		}
		sr.Scenario = name
		if err != nil {
			return rep, fmt.Errorf("scenario %s: %w", name, err)
		}
		rep.Scenarios = append(rep.Scenarios, sr)
		cfg.Logger.Info("scenario finished", "scenario", name, "delivered", sr.Delivered, "lost", sr.Lost, "duplicated", sr.Duplicated, "errors", sr.Errors)
	}
	rep.Finished = time.Now().UTC()
	return rep, nil
}

// discover reads the cluster's channel list and groups enabled channels by replica.
func (e *env) discover(ctx context.Context) error {
	var chs []client.ChannelInfo
	var err error
	for _, b := range e.cfg.HTTP {
		chs, err = e.api.at(b).Channels(ctx)
		if err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%w: channel list: %w", ErrSetup, err)
	}
	by := map[string][]client.ChannelInfo{}
	for _, c := range chs {
		if !c.Enabled {
			continue
		}
		if err := CheckAddr(c.Addr, e.cfg.AllowRemote); err != nil {
			return err
		}
		by[c.Replica] = append(by[c.Replica], c)
	}
	if len(by) == 0 {
		return ErrNoChannels
	}
	for r := range by {
		e.replicas = append(e.replicas, r)
	}
	sort.Strings(e.replicas)
	for _, r := range e.replicas {
		l := by[r]
		sort.Slice(l, func(i, j int) bool { return l[i].ID < l[j].ID })
		e.channels = append(e.channels, l)
	}
	return nil
}

// slot says where bot n lives: its replica index and channel address.
func (e *env) slot(n int) (replica int, ch client.ChannelInfo) {
	r := n % len(e.replicas)
	l := e.channels[r]
	return r, l[(n/len(e.replicas))%len(l)]
}

// counters are the live figures shared by a scenario's goroutines.
type counters struct {
	sent      atomic.Int64 // measured sends that were written
	expected  atomic.Int64 // measured deliveries expected (for the drain)
	delivered atomic.Int64 // measured unique deliveries
	total     atomic.Int64 // all unique deliveries, warmup included
	errors    atomic.Int64
	behind    atomic.Int64 // sends skipped because the sender fell behind

	mu      sync.Mutex
	samples []string
}

// fail counts an error and keeps the first few messages.
func (c *counters) fail(err error) {
	c.errors.Add(1)
	c.mu.Lock()
	if len(c.samples) < 10 {
		c.samples = append(c.samples, err.Error())
	}
	c.mu.Unlock()
}

func (c *counters) errorSamples() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.samples...)
}

// connectBots signs in and connects n bots with bounded concurrency. Bots
// that fail are counted in ctr and left nil; it fails with ErrSetup only if
// none connected.
func (e *env) connectBots(ctx context.Context, n int, onCast castHandler, ctr *counters, wg *sync.WaitGroup) ([]*bot, error) {
	bots := make([]*bot, n)
	sem := make(chan struct{}, e.cfg.ConnectConcurrency)
	var cw sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			cw.Wait()
			closeBots(bots)
			return nil, ctx.Err()
		}
		cw.Add(1)
		go func(i int) {
			defer cw.Done()
			defer func() { <-sem }()
			b, err := e.connectBot(ctx, i, onCast, wg)
			if err != nil {
				ctr.fail(err)
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				return
			}
			bots[i] = b
		}(i)
	}
	cw.Wait()
	up := 0
	for _, b := range bots {
		if b != nil {
			up++
		}
	}
	if up == 0 {
		return nil, fmt.Errorf("%w: no bot connected: %w", ErrSetup, firstErr)
	}
	e.cfg.Logger.Info("bots connected", "connected", up, "wanted", n)
	return bots, nil
}

// connectRetries is how many times a bot signs in and connects again when
// the channel refuses the login with CodeUnavailable ("try again": e.g. the
// presence write to Redis timed out), with a doubling backoff from
// signInBackoff.
const connectRetries = 5

func (e *env) connectBot(ctx context.Context, i int, onCast castHandler, wg *sync.WaitGroup) (*bot, error) {
	replica, ch := e.slot(i)
	base := e.cfg.HTTP[i%len(e.cfg.HTTP)]
	backoff := signInBackoff
	for try := 0; ; try++ {
		si, err := e.api.ensureSignIn(ctx, base, e.cfg.AccountsPrefix, e.cfg.Password, i, e.signups)
		if err != nil {
			return nil, fmt.Errorf("bot %d sign-in: %w", i, err)
		}
		b, err := dialBot(ctx, ch.Addr, si.Token, i, replica, onCast, e.cfg.WriteTimeout, wg)
		var we *wire.Error
		if err == nil || try >= connectRetries || !errors.As(err, &we) || we.Code != wire.CodeUnavailable {
			return b, err
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

func closeBots(bots []*bot) {
	for _, b := range bots {
		if b != nil {
			b.close()
		}
	}
}

// logoutBots logs every bot out with bounded concurrency and a deadline,
// then closes them all.
func (e *env) logoutBots(bots []*bot) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sem := make(chan struct{}, e.cfg.ConnectConcurrency)
	var wg sync.WaitGroup
	for _, b := range bots {
		if b == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(b *bot) {
			defer wg.Done()
			defer func() { <-sem }()
			_ = b.logout(ctx)
		}(b)
	}
	wg.Wait()
	closeBots(bots)
}

// keepalive pings every live bot each interval until stop closes.
func (e *env) keepalive(stop <-chan struct{}, bots []*bot) {
	t := time.NewTicker(e.cfg.Keepalive)
	defer t.Stop()
	ping := pingFrame()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			for _, b := range bots {
				if b != nil && b.alive() {
					_ = b.write(ping)
				}
			}
		}
	}
}

// progress prints a line per second to cfg.Progress until stop closes.
func (e *env) progress(stop <-chan struct{}, name string, start time.Time, ctr *counters) {
	if e.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			tot := ctr.total.Load()
			fmt.Fprintf(e.cfg.Progress, "[%s] %5.0fs sent=%d delivered=%d delivered/s=%d errors=%d behind=%d\n",
				name, now.Sub(start).Seconds(), ctr.sent.Load(), ctr.delivered.Load(), tot-last, ctr.errors.Load(), ctr.behind.Load())
			last = tot
		}
	}
}

// pace calls send once per due message at rate per second from start until
// stop closes or ctx ends. When it falls more than a second behind, it skips
// the excess (counted in behind) instead of bursting: the offered rate stays
// honest and the shortfall is reported.
func pace(ctx context.Context, stop <-chan struct{}, rate float64, start time.Time, behind *atomic.Int64, send func()) {
	var done int64
	maxLag := int64(rate) + 1
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-timer.C:
		}
		due := dueCount(time.Since(start), rate)
		if due-done > maxLag {
			behind.Add(due - done - maxLag)
			done = due - maxLag
		}
		for done < due {
			send()
			done++
			select {
			case <-stop:
				return
			default:
			}
		}
		next := time.Duration(float64(done+1) / rate * float64(time.Second))
		timer.Reset(next - time.Since(start))
	}
}

// dueCount is how many messages a sender at rate per second owes after elapsed.
func dueCount(elapsed time.Duration, rate float64) int64 {
	if elapsed <= 0 || rate <= 0 {
		return 0
	}
	return int64(elapsed.Seconds() * rate)
}

// drainWait waits until every expected measured delivery arrived or the
// drain deadline passes.
func (e *env) drainWait(ctx context.Context, ctr *counters) {
	deadline := time.NewTimer(e.cfg.Drain)
	defer deadline.Stop()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for ctr.delivered.Load() < ctr.expected.Load() {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			return
		case <-t.C:
		}
	}
}

// newRand returns a seeded generator for one goroutine.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// isClosed reports whether a bot error is just the end of the run.
func isClosed(err error) bool { return err == nil || errors.Is(err, errBotClosed) }
