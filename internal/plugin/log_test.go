package plugin

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestStderrLogAttributes: a plugin's log line is re-logged at its level,
// with its attributes, as the node's (node=<the node's name>) and tagged
// plugin=<name>; the node= that the plugin's runtime adds (the plugin's own
// name) is dropped rather than logged as a second node= key.
func TestStderrLogAttributes(t *testing.T) {
	var buf bytes.Buffer
	node := slog.New(slog.NewTextHandler(&buf, nil)).With("node", "web")
	s := newStderrLog(node, "mt-demo")
	_, _ = s.Write([]byte(`{"@level":"warn","@message":"slow answer","@timestamp":"x","node":"mt-demo","service":"Echo","ms":12}` + "\n"))
	got := buf.String()
	for _, want := range []string{"level=WARN", `msg="slow answer"`, "node=web", "plugin=mt-demo", "service=Echo", "ms=12"} {
		if !strings.Contains(got, want) {
			t.Errorf("record lacks %s: %s", want, got)
		}
	}
	if n := strings.Count(got, "node="); n != 1 {
		t.Errorf("record has %d node= keys, want 1: %s", n, got)
	}
}
