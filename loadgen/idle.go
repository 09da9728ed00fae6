package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// errNoRSS: no memory figure could be read from the server.
var errNoRSS = errors.New("loadgen: server RSS unavailable")

// runIdle connects Sessions bots per replica that only answer keepalives,
// and reports the server's resident memory before and after, per session.
func (e *env) runIdle(ctx context.Context) (ScenarioReport, error) {
	cfg := e.cfg
	var ctr counters
	before, src, rssErr := e.serverRSS(ctx)
	if rssErr != nil {
		ctr.fail(rssErr)
	}
	var readers sync.WaitGroup
	bots, err := e.connectBots(ctx, cfg.Sessions*len(e.replicas), nil, &ctr, &readers)
	if err != nil {
		return ScenarioReport{}, err
	}
	defer readers.Wait()
	defer closeBots(bots)
	live := 0
	for _, b := range bots {
		if b != nil {
			live++
		}
	}
	start := time.Now()
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() { defer bg.Done(); e.keepalive(stop, bots) }()
	go func() { defer bg.Done(); e.progress(stop, ScenarioIdle, start, &ctr) }()
	endAt := time.NewTimer(cfg.Warmup + cfg.Duration)
	select {
	case <-ctx.Done():
	case <-endAt.C:
	}
	endAt.Stop()
	after, _, err2 := e.serverRSS(ctx)
	if err2 != nil && rssErr == nil {
		ctr.fail(err2)
	}
	close(stop)
	bg.Wait()
	var disconnected int64
	for i, b := range bots {
		if b != nil && !b.alive() {
			disconnected++
			ctr.fail(fmt.Errorf("idle bot %d disconnected: %v", i, b.err))
		}
	}
	e.logoutBots(bots)
	readers.Wait()
	sr := ScenarioReport{Sessions: live, Seconds: cfg.Duration.Seconds()}
	sr.Idle = &IdleFigures{Source: src, RSSBefore: before, RSSAfter: after, Disconnected: disconnected}
	if rssErr == nil && err2 == nil && live > 0 {
		sr.Idle.BytesPerSession = float64(after-before) / float64(live)
	}
	sr.Errors = ctr.errors.Load()
	sr.ErrorSamples = ctr.errorSamples()
	return sr, nil
}

// serverRSS sums the servers' resident memory: from /proc when ServerPIDs
// are given, else from each HTTP base's /metrics.
func (e *env) serverRSS(ctx context.Context) (int64, string, error) {
	var sum int64
	if len(e.cfg.ServerPIDs) > 0 {
		for _, pid := range e.cfg.ServerPIDs {
			f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				return 0, "proc", fmt.Errorf("%w: %w", errNoRSS, err)
			}
			v, err := parseVmRSS(f)
			f.Close()
			if err != nil {
				return 0, "proc", fmt.Errorf("pid %d: %w", pid, err)
			}
			sum += v
		}
		return sum, "proc", nil
	}
	for _, base := range e.cfg.HTTP {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
		if err != nil {
			return 0, "metrics", fmt.Errorf("%w: %w", errNoRSS, err)
		}
		resp, err := e.api.hc.Do(req)
		if err != nil {
			return 0, "metrics", fmt.Errorf("%w: %w", errNoRSS, err)
		}
		v, err := parseMetricRSS(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if err != nil {
			return 0, "metrics", fmt.Errorf("%s/metrics: %w", base, err)
		}
		sum += v
	}
	return sum, "metrics", nil
}

// parseVmRSS reads the VmRSS line of /proc/PID/status, in bytes.
func parseVmRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "VmRSS:") {
			continue
		}
		f := strings.Fields(line[len("VmRSS:"):])
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("%w: odd VmRSS line %q", errNoRSS, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: VmRSS %q: %w", errNoRSS, f[0], err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%w: %w", errNoRSS, err)
	}
	return 0, fmt.Errorf("%w: no VmRSS line", errNoRSS)
}

// parseMetricRSS reads process_resident_memory_bytes from a Prometheus text exposition.
func parseMetricRSS(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "process_resident_memory_bytes")
		if !ok || !(strings.HasPrefix(rest, " ") || strings.HasPrefix(rest, "{")) {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %q: %w", errNoRSS, line, err)
		}
		return int64(v), nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%w: %w", errNoRSS, err)
	}
	return 0, fmt.Errorf("%w: no process_resident_memory_bytes", errNoRSS)
}
