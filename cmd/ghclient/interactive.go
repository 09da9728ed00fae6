package main

import (
	"context"
	"errors"
	"io"

	"github.com/chzyer/readline"
)

// RunInteractive reads commands from the terminal with line editing and
// history until /quit, end of input (Ctrl-D), ctx's end or the end of the
// connection. Events are printed above the prompt through rl's Stdout,
// which redraws the line being typed. A Ctrl-C clears the typed line.
func RunInteractive(ctx context.Context, s *Session, rl *readline.Instance) error {
	stop := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		select {
		case <-s.Ended():
		case <-ctx.Done():
		case <-stop:
			return
		}
		rl.Close() //nolint:errcheck // unblocks Readline
	}()
	defer func() {
		close(stop)
		<-watcherDone
	}()

	for {
		rl.SetPrompt(s.Prompt())
		line, err := rl.Readline()
		if errors.Is(err, readline.ErrInterrupt) {
			continue
		}
		if errors.Is(err, io.EOF) || err != nil {
			break
		}
		c, err := ParseCommand(line)
		if errors.Is(err, ErrEmpty) {
			continue
		}
		if err != nil {
			s.Println("error: " + err.Error())
			continue
		}
		quit, _ := s.Do(ctx, c)
		if quit {
			return nil
		}
	}
	select {
	case <-s.Ended():
		return ErrEnded
	case <-ctx.Done():
		return ctx.Err()
	default:
	}
	// Ctrl-D: log out cleanly.
	_, err := s.Do(ctx, Command{Kind: KQuit})
	return err
}
