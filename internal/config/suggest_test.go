package config

import (
	"slices"
	"testing"
)

func TestUnknown(t *testing.T) {
	const file = `# RPC, defined below
RPC.bindAdr=127.0.0.1:1
RPC.bindAddr=127.0.0.1:2
rpc.queuelimit=5
RCP.bindAddr=127.0.0.1:3
Telnet.password=secret
Telnte.bindAddr=x
Foo.bar=1
Start=RPC
Strat=RPC
HelloWeb.docRoot=/srv
`
	s := openT(t, Options{
		Embedded:  file,
		Env:       noEnv,
		Overrides: map[string]string{"RPC.queuLimit": "1", "RPC.bindAddr": "x"},
	})
	s.Lookup("RPC.bindAddr", "127.0.0.1:10100", "rpc")
	s.Lookup("RPC.queueLimit", "4096", "queue")
	s.Lookup("Start", "RPC", "boot")
	// Telnet and HelloWeb are known services that have not started: their
	// keys are checked only against the service name.
	got := s.Unknown([]string{"RPC", "Telnet", "Timer", "HelloWeb"}, nil)
	want := []Warning{
		{File: "<embedded>", Line: 2, Key: "RPC.bindAdr", Suggestion: "RPC.bindAddr"},
		{File: "<embedded>", Line: 4, Key: "rpc.queuelimit", Suggestion: "RPC.queueLimit"},
		{File: "<embedded>", Line: 5, Key: "RCP.bindAddr", Suggestion: "RPC.bindAddr"},
		{File: "<embedded>", Line: 7, Key: "Telnte.bindAddr", Suggestion: "Telnet.bindAddr"},
		{File: "<embedded>", Line: 8, Key: "Foo.bar"},
		{File: "<embedded>", Line: 10, Key: "Strat", Suggestion: "Start"},
		{File: "--set", Key: "RPC.queuLimit", Suggestion: "RPC.queueLimit"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Unknown:\ngot  %+v\nwant %+v", got, want)
	}

	strs := []string{
		`<embedded>:2: unknown key "RPC.bindAdr" (did you mean "RPC.bindAddr"?)`,
		`<embedded>:4: unknown key "rpc.queuelimit" (did you mean "RPC.queueLimit"?)`,
		`<embedded>:5: unknown key "RCP.bindAddr" (did you mean "RPC.bindAddr"?)`,
		`<embedded>:7: unknown key "Telnte.bindAddr" (did you mean "Telnet.bindAddr"?)`,
		`<embedded>:8: unknown key "Foo.bar"`,
		`<embedded>:10: unknown key "Strat" (did you mean "Start"?)`,
		`--set: unknown key "RPC.queuLimit" (did you mean "RPC.queueLimit"?)`,
	}
	for i, w := range got {
		if i < len(strs) && w.String() != strs[i] {
			t.Errorf("warning %d: got %q, want %q", i, w.String(), strs[i])
		}
	}
}

// TestUnknownEnvironment: MT_ variables take part in the check as --set
// overrides do, each warning naming its variable; variables that are no key
// (no MT_ prefix, or a character keys do not have) are not looked at.
func TestUnknownEnvironment(t *testing.T) {
	env := map[string]string{
		"MT_Node_shutdowntimeout": "30s", // case typo of a defined key
		"MT_Node_shutdownTimeout": "20s", // right
		"MT_Timer_queueLimit":     "5",   // known service, not started
		"MT_Zzz_x":                "1",   // unknown service
		"MT_Strat":                "RPC", // bare key typo
		"MT_RPC_bindAddr":         "x",   // key of a known service without definitions yet
		"MT_not a key":            "1",
		"PATH":                    "/bin",
	}
	s := openT(t, Options{Env: envMap(env), Environ: environ(env)})
	s.Lookup("Node.shutdownTimeout", "10s", "wait")
	s.Lookup("Start", "RPC", "boot")
	got := s.Unknown([]string{"Node", "Start", "RPC", "Timer"}, nil)
	want := []Warning{
		{File: "environment MT_Node_shutdowntimeout", Key: "Node.shutdowntimeout", Suggestion: "Node.shutdownTimeout"},
		{File: "environment MT_Strat", Key: "Strat", Suggestion: "Start"},
		{File: "environment MT_Zzz_x", Key: "Zzz.x"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Unknown:\ngot  %+v\nwant %+v", got, want)
	}
	const str = `environment MT_Node_shutdowntimeout: unknown key "Node.shutdowntimeout" (did you mean "Node.shutdownTimeout"?)`
	if len(got) > 0 && got[0].String() != str {
		t.Errorf("warning: got %q, want %q", got[0].String(), str)
	}
}

func TestUnknownNothingDefined(t *testing.T) {
	s := openT(t, Options{Embedded: "A.x=1\nB.y=2\n", Env: noEnv})
	if got := s.Unknown([]string{"A", "B"}, nil); len(got) != 0 {
		t.Errorf("got %v, want no warnings while no service has defined a key", got)
	}
}

func TestClosest(t *testing.T) {
	candidates := []string{"RPC.bindAddr", "RPC.queueLimit", "Telnet.bindAddr", "Start"}
	tests := []struct{ in, want string }{
		{"RPC.bindAdr", "RPC.bindAddr"},        // deletion
		{"RPC.bindAdddr", "RPC.bindAddr"},      // insertion
		{"RPC.bnidAddr", "RPC.bindAddr"},       // swap
		{"RPC.bindAxxr", "RPC.bindAddr"},       // two substitutions
		{"RPC.bxxxAddr", ""},                   // three: too far
		{"RPC.BINDADDR", "RPC.bindAddr"},       // case only
		{"telnet.bindaddr", "Telnet.bindAddr"}, // case only
		{"Stat", "Start"},
		{"Start", ""}, // itself: nothing to suggest
		{"Zzz.q", ""},
	}
	for _, tt := range tests {
		if got := closest(tt.in, candidates); got != tt.want {
			t.Errorf("closest(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}
