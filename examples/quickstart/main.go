// Command quickstart is a tour of the client library: it signs up two
// players (reusing the accounts if they exist), signs both in, connects both
// to channel 1, puts both in the stage "quickstart", has player A cast
// "hello from A" to the stage, prints what player B receives, and logs both
// out. It exits non-zero on any failure.
//
// Run a development server with `make run`, then:
//
//	go run ./examples/quickstart -http http://127.0.0.1:8080 -user quickstart -pass quickstart-pw
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/guildhall/guildhall/client"
	"github.com/guildhall/guildhall/wire"
)

const (
	stageID   = "quickstart"
	channelID = 1
	message   = "hello from A"
)

func main() {
	httpBase := flag.String("http", "http://127.0.0.1:8080", "sign-in API base URL")
	user := flag.String("user", "quickstart", "base username: players are <user>_a and <user>_b")
	pass := flag.String("pass", "quickstart-pw", "password of both players")
	timeout := flag.Duration("timeout", 30*time.Second, "give up after this long")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, log, *httpBase, *user, *pass); err != nil {
		log.Error("quickstart failed", "err", err)
		os.Exit(1)
	}
	fmt.Println("quickstart: ok")
}

type player struct {
	label string
	conn  *client.Conn
	info  *client.SignInResult
}

func run(ctx context.Context, log *slog.Logger, httpBase, user, pass string) error {
	a, err := connect(ctx, log, httpBase, user+"_a", pass, user+"A", "A")
	if err != nil {
		return err
	}
	defer a.conn.Close()
	b, err := connect(ctx, log, httpBase, user+"_b", pass, user+"B", "B")
	if err != nil {
		return err
	}
	defer b.conn.Close()

	// A creates the stage (it may exist already), then both enter it.
	var we *wire.Error
	if err := a.conn.StageCreate(ctx, stageID, 0, ""); err != nil && !(errors.As(err, &we) && we.Code == wire.CodeExists) {
		return fmt.Errorf("A: create stage %q: %w", stageID, err)
	}
	for _, p := range []*player{a, b} {
		st, err := p.conn.StageEnter(ctx, stageID, "")
		if err != nil {
			return fmt.Errorf("%s: enter stage %q: %w", p.label, stageID, err)
		}
		log.Info("entered stage", "player", p.label, "stage", st.StageID, "members", len(st.Members))
	}

	// B waits for A's cast while A sends it.
	received := make(chan error, 1)
	go func() { received <- awaitCast(ctx, b, a.conn.Welcome().CharID) }()
	if _, err := a.conn.Cast(ctx, wire.ScopeStage, nil, []byte(message)); err != nil {
		return fmt.Errorf("A: cast: %w", err)
	}
	if err := <-received; err != nil {
		return err
	}

	for _, p := range []*player{a, b} {
		if err := p.conn.Logout(ctx); err != nil {
			return fmt.Errorf("%s: logout: %w", p.label, err)
		}
		log.Info("logged out", "player", p.label)
	}
	return nil
}

// connect signs the player up (an existing account is fine), signs in and
// connects to channel 1.
func connect(ctx context.Context, log *slog.Logger, httpBase, username, pass, character, label string) (*player, error) {
	_, _, err := client.SignUp(ctx, httpBase, username, pass, character)
	var apiErr *client.APIError
	switch {
	case err == nil:
		log.Info("signed up", "player", label, "user", username)
	case errors.As(err, &apiErr) && apiErr.Code == "exists":
		log.Info("account exists", "player", label, "user", username)
	default:
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	info, err := client.SignIn(ctx, httpBase, username, pass)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", label, err)
	}
	var addr string
	for _, ch := range info.Channels {
		if ch.ID == channelID && ch.Enabled {
			addr = ch.Addr
		}
	}
	if addr == "" {
		return nil, fmt.Errorf("%s: channel %d is not in the channel list (or disabled)", label, channelID)
	}
	conn, err := client.Dial(ctx, addr, info.Token)
	if err != nil {
		return nil, fmt.Errorf("%s: connect to channel %d at %s: %w", label, channelID, addr, err)
	}
	w := conn.Welcome()
	log.Info("connected", "player", label, "char_id", w.CharID, "name", w.Name, "channel", w.ChannelID)
	return &player{label: label, conn: conn, info: info}, nil
}

// awaitCast reads p's events until the cast from senderID arrives.
func awaitCast(ctx context.Context, p *player, senderID uint32) error {
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for the cast: %w", p.label, ctx.Err())
		case ev, ok := <-p.conn.Events():
			if !ok {
				return fmt.Errorf("%s: connection ended before the cast: %w", p.label, p.conn.Err())
			}
			cm, isCast := ev.(*wire.CastMsg)
			if !isCast || cm.SenderID != senderID {
				continue // joins, notices, other players' chatter
			}
			if !bytes.Equal(cm.Payload, []byte(message)) {
				return fmt.Errorf("%s: got cast %q, want %q", p.label, cm.Payload, message)
			}
			fmt.Printf("%s received from %s: %s\n", p.label, cm.SenderName, cm.Payload)
			return nil
		}
	}
}
