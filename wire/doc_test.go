package wire_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/guildhall/guildhall/wire"
)

// TestProtocolDocExamples checks that the hex examples of docs/protocol.md
// are exactly what the codec produces.
func TestProtocolDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		reqID uint32
		m     wire.Message
	}{
		"hello": {1, &wire.Hello{Magic: wire.Magic, Version: wire.Version, Token: "abc123"}},
		"cast":  {2, &wire.Cast{Scope: wire.ScopeTargets, Targets: []uint32{7, 9}, Payload: []byte("hi")}},
		"ok":    {2, &wire.OK{ID: 2}},
	}
	re := regexp.MustCompile("(?s)<!-- example: (\\w+) -->\\s*```[a-z]*\\n(.*?)```")
	found := map[string]bool{}
	for _, m := range re.FindAllSubmatch(doc, -1) {
		name := string(m[1])
		ex, ok := want[name]
		if !ok {
			t.Errorf("doc example %q has no expected message in this test", name)
			continue
		}
		found[name] = true
		got, err := hex.DecodeString(strings.Join(strings.Fields(string(m[2])), ""))
		if err != nil {
			t.Fatalf("example %q: %v", name, err)
		}
		enc, err := wire.Encode(ex.reqID, ex.m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, enc) {
			t.Errorf("example %q:\n doc   % x\n codec % x", name, got, enc)
		}
		f, err := wire.ParseFrame(got)
		if err != nil {
			t.Fatalf("example %q does not parse: %v", name, err)
		}
		if _, err := f.Decode(); err != nil {
			t.Fatalf("example %q does not decode: %v", name, err)
		}
	}
	for name := range want {
		if !found[name] {
			t.Errorf("example %q missing from docs/protocol.md", name)
		}
	}
}

// TestProtocolDocListsEveryType checks that the doc has a table row for
// every message type with its code.
func TestProtocolDocListsEveryType(t *testing.T) {
	doc, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range wire.Types() {
		row := "| 0x" + strings.ToUpper(hex.EncodeToString([]byte{byte(typ >> 8), byte(typ)})) + " | " + typ.String() + " |"
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/protocol.md has no row %q", row)
		}
	}
}
