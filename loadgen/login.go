package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// runLogin drives sign-in + channel login + logout cycles at LoginRate over
// the account pool (Sessions per replica), at most LoginConcurrency at once.
// A cycle due while every slot is busy is skipped and counted in Behind.
func (e *env) runLogin(ctx context.Context) (ScenarioReport, error) {
	cfg := e.cfg
	pool := cfg.Sessions * len(e.replicas)
	// Make sure the accounts exist before timing anything.
	if err := e.ensureAccounts(ctx, pool); err != nil {
		return ScenarioReport{}, err
	}
	var ctr counters
	var total, signin, connect, logout Recorder
	var okN countersPair
	jobs := make(chan int)
	stop := make(chan struct{})
	start := time.Now()
	measureStart := start.Add(cfg.Warmup)
	var readers, workers sync.WaitGroup
	for w := 0; w < cfg.LoginConcurrency; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range jobs {
				t0 := time.Now()
				measured := !t0.Before(measureStart)
				n := i % pool
				replica, ch := e.slot(n)
				si, err := e.api.signIn(ctx, cfg.HTTP[n%len(cfg.HTTP)], AccountName(cfg.AccountsPrefix, n), cfg.Password)
				if err != nil {
					ctr.fail(fmt.Errorf("login %d sign-in: %w", n, err))
					continue
				}
				t1 := time.Now()
				b, err := dialBot(ctx, ch.Addr, si.Token, n, replica, nil, cfg.WriteTimeout, &readers)
				if err != nil {
					ctr.fail(fmt.Errorf("login %d: %w", n, err))
					continue
				}
				t2 := time.Now()
				lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err = b.logout(lctx)
				cancel()
				t3 := time.Now()
				if err != nil {
					ctr.fail(fmt.Errorf("logout %d: %w", n, err))
					continue
				}
				if measured {
					okN.add(n)
					total.Record(n, t3.Sub(t0))
					signin.Record(n, t1.Sub(t0))
					connect.Record(n, t2.Sub(t1))
					logout.Record(n, t3.Sub(t2))
				}
			}
		}()
	}
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { defer bg.Done(); e.progress(stop, ScenarioLogin, start, &ctr) }()
	var pacer sync.WaitGroup
	pacer.Add(1)
	go func() {
		defer pacer.Done()
		i := 0
		pace(ctx, stop, cfg.LoginRate, start, &ctr.behind, func() {
			select {
			case jobs <- i:
				if !time.Now().Before(measureStart) {
					ctr.sent.Add(1)
				}
				i++
			default:
				ctr.behind.Add(1)
			}
		})
	}()
	endAt := time.NewTimer(time.Until(measureStart.Add(cfg.Duration)))
	select {
	case <-ctx.Done():
	case <-endAt.C:
	}
	endAt.Stop()
	close(stop)
	pacer.Wait()
	close(jobs)
	workers.Wait()
	readers.Wait()
	bg.Wait()

	sr := ScenarioReport{Sessions: pool, Sent: ctr.sent.Load(), Seconds: cfg.Duration.Seconds()}
	sr.Expected = sr.Sent
	sr.Delivered = okN.sum()
	sr.Rate = float64(sr.Delivered) / sr.Seconds
	sr.SendRate = float64(sr.Sent) / sr.Seconds
	sr.Latency = total.Snapshot().Summary()
	sr.Login = &LoginFigures{SignIn: signin.Snapshot().Summary(), Connect: connect.Snapshot().Summary(), Logout: logout.Snapshot().Summary()}
	sr.Behind = ctr.behind.Load()
	sr.Errors = ctr.errors.Load()
	sr.ErrorSamples = ctr.errorSamples()
	return sr, nil
}

// ensureAccounts signs every pool account in once (signing it up if needed).
func (e *env) ensureAccounts(ctx context.Context, n int) error {
	sem := make(chan struct{}, e.cfg.ConnectConcurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	failed := 0
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := e.api.ensureSignIn(ctx, e.cfg.HTTP[i%len(e.cfg.HTTP)], e.cfg.AccountsPrefix, e.cfg.Password, i, e.signups)
			if err != nil {
				mu.Lock()
				failed++
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d accounts unusable: %w", ErrSetup, failed, n, first)
	}
	return nil
}
