// Command ghclient is the players' terminal client of guildhall.
//
// It signs in over the HTTP API (optionally creating the account first with
// -signup), connects to a channel (-channel, or the least-populated enabled
// one) and then reads commands: interactively with line editing when stdin
// is a terminal, else one per line from stdin or -script FILE. Type /help
// for the commands; plain text is stage chat.
//
// In script mode ghclient prints plain lines without a prompt: every
// command ends with one line starting "ok " or "error: ", chat events print
// as "[scope] Name: text" and other events as "* words". /wait EVENT
// [timeout] [text] waits for an event (one that arrived earlier counts), so
// two scripted clients can synchronise. The exit status is 1 if a command
// not prefixed with '-' failed, 2 if signing in or connecting failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/chzyer/readline"
	"github.com/guildhall/guildhall/client"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // a script command failed
	exitSetup  = 2 // bad flags, sign-in or connection failure
)

// ErrNoChannel: no channel matches -channel, or none is enabled.
var ErrNoChannel = errors.New("no channel to connect to")

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type config struct {
	httpBase  string
	user      string
	pass      string
	signup    string
	channel   int
	script    string
	keepGoing bool
	timeout   time.Duration
	verbose   bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("ghclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.httpBase, "http", "http://127.0.0.1:8080", "base URL of the sign-in HTTP API")
	fs.StringVar(&cfg.user, "user", "", "account name (required)")
	fs.StringVar(&cfg.pass, "pass", "", "password (default: $GHCLIENT_PASSWORD; asked for when interactive)")
	fs.StringVar(&cfg.signup, "signup", "", "create the account first, with this character name")
	fs.IntVar(&cfg.channel, "channel", 0, "channel ID (default: the least-populated enabled channel)")
	fs.StringVar(&cfg.script, "script", "", "read commands from this file instead of stdin")
	fs.BoolVar(&cfg.keepGoing, "keep-going", false, "script mode: run the remaining commands after a failure")
	fs.DurationVar(&cfg.timeout, "timeout", 15*time.Second, "how long to wait for each answer of the server")
	fs.BoolVar(&cfg.verbose, "v", false, "log connection details to stderr")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.user == "" {
		return cfg, errors.New("-user is required")
	}
	if cfg.channel < 0 || cfg.channel > 65535 {
		return cfg, fmt.Errorf("-channel %d out of range", cfg.channel)
	}
	if cfg.timeout <= 0 {
		return cfg, errors.New("-timeout must be positive")
	}
	return cfg, nil
}

// pickChannel returns the channel with ID id, or when id is 0 the enabled
// channel with the fewest players (lowest ID on ties) that is not full.
func pickChannel(chs []client.ChannelInfo, id int) (client.ChannelInfo, error) {
	if id != 0 {
		for _, ch := range chs {
			if int(ch.ID) == id {
				if !ch.Enabled {
					return ch, fmt.Errorf("channel %d is disabled: %w", id, ErrNoChannel)
				}
				return ch, nil
			}
		}
		return client.ChannelInfo{}, fmt.Errorf("channel %d is not in the channel list: %w", id, ErrNoChannel)
	}
	var best *client.ChannelInfo
	for i := range chs {
		ch := &chs[i]
		if !ch.Enabled || (ch.MaxPlayers > 0 && ch.Players >= ch.MaxPlayers) {
			continue
		}
		if best == nil || ch.Players < best.Players || (ch.Players == best.Players && ch.ID < best.ID) {
			best = ch
		}
	}
	if best == nil {
		return client.ChannelInfo{}, fmt.Errorf("%d channels listed, none enabled with room: %w", len(chs), ErrNoChannel)
	}
	return *best, nil
}

func run(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "ghclient:", err)
		}
		return exitSetup
	}
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	interactive := cfg.script == "" && readline.IsTerminal(int(stdin.Fd()))
	var input io.Reader = stdin
	if cfg.script != "" {
		f, err := os.Open(cfg.script)
		if err != nil {
			fmt.Fprintln(stderr, "ghclient:", err)
			return exitSetup
		}
		defer f.Close()
		input = f
	}

	var rl *readline.Instance
	if interactive {
		rl, err = readline.NewEx(&readline.Config{
			Prompt:          "> ",
			HistoryFile:     historyFile(),
			InterruptPrompt: "^C",
			EOFPrompt:       "/quit",
		})
		if err != nil {
			fmt.Fprintln(stderr, "ghclient: terminal:", err)
			return exitSetup
		}
		defer rl.Close()
		stdout = rl.Stdout()
	}

	pass := cfg.pass
	if pass == "" {
		pass = os.Getenv("GHCLIENT_PASSWORD")
	}
	if pass == "" && rl != nil {
		b, err := rl.ReadPassword("password for " + cfg.user + ": ")
		if err != nil {
			fmt.Fprintln(stderr, "ghclient: password:", err)
			return exitSetup
		}
		pass = string(b)
	}
	if pass == "" {
		fmt.Fprintln(stderr, "ghclient: no password: use -pass or GHCLIENT_PASSWORD")
		return exitSetup
	}

	s, step, err := connect(ctx, cfg, pass, stdout, log)
	if err != nil {
		fmt.Fprintln(stdout, "error: "+step+": "+FormatError(err))
		return exitSetup
	}
	defer s.Close()

	if interactive {
		s.Println("type /help for commands, /quit to leave")
		if err := RunInteractive(ctx, s, rl); err != nil {
			return exitFailed
		}
		return exitOK
	}
	if err := RunScript(ctx, s, input, cfg.keepGoing); err != nil {
		log.Debug("script failed", "err", err)
		return exitFailed
	}
	return exitOK
}

// connect signs up (with -signup), signs in, picks a channel, dials it and
// returns the running session, or the step that failed ("sign up", "sign
// in", "connect") and why.
func connect(ctx context.Context, cfg config, pass string, out io.Writer, log *slog.Logger) (*Session, string, error) {
	p := &printer{w: out}
	sctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if cfg.signup != "" {
		acc, char, err := client.SignUp(sctx, cfg.httpBase, cfg.user, pass, cfg.signup)
		if err != nil {
			return nil, "sign up", err
		}
		p.println(fmt.Sprintf("ok signed up %s (account %d, character %s #%d)", cfg.user, acc, cfg.signup, char))
	}
	res, err := client.SignIn(sctx, cfg.httpBase, cfg.user, pass)
	if err != nil {
		return nil, "sign in", err
	}
	ch, err := pickChannel(res.Channels, cfg.channel)
	if err != nil {
		return nil, "connect", err
	}
	log.Debug("dialing", "channel", ch.ID, "addr", ch.Addr)
	conn, err := client.Dial(sctx, ch.Addr, res.Token, client.WithLogger(log))
	if err != nil {
		return nil, fmt.Sprintf("connect to channel %d (%s)", ch.ID, ch.Addr), err
	}
	p.println(formatWelcome(conn.Welcome()))
	return NewSession(conn, out, res.Channels, cfg.timeout), "", nil
}

// historyFile is ~/.ghclient_history, or no history file without a home.
func historyFile() string {
	home, err := os.UserHomeDir()
	if err != nil || strings.TrimSpace(home) == "" {
		return ""
	}
	return home + "/.ghclient_history"
}
