package e2e

import (
	"strings"
	"testing"
)

// TestScriptedTerminalClients is the acceptance test of the terminal
// client: two ghclient processes in script mode (commands on stdin)
// against the server `make run` serves sign up, enter the town stage, chat
// with each other and send mail, and their output shows each step.
func TestScriptedTerminalClients(t *testing.T) {
	bin := buildBinary(t, "github.com/guildhall/guildhall/cmd/ghclient")
	base := startDev(t)

	// Alice enters first and waits for Bob, so her join push is certain.
	alice := startProc(t, "alice", bin, `# alice's side
/enter town
/wait join 20s Bob
hello bob
/wait stage 20s hi alice
/mail Bob see you | meet me at the gate
`, "-http", base, "-user", "alice", "-pass", "alice-password", "-signup", "Alice", "-channel", "1", "-timeout", "20s")
	alice.waitLine(t, "ok entered town")

	bob := startProc(t, "bob", bin, `# bob's side
/enter town
/wait stage 20s hello bob
/say hi alice
/wait mail 20s see you
/inbox
`, "-http", base, "-user", "bob", "-pass", "bob-password", "-signup", "Bob", "-channel", "1", "-timeout", "20s")

	alice.wait(t)
	bob.wait(t)
	t.Logf("alice's output:\n%s\nbob's output:\n%s", alice.output(), bob.output())

	// Each command ends with one "ok ..." line, in command order. Event
	// lines are printed as they arrive, so only their presence is checked.
	alice.requireInOrder(t,
		"ok signed up alice",
		"ok signed in as Alice (#",
		"ok entered town (1 player)",
		"ok wait join",
		"ok sent to stage",
		"ok wait stage",
		"ok mail sent (id ",
		"ok bye",
	)
	alice.requireLine(t, "* Bob entered town")
	alice.requireLine(t, "[stage] Bob: hi alice")

	bob.requireInOrder(t,
		"ok signed up bob",
		"ok signed in as Bob (#",
		"ok entered town (2 players)",
		"ok wait stage",
		"ok sent to stage",
		"ok wait mail",
		"ok 1 mails (1 unread)",
		"ok bye",
	)
	bob.requireLine(t, "[stage] Alice: hello bob")
	bob.requireLine(t, "* you have mail from Alice: see you")
	for _, p := range []*proc{alice, bob} {
		for _, bad := range []string{"error: ", "* disconnected"} {
			if out := p.output(); containsLine(out, bad) {
				t.Errorf("%s printed %q:\n%s", p.name, bad, out)
			}
		}
	}
}

// containsLine reports whether a line of out starts with prefix.
func containsLine(out, prefix string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}
