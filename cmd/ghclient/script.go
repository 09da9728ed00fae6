package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
)

// ErrScriptFailed: a script command without a leading '-' failed.
var ErrScriptFailed = errors.New("script failed")

// RunScript runs the commands of r, one per line, in order, each after the
// previous one's answer. Blank lines and '#' comments are skipped. The
// first failing command (parse error or command error) stops the script
// unless it is prefixed with '-' or keepGoing is set; the result then wraps
// ErrScriptFailed. At the end of input the session logs out unless a /quit
// already did. Lines are numbered in error messages.
func RunScript(ctx context.Context, s *Session, r io.Reader, keepGoing bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var failed error
	lineNo := 0
	for sc.Scan() {
		lineNo++
		c, err := ParseCommand(sc.Text())
		if errors.Is(err, ErrEmpty) {
			continue
		}
		if err != nil {
			s.Println(fmt.Sprintf("error: line %d: %v", lineNo, err))
			failed = fmt.Errorf("%w: line %d: %w", ErrScriptFailed, lineNo, err)
			if keepGoing {
				continue
			}
			break
		}
		quit, err := s.Do(ctx, c)
		if quit {
			return failed
		}
		if err != nil && !c.MayFail {
			failed = fmt.Errorf("%w: line %d: %w", ErrScriptFailed, lineNo, err)
			if !keepGoing || ctx.Err() != nil {
				break
			}
		}
	}
	if err := sc.Err(); err != nil && failed == nil {
		failed = fmt.Errorf("%w: reading commands: %w", ErrScriptFailed, err)
	}
	if ctx.Err() == nil {
		if _, err := s.Do(ctx, Command{Kind: KQuit}); err != nil && failed == nil {
			failed = fmt.Errorf("%w: logout: %w", ErrScriptFailed, err)
		}
	}
	return failed
}
