package loadgen

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// smallConfig is a short run against fc. Durations only bound the run; the
// assertions are on counts, which the drain makes complete.
func smallConfig(fc *fakeCluster, scenario string) Config {
	return Config{
		HTTP: []string{fc.http.URL}, Scenario: scenario, RunID: "t1",
		Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond, Drain: 10 * time.Second,
		Sessions: 4, StageSize: 4, TownRate: 20, WorldRate: 100, WhisperRate: 200, LoginRate: 50,
		SemaNames: 2, SemaHold: 200 * time.Microsecond,
	}
}

func runOK(t *testing.T, cfg Config) ScenarioReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(rep.Scenarios) != 1 {
		t.Fatalf("%d scenario reports", len(rep.Scenarios))
	}
	return rep.Scenarios[0]
}

func TestRunCastScenariosClean(t *testing.T) {
	for _, sc := range []string{ScenarioTown, ScenarioWorld, ScenarioWhisper} {
		t.Run(sc, func(t *testing.T) {
			fc := newFakeCluster(t)
			sr := runOK(t, smallConfig(fc, sc))
			if sr.Sent == 0 || sr.Expected == 0 || sr.Delivered != sr.Expected || sr.Lost != 0 || sr.Duplicated != 0 {
				t.Fatalf("%s: sent %d tally %+v errors %d %v", sc, sr.Sent, sr.Tally, sr.Errors, sr.ErrorSamples)
			}
			if sr.Errors != 0 || sr.Sessions != 8 {
				t.Fatalf("%s: %d errors %v, %d sessions", sc, sr.Errors, sr.ErrorSamples, sr.Sessions)
			}
			if sr.Latency.Count != uint64(sr.Delivered) || sr.Latency.MaxMs <= 0 {
				t.Fatalf("%s: latency %+v for %d deliveries", sc, sr.Latency, sr.Delivered)
			}
			if sr.CrossLatency == nil || sr.LocalLatency.Count+sr.CrossLatency.Count != sr.Latency.Count {
				t.Fatalf("%s: local/cross split %+v %+v", sc, sr.LocalLatency, sr.CrossLatency)
			}
			switch sc {
			case ScenarioTown:
				// 8 bots on 2 channels in stages of 4: each send reaches 3.
				if sr.Stages != 2 || sr.Expected != 3*sr.Sent {
					t.Fatalf("town: %d stages, expected %d for %d sent", sr.Stages, sr.Expected, sr.Sent)
				}
			case ScenarioWorld:
				if sr.Expected != 7*sr.Sent || sr.CrossDelivered == 0 {
					t.Fatalf("world: expected %d for %d sent, %d crossed", sr.Expected, sr.Sent, sr.CrossDelivered)
				}
			case ScenarioWhisper:
				if sr.Expected != sr.Sent {
					t.Fatalf("whisper: expected %d for %d sent", sr.Expected, sr.Sent)
				}
			}
		})
	}
}

func TestRunDetectsLossAndDuplicates(t *testing.T) {
	fc := newFakeCluster(t)
	fc.dropEvery = 10
	fc.dupEvery = 7
	cfg := smallConfig(fc, ScenarioWorld)
	cfg.Drain = 200 * time.Millisecond // lost messages never come
	sr := runOK(t, cfg)
	if sr.Lost == 0 || sr.Duplicated == 0 || sr.Delivered+sr.Lost != sr.Expected {
		t.Fatalf("faults not detected: %+v", sr.Tally)
	}
	// Roughly a tenth dropped (warmup deliveries shift the phase a little).
	if frac := float64(sr.Lost) / float64(sr.Expected); frac < 0.05 || frac > 0.15 {
		t.Fatalf("lost fraction %.3f, server dropped 1 in 10", frac)
	}
	rep := Report{Scenarios: []ScenarioReport{sr}}
	p := rep.Problems()
	if len(p) != 2 || !strings.HasPrefix(p[0], "LOSS") || !strings.HasPrefix(p[1], "DUPLICATE") {
		t.Fatalf("Problems = %q", p)
	}
}

func TestRunSemaphore(t *testing.T) {
	fc := newFakeCluster(t)
	sr := runOK(t, smallConfig(fc, ScenarioSemaphore))
	s := sr.Semaphore
	if s == nil || s.Grants == 0 || s.Intervals == 0 || len(s.Violations) != 0 || sr.Errors != 0 {
		t.Fatalf("semaphore: %+v errors %v", s, sr.ErrorSamples)
	}
	if s.Refusals == 0 {
		t.Fatalf("8 bots on 2 semaphores never contended: %+v", s)
	}
}

func TestRunSemaphoreDetectsBrokenExclusion(t *testing.T) {
	fc := newFakeCluster(t)
	fc.brokenSema = true // everyone gets it, token never moves
	sr := runOK(t, smallConfig(fc, ScenarioSemaphore))
	if len(sr.Semaphore.Violations) == 0 {
		t.Fatalf("broken semaphore passed: %+v", sr.Semaphore)
	}
}

func TestRunLoginAndIdle(t *testing.T) {
	fc := newFakeCluster(t)
	sr := runOK(t, smallConfig(fc, ScenarioLogin))
	if sr.Delivered == 0 || sr.Errors != 0 || sr.Login == nil || sr.Login.Connect.Count != uint64(sr.Delivered) {
		t.Fatalf("login: %+v errors %v", sr, sr.ErrorSamples)
	}
	sr = runOK(t, smallConfig(fc, ScenarioIdle))
	if sr.Idle == nil || sr.Idle.Source != "metrics" || sr.Idle.RSSBefore != 1e7 || sr.Sessions != 8 || sr.Idle.Disconnected != 0 {
		t.Fatalf("idle: %+v %+v", sr, sr.Idle)
	}
}

func TestRunRefusesRemoteAndBadConfig(t *testing.T) {
	_, err := Run(context.Background(), Config{HTTP: []string{"http://192.0.2.1:8080"}})
	if !errors.Is(err, ErrRemote) {
		t.Fatalf("remote target: %v", err)
	}
	_, err = Run(context.Background(), Config{Scenario: "nope"})
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("bad scenario: %v", err)
	}
}
