package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/guildhall/guildhall/wire"
)

// runSemaphore has every bot contend for SemaNames global semaphores: pick
// one, acquire (retrying with a short random backoff while it is held
// elsewhere), hold SemaHold, release. Each tenure is recorded as an
// Interval with its fencing token; CheckIntervals then proves mutual
// exclusion and token order.
func (e *env) runSemaphore(ctx context.Context) (ScenarioReport, error) {
	cfg := e.cfg
	var ctr counters
	var readers sync.WaitGroup
	bots, err := e.connectBots(ctx, cfg.Sessions*len(e.replicas), nil, &ctr, &readers)
	if err != nil {
		return ScenarioReport{}, err
	}
	defer readers.Wait()
	defer closeBots(bots)
	names := make([]string, cfg.SemaNames)
	for i := range names {
		names[i] = fmt.Sprintf("lg%s_sema_%d", cfg.RunID, i)
	}
	var wait, hold Recorder
	var refusals, grants countersPair
	start := time.Now()
	measureStart := start.Add(cfg.Warmup)
	stop := make(chan struct{})
	perBot := make([][]Interval, len(bots))
	var loops sync.WaitGroup
	live := 0
	for i, b := range bots {
		if b == nil {
			continue
		}
		live++
		loops.Add(1)
		go func(i int, b *bot) {
			defer loops.Done()
			rng := newRand(uint64(i) + 7)
			backoff := func(d time.Duration) bool {
				t := time.NewTimer(d)
				defer t.Stop()
				select {
				case <-stop:
					return false
				case <-t.C:
					return true
				}
			}
			jitter := func() time.Duration {
				base := max(cfg.SemaHold, 200*time.Microsecond)
				return base/2 + time.Duration(rng.Int64N(int64(base)*2))
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				name := names[rng.IntN(len(names))]
				t0 := time.Now()
				var token uint64
				for {
					resp, err := b.request(ctx, &wire.SemaAcquire{Name: name, Global: true})
					if err == nil {
						ok, isOK := resp.(*wire.OK)
						if !isOK {
							ctr.fail(fmt.Errorf("bot %d acquire %s: unexpected %s", i, name, resp.Type()))
							return
						}
						token = ok.ID
						break
					}
					var we *wire.Error
					if errors.As(err, &we) && we.Code == wire.CodeSemaHeld {
						refusals.add(i)
						if !backoff(jitter()) {
							return
						}
						continue
					}
					ctr.fail(fmt.Errorf("bot %d acquire %s: %w", i, name, err))
					if !b.alive() || !backoff(10*time.Millisecond) {
						return
					}
				}
				grant := time.Since(e.base)
				measured := !t0.Before(measureStart)
				if measured {
					wait.Record(i, time.Since(t0))
					grants.add(i)
				}
				t := time.NewTimer(cfg.SemaHold)
				<-t.C // always release, even when stopping
				rel := time.Since(e.base)
				iv := Interval{Name: name, Token: token, Holder: i, Grant: grant, Release: rel}
				rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := b.request(rctx, &wire.SemaRelease{Name: name, Global: true})
				cancel()
				if err != nil {
					iv.Open = true
					ctr.fail(fmt.Errorf("bot %d release %s: %w", i, name, err))
				}
				if measured {
					hold.Record(i, rel-grant)
				}
				perBot[i] = append(perBot[i], iv)
				if err != nil && !b.alive() {
					return
				}
			}
		}(i, b)
	}
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { defer bg.Done(); e.progress(stop, ScenarioSemaphore, start, &ctr) }()
	endAt := time.NewTimer(time.Until(measureStart.Add(cfg.Duration)))
	select {
	case <-ctx.Done():
	case <-endAt.C:
	}
	endAt.Stop()
	close(stop)
	loops.Wait()
	bg.Wait()
	e.logoutBots(bots)
	readers.Wait()

	var all []Interval
	for _, l := range perBot {
		all = append(all, l...)
	}
	sr := ScenarioReport{Sessions: live, Seconds: cfg.Duration.Seconds()}
	sr.Semaphore = &SemaphoreFigures{
		Names: len(names), Grants: grants.sum(), Refusals: refusals.sum(),
		Hold: hold.Snapshot().Summary(), Intervals: len(all), Violations: CheckIntervals(all),
	}
	sr.Sent = sr.Semaphore.Grants
	sr.Delivered = sr.Semaphore.Grants
	sr.Expected = sr.Semaphore.Grants
	sr.Rate = float64(sr.Semaphore.Grants) / sr.Seconds
	sr.Latency = wait.Snapshot().Summary()
	for i, b := range bots {
		if b != nil {
			if err := b.failure(); !isClosed(err) {
				ctr.fail(fmt.Errorf("bot %d disconnected: %w", i, err))
			}
		}
	}
	sr.Errors = ctr.errors.Load()
	sr.ErrorSamples = ctr.errorSamples()
	return sr, nil
}
