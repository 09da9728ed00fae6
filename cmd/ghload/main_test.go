package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

func TestRunRejectsBadSpawn(t *testing.T) {
	for _, n := range []string{"-1", "17"} {
		var out, errb bytes.Buffer
		if code := run([]string{"-spawn", n, "-quiet"}, &out, &errb); code != 1 {
			t.Fatalf("-spawn %s: exit %d, want 1", n, code)
		}
		if !strings.Contains(errb.String(), "-spawn") {
			t.Fatalf("-spawn %s: stderr %q does not name the flag", n, errb.String())
		}
	}
}

func TestRunRejectsExtraArgument(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"town"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
}

// shellQuote must survive /bin/sh for paths with spaces and quotes (the
// -pprof wrapper script execs the binary through it).
func TestShellQuote(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh: %v", err)
	}
	for _, s := range []string{"/bin/guildhall", "/tmp/a b/guild'hall", `x"$HOME"\`} {
		got, err := exec.Command(sh, "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if string(got) != s {
			t.Fatalf("shellQuote(%q) through sh = %q", s, got)
		}
	}
}
