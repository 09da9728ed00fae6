package main

import (
	"bytes"
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
