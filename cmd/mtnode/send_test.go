package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mtnode/mtnode/internal/testpki"
	"github.com/mtnode/mtnode/internal/testwait"
)

// startRPCNode runs an installed node with only RPC, on a free loopback
// port, and the given settings; it returns the RPC address.
func startRPCNode(t *testing.T, set ...string) string {
	t.Helper()
	args := []string{"--set", "Start=RPC", "--set", "RPC.bindAddr=127.0.0.1:0"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	n := start(t, filepath.Join(prefix(t, "mtnode"), "bin", "mtnode"), args...)
	addr := n.addrIn(t, "rpc listening")
	n.waitFor(t, "node running")
	return addr
}

// sendCase is one run of mtnode send against a node: flags, and either the
// reply it must print (exit 0) or what its error must say (exit 1).
type sendCase struct {
	name    string
	flags   []string
	wantErr []string // nil: success
}

func runSendCases(t *testing.T, addr string, cases []sendCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append(append([]string{"send"}, c.flags...), addr, "RPC", "mtnode.rpc.v1.ListLinks", "{}")
			out, code := runOnce(t, mtnodeBin, args...)
			if c.wantErr == nil {
				var links struct {
					Type   string   `json:"@type"`
					Listen []string `json:"listen"`
				}
				if err := json.Unmarshal([]byte(out), &links); code != 0 || err != nil ||
					links.Type != "type.googleapis.com/mtnode.rpc.v1.Links" || !slices.Contains(links.Listen, addr) {
					t.Fatalf("got exit %d:\n%s\nwant exit 0 and the node's Links as JSON, listing %s", code, out, addr)
				}
				return
			}
			if code != 1 {
				t.Errorf("exit %d, want 1; output:\n%s", code, out)
			}
			for _, w := range c.wantErr {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestIntegrationSendToken: mtnode send reaches a node with RPC.token set
// only with --token and that token; without it, it fails with exit 1 and
// says to pass the token.
func TestIntegrationSendToken(t *testing.T) {
	addr := startRPCNode(t, "RPC.token=s3cret")
	runSendCases(t, addr, []sendCase{
		{"the right token", []string{"--token", "s3cret"}, nil},
		{"no token", nil, []string{"wrong or missing token", "requires a token", "--token"}},
		{"a wrong token", []string{"--token", "guess"}, []string{"wrong or missing token", "RPC.token with --token"}},
	})
}

// TestIntegrationSendTLS: mtnode send reaches a node with mutual TLS only
// with a certificate the node's CA signed and the CA that verifies the
// node; each missing or wrong piece fails with exit 1 and a TLS error.
func TestIntegrationSendTLS(t *testing.T) {
	dir := t.TempDir()
	good := testpki.New(t, dir, "good")
	rogue := testpki.New(t, dir, "rogue")
	addr := startRPCNode(t, "RPC.tlsCert="+good.Cert, "RPC.tlsKey="+good.Key, "RPC.tlsCA="+good.CA)
	tlsFlags := func(f testpki.Files, ca string) []string {
		return []string{"--tls-cert", f.Cert, "--tls-key", f.Key, "--tls-ca", ca}
	}
	runSendCases(t, addr, []sendCase{
		{"the node's CA and a certificate it signed", tlsFlags(good, good.CA), nil},
		{"no TLS", nil, []string{"handshake failed", "accepts only TLS: give --tls-ca"}},
		{"the CA but no client certificate", []string{"--tls-ca", good.CA}, []string{"handshake failed", "also needs --tls-cert and --tls-key"}},
		{"a certificate of another CA", tlsFlags(rogue, good.CA), []string{"handshake failed", "RPC.tlsCA must have signed --tls-cert"}},
		{"another CA to verify the node", tlsFlags(good, rogue.CA), []string{"handshake failed", "certificate signed by unknown authority", "--tls-ca must have signed"}},
	})
}

// TestIntegrationSendNoNode: mtnode send to an address where nothing
// listens fails with exit 1 and says so, with no advice about tokens or TLS.
func TestIntegrationSendNoNode(t *testing.T) {
	addr := testwait.UnusedAddr(t)
	out, code := runOnce(t, mtnodeBin, "send", addr, "RPC", "mtnode.rpc.v1.ListLinks", "{}")
	if code != 1 || !strings.Contains(out, "nothing accepts connections") || !strings.Contains(out, addr) ||
		strings.Contains(out, "--t") {
		t.Errorf("got exit %d:\n%s\nwant exit 1, saying nothing accepts connections at %s, and no flag advice", code, out, addr)
	}
}

// TestIntegrationSendFollow: mtnode send --follow prints every answer to one
// request, one JSON object per line: here a Timer's ticks, up to --count.
func TestIntegrationSendFollow(t *testing.T) {
	addr := startRPCNode(t, "Start=RPC,Timer")
	out, code := runOnce(t, mtnodeBin, "send", "--follow", "--count", "3", addr,
		"Timer", "mtnode.timer.v1.SetTimer", `{"id":7,"period":0.05}`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("got exit %d and %d lines:\n%s\nwant exit 0 and three ticks", code, len(lines), out)
	}
	var last int64
	for i, l := range lines {
		var tick struct {
			Type     string `json:"@type"`
			ID       string `json:"id"`
			Deadline string `json:"deadlineUnixNano"`
		}
		if err := json.Unmarshal([]byte(l), &tick); err != nil || tick.Type != "type.googleapis.com/mtnode.timer.v1.TickTimer" || tick.ID != "7" {
			t.Fatalf("line %d: %q (%v), want a TickTimer of timer 7", i, l, err)
		}
		d, _ := strconv.ParseInt(tick.Deadline, 10, 64)
		if d <= last {
			t.Errorf("line %d: deadline %d does not follow %d", i, d, last)
		}
		last = d
	}
}

// TestIntegrationSendFollowEndsOnError: --follow to a service the node does
// not have prints the error event once, on stderr, and exits 1 saying that
// it ended the subscription.
func TestIntegrationSendFollowEndsOnError(t *testing.T) {
	addr := startRPCNode(t, "Start=RPC")
	out, code := runOnce(t, mtnodeBin, "send", "--follow", addr,
		"Nope", "mtnode.timer.v1.SetTimer", `{"id":1,"period":1}`)
	if code != 1 || strings.Count(out, `"Nope"`) != 1 || !strings.Contains(out, "ended on the error event above") {
		t.Errorf("got exit %d:\n%s\nwant exit 1, the error about Nope printed once, and the subscription's end", code, out)
	}
}

// TestIntegrationSendNoReply: --no-reply sends an event no answer comes
// for and exits 0 once the node has it, without waiting for --timeout:
// here an alarm, which the Timer then lists.
func TestIntegrationSendNoReply(t *testing.T) {
	addr := startRPCNode(t, "Start=RPC,Timer")
	out, code := runOnce(t, mtnodeBin, "send", "--no-reply", "--timeout", "60s", addr,
		"Timer", "mtnode.timer.v1.SetAlarm", `{"id":5,"delay":600}`)
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Fatalf("got exit %d:\n%s\nwant exit 0 and no output", code, out)
	}
	out, code = runOnce(t, mtnodeBin, "send", addr, "Timer", "mtnode.timer.v1.List", `{}`)
	var list struct {
		Total   string `json:"total"`
		Entries []struct {
			ID string `json:"id"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || list.Total != "1" || len(list.Entries) != 1 || list.Entries[0].ID != "5" {
		t.Errorf("Timer's list after --no-reply: exit %d (%v):\n%s\nwant alarm 5 pending", code, err, out)
	}
	out, code = runOnce(t, mtnodeBin, "send", "--no-reply", "--follow", addr, "Timer", "mtnode.timer.v1.List", `{}`)
	if code != 2 {
		t.Errorf("--no-reply with --follow: exit %d:\n%s\nwant 2", code, out)
	}
}
