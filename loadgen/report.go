package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// ScenarioReport holds every figure of one scenario. Counts cover the
// measured window only (after Warmup); Seconds is its length.
type ScenarioReport struct {
	Scenario string  `json:"scenario"`
	Sessions int     `json:"sessions"`
	Seconds  float64 `json:"seconds"`
	// Sent is casts (or operations) issued in the window; Tally says how
	// many deliveries were expected, arrived, were lost or duplicated.
	Sent int64 `json:"sent"`
	Tally
	// Rate is delivered per second (grants/s, logins/s for those scenarios);
	// SendRate is sent per second.
	Rate     float64 `json:"rate_per_s"`
	SendRate float64 `json:"send_rate_per_s"`
	// Latency is end to end: send time in the payload to arrival at the
	// receiving bot (or the whole operation for login; acquire wait for
	// semaphore). With several replicas, Local and Cross split deliveries by
	// whether they crossed replicas.
	Latency        LatencySummary  `json:"latency"`
	LocalLatency   *LatencySummary `json:"local_latency,omitempty"`
	CrossLatency   *LatencySummary `json:"cross_latency,omitempty"`
	CrossDelivered int64           `json:"cross_delivered,omitempty"`
	Stages         int             `json:"stages,omitempty"`
	// Behind counts sends skipped because the sender fell over a second
	// behind its schedule (the load generator could not offer the rate).
	Behind int64 `json:"behind,omitempty"`
	// Errors counts failed operations, writes and unexpected disconnects;
	// ErrorSamples keeps the first messages.
	Errors       int64    `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	Kicked       int64    `json:"kicked,omitempty"`
	ServerErrors int64    `json:"server_errors,omitempty"`
	Echoes       int64    `json:"echoes,omitempty"`
	Foreign      int64    `json:"foreign,omitempty"`

	Login     *LoginFigures     `json:"login,omitempty"`
	Semaphore *SemaphoreFigures `json:"semaphore,omitempty"`
	Idle      *IdleFigures      `json:"idle,omitempty"`
}

// LoginFigures split a login cycle into its steps.
type LoginFigures struct {
	SignIn  LatencySummary `json:"signin"`
	Connect LatencySummary `json:"connect"`
	Logout  LatencySummary `json:"logout"`
}

// SemaphoreFigures are the semaphore scenario's own figures.
type SemaphoreFigures struct {
	Names      int            `json:"names"`
	Grants     int64          `json:"grants"`
	Refusals   int64          `json:"refusals"` // acquire answered "held": retried
	Hold       LatencySummary `json:"hold"`
	Intervals  int            `json:"intervals_checked"`
	Violations []string       `json:"violations,omitempty"`
}

// IdleFigures are the idle scenario's memory figures.
type IdleFigures struct {
	Source          string  `json:"source"` // "proc" or "metrics"
	RSSBefore       int64   `json:"rss_before_bytes"`
	RSSAfter        int64   `json:"rss_after_bytes"`
	BytesPerSession float64 `json:"bytes_per_session"`
	Disconnected    int64   `json:"disconnected"`
}

// Report is the result of Run.
type Report struct {
	RunID     string           `json:"run_id"`
	Started   time.Time        `json:"started"`
	Finished  time.Time        `json:"finished"`
	Replicas  []string         `json:"replicas"`
	Config    map[string]any   `json:"config"`
	Scenarios []ScenarioReport `json:"scenarios"`
}

// Problems lists what must fail a run: losses, duplicates and semaphore
// safety violations, one line each starting with LOSS, DUPLICATE or
// VIOLATION. Empty when the run was clean.
func (r Report) Problems() []string {
	var out []string
	for _, s := range r.Scenarios {
		if s.Lost > 0 {
			out = append(out, fmt.Sprintf("LOSS: %s lost %d of %d expected deliveries (%.4f%%)",
				s.Scenario, s.Lost, s.Expected, 100*float64(s.Lost)/float64(max(s.Expected, 1))))
		}
		if s.Duplicated > 0 {
			out = append(out, fmt.Sprintf("DUPLICATE: %s received %d duplicate deliveries", s.Scenario, s.Duplicated))
		}
		if s.Semaphore != nil {
			for _, v := range s.Semaphore.Violations {
				out = append(out, "VIOLATION: "+v)
			}
		}
	}
	return out
}

// WriteTable writes the human summary: one row per scenario.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tsessions\tsent\tdelivered\texpected\tlost\tdup\trate/s\tp50 ms\tp95 ms\tp99 ms\tmax ms\terrors\t")
	for _, s := range r.Scenarios {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t\n",
			s.Scenario, s.Sessions, s.Sent, s.Delivered, s.Expected, s.Lost, s.Duplicated, s.Rate,
			s.Latency.P50Ms, s.Latency.P95Ms, s.Latency.P99Ms, s.Latency.MaxMs, s.Errors)
		if s.CrossLatency != nil && s.CrossLatency.Count > 0 {
			fmt.Fprintf(tw, "  %s cross-replica\t\t\t%d\t\t\t\t\t%.2f\t%.2f\t%.2f\t%.2f\t\t\n", s.Scenario, s.CrossDelivered,
				s.CrossLatency.P50Ms, s.CrossLatency.P95Ms, s.CrossLatency.P99Ms, s.CrossLatency.MaxMs)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	for _, s := range r.Scenarios {
		var extra []string
		if s.Idle != nil {
			extra = append(extra, fmt.Sprintf("RSS %d -> %d bytes (%s): %.0f bytes/session, %d disconnected",
				s.Idle.RSSBefore, s.Idle.RSSAfter, s.Idle.Source, s.Idle.BytesPerSession, s.Idle.Disconnected))
		}
		if s.Semaphore != nil {
			extra = append(extra, fmt.Sprintf("%d names, %d grants, %d refusals, %d intervals checked, %d violations",
				s.Semaphore.Names, s.Semaphore.Grants, s.Semaphore.Refusals, s.Semaphore.Intervals, len(s.Semaphore.Violations)))
		}
		if s.Login != nil {
			extra = append(extra, fmt.Sprintf("p99 sign-in %.2f ms, connect %.2f ms, logout %.2f ms",
				s.Login.SignIn.P99Ms, s.Login.Connect.P99Ms, s.Login.Logout.P99Ms))
		}
		if s.Behind > 0 {
			extra = append(extra, fmt.Sprintf("load generator fell behind: %d sends skipped", s.Behind))
		}
		for _, e := range s.ErrorSamples {
			extra = append(extra, "error: "+e)
		}
		for _, x := range extra {
			if _, err := fmt.Fprintf(w, "%s: %s\n", s.Scenario, x); err != nil {
				return fmt.Errorf("write table: %w", err)
			}
		}
	}
	return nil
}

// WriteJSON writes the report as indented JSON to path.
func (r Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// publicConfig is the configuration as recorded in a report (no password).
func publicConfig(c Config) map[string]any {
	pids := make([]string, len(c.ServerPIDs))
	for i, p := range c.ServerPIDs {
		pids[i] = fmt.Sprint(p)
	}
	return map[string]any{
		"http": c.HTTP, "scenario": c.Scenario, "duration": c.Duration.String(), "warmup": c.Warmup.String(),
		"drain": c.Drain.String(), "accounts_prefix": c.AccountsPrefix, "sessions_per_replica": c.Sessions,
		"stage_size": c.StageSize, "town_rate": c.TownRate, "world_rate": c.WorldRate, "whisper_rate": c.WhisperRate,
		"login_rate": c.LoginRate, "login_concurrency": c.LoginConcurrency, "sema_names": c.SemaNames,
		"sema_hold": c.SemaHold.String(), "payload": c.PayloadSize, "senders": c.Senders,
		"server_pids": strings.Join(pids, ","),
	}
}
