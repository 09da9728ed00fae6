package main

import (
	"errors"
	"testing"
)

// FuzzParseCommand: whatever a player types or a script holds, ParseCommand
// returns a command or one of its documented errors, never a panic.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"", "# note", "hello", "//slash", "-/enter town", "/enter town pw", "/create raid 4 pw",
		"/w Alice psst", "/mail Bob subject | body", "/guild invite #7", "/guild mail s | b",
		"/sema get boss global", "/wait cast 5s text", "/sleep 200ms", "/save data", "/read 5",
		"/unknown", "/guild", "/sema", "/wait", "/read x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCommand(line)
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrUnknownCommand) && !errors.Is(err, ErrUsage) {
				t.Fatalf("ParseCommand(%q): undocumented error %v", line, err)
			}
			return
		}
		if c.Kind == "" {
			t.Fatalf("ParseCommand(%q) returned no command kind and no error", line)
		}
	})
}
