package loadgen

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := Config{HTTP: []string{"http://127.0.0.1:8080", "http://localhost:8081", "http://[::1]:8082"}}.withDefaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults with loopback targets: %v", err)
	}
	for _, c := range []struct {
		name  string
		mod   func(*Config)
		want  error
		field string
	}{
		{"remote", func(c *Config) { c.HTTP = []string{"http://10.0.0.1:8080"} }, ErrRemote, ""},
		{"remote name", func(c *Config) { c.HTTP = []string{"http://example.com"} }, ErrRemote, ""},
		{"scheme", func(c *Config) { c.HTTP = []string{"ftp://127.0.0.1"} }, ErrConfig, "http"},
		{"scenario", func(c *Config) { c.Scenario = "chaos" }, ErrConfig, "scenario"},
		{"duration", func(c *Config) { c.Duration = 2 * MaxDuration }, ErrConfig, "duration"},
		{"sessions", func(c *Config) { c.Sessions = MaxSessions }, ErrConfig, "sessions"},
		{"stage", func(c *Config) { c.StageSize = 1 }, ErrConfig, "stage_size"},
		{"rate", func(c *Config) { c.WorldRate = -1 }, ErrConfig, "world_rate"},
		{"payload", func(c *Config) { c.PayloadSize = 8 }, ErrConfig, "payload"},
		{"prefix", func(c *Config) { c.AccountsPrefix = "bot-1" }, ErrConfig, "accounts_prefix"},
		{"password", func(c *Config) { c.Password = "short" }, ErrConfig, "password"},
		{"pid", func(c *Config) { c.ServerPIDs = []int{-3} }, ErrConfig, "server_pid[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.mod(&cfg)
			err := cfg.Validate()
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("Validate() = %v, want %v naming %q", err, c.want, c.field)
			}
		})
	}
	remote := ok
	remote.HTTP = []string{"http://10.0.0.1:8080"}
	remote.AllowRemote = true
	if err := remote.Validate(); err != nil {
		t.Fatalf("AllowRemote still refused: %v", err)
	}
}

func TestCheckAddr(t *testing.T) {
	if err := CheckAddr("127.0.0.1:7001", false); err != nil {
		t.Fatal(err)
	}
	if err := CheckAddr("192.168.1.5:7001", false); !errors.Is(err, ErrRemote) {
		t.Fatalf("remote channel accepted: %v", err)
	}
	if err := CheckAddr("nonsense", false); err == nil {
		t.Fatal("bad address accepted")
	}
}

func TestNames(t *testing.T) {
	seen := map[string]bool{}
	for n := 0; n < 5000; n++ {
		c := CharacterName("bot_prefix_long_20c", n)
		if len(c) < 3 || len(c) > 16 || !validName(c) || seen[c] {
			t.Fatalf("character name %q for %d: bad or repeated", c, n)
		}
		seen[c] = true
	}
	if CharacterName("a", 1) == CharacterName("b", 1) {
		t.Fatal("prefixes do not separate character names")
	}
	if u := AccountName("bot", 12); u != "bot_12" {
		t.Fatalf("AccountName = %q", u)
	}
}

func TestDueCount(t *testing.T) {
	for _, c := range []struct {
		el   time.Duration
		rate float64
		want int64
	}{{0, 10, 0}, {-time.Second, 10, 0}, {time.Second, 10, 10}, {1500 * time.Millisecond, 10, 15}, {99 * time.Millisecond, 10, 0}, {time.Second, 0, 0}} {
		if got := dueCount(c.el, c.rate); got != c.want {
			t.Errorf("dueCount(%v, %v) = %d, want %d", c.el, c.rate, got, c.want)
		}
	}
}

func TestParseRSS(t *testing.T) {
	v, err := parseVmRSS(strings.NewReader("Name:\tguildhall\nVmPeak:\t  9000 kB\nVmRSS:\t  12345 kB\n"))
	if err != nil || v != 12345*1024 {
		t.Fatalf("parseVmRSS = %d, %v", v, err)
	}
	if _, err := parseVmRSS(strings.NewReader("Name: x\n")); !errors.Is(err, errNoRSS) {
		t.Fatalf("missing VmRSS: %v", err)
	}
	m := "# HELP process_resident_memory_bytes Resident memory size in bytes.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes_other 1\nprocess_resident_memory_bytes 2.4576e+07\n"
	v, err = parseMetricRSS(strings.NewReader(m))
	if err != nil || v != 24576000 {
		t.Fatalf("parseMetricRSS = %d, %v", v, err)
	}
	if _, err := parseMetricRSS(strings.NewReader("go_goroutines 5\n")); !errors.Is(err, errNoRSS) {
		t.Fatalf("missing gauge: %v", err)
	}
}

func TestProblems(t *testing.T) {
	r := Report{Scenarios: []ScenarioReport{
		{Scenario: "town", Tally: Tally{Expected: 100, Delivered: 97, Lost: 3, Duplicated: 1}},
		{Scenario: "world", Tally: Tally{Expected: 10, Delivered: 10}},
		{Scenario: "semaphore", Semaphore: &SemaphoreFigures{Violations: []string{"semaphore \"x\": token 2 granted twice"}}},
	}}
	p := r.Problems()
	if len(p) != 3 || !strings.HasPrefix(p[0], "LOSS: town lost 3 of 100") || !strings.HasPrefix(p[1], "DUPLICATE") || !strings.HasPrefix(p[2], "VIOLATION") {
		t.Fatalf("Problems = %q", p)
	}
	if (Report{Scenarios: r.Scenarios[1:2]}).Problems() != nil {
		t.Fatal("clean report has problems")
	}
}
