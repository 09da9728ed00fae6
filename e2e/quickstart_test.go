package e2e

import (
	"testing"
)

// TestQuickstartExample builds examples/quickstart and runs it as its doc
// says, against the server `make run` serves: it must exit 0 after player B
// printed the stage cast player A sent. A second run reuses the accounts.
func TestQuickstartExample(t *testing.T) {
	bin := buildBinary(t, "github.com/guildhall/guildhall/examples/quickstart")
	base := startDev(t)

	for _, run := range []string{"first run", "second run (accounts exist)"} {
		p := startProc(t, "quickstart "+run, bin, "", "-http", base, "-user", "quickstart", "-pass", "quickstart-pw", "-timeout", "30s")
		p.wait(t)
		p.requireInOrder(t,
			"B received from quickstartA: hello from A",
			"quickstart: ok",
		)
	}
}
