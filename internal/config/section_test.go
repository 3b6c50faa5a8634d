package config

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mtnode/mtnode/sdk/sdktest"
)

func TestSectionGetters(t *testing.T) {
	const (
		i4096 = int64(4096)
		mib8  = int64(8 << 20)
	)
	intGet := func(c *Section) any { return c.Int("k", i4096, "an int") }
	boolGet := func(c *Section) any { return c.Bool("k", true, "a bool") }
	durGet := func(c *Section) any { return c.Duration("k", 5*time.Second, "a duration") }
	bytesGet := func(c *Section) any { return c.Bytes("k", mib8, "a size") }
	addrsGet := func(c *Section) any { return c.Addrs("k", "127.0.0.1:10100", "addresses") }
	strGet := func(c *Section) any { return c.String("k", "def", "a string") }
	minGet := func(c *Section) any { return c.IntMin("k", i4096, 1, "a queue limit") }
	badMinGet := func(c *Section) any { return c.IntMin("k", 0, 1, "a bug: default below min") }

	tests := []struct {
		name    string
		value   string // value of S.k in the file; "-" for no such line
		get     func(*Section) any
		want    any
		problem string // the recorded problem, "" for none
	}{
		{"string from file", " hello world ", strGet, "hello world", ""},
		{"string default", "-", strGet, "def", ""},
		{"string empty", "", strGet, "", ""},

		{"int", "123", intGet, int64(123), ""},
		{"int negative", "-1", intGet, int64(-1), ""},
		{"int leading zero is decimal", "010", intGet, int64(10), ""},
		{"int default", "-", intGet, i4096, ""},
		{"int bad", "abc", intGet, i4096, `<embedded>:1: S.k: "abc" is not an integer; using default 4096`},

		{"int min", "1", minGet, int64(1), ""},
		{"int min default", "-", minGet, i4096, ""},
		{"int min zero", "0", minGet, i4096, `<embedded>:1: S.k: "0" is less than the minimum 1; using default 4096`},
		{"int min negative", "-5", minGet, i4096, `<embedded>:1: S.k: "-5" is less than the minimum 1; using default 4096`},
		{"int min bad", "abc", minGet, i4096, `<embedded>:1: S.k: "abc" is not an integer; using default 4096`},
		{"int min default below min", "-", badMinGet, int64(1), `default: S.k: "0" is less than the minimum 1; using default 1`},
		{"int min file below min", "-3", badMinGet, int64(1), `<embedded>:1: S.k: "-3" is less than the minimum 1; using default 1`},
		{"int hex refused", "0x10", intGet, i4096, `<embedded>:1: S.k: "0x10" is not an integer; using default 4096`},
		{"int empty", "", intGet, i4096, `<embedded>:1: S.k: "" is not an integer; using default 4096`},
		{"int too big", "99999999999999999999", intGet, i4096, `<embedded>:1: S.k: "99999999999999999999" is out of range for a 64-bit integer; using default 4096`},

		{"bool false", "false", boolGet, false, ""},
		{"bool 0", "0", boolGet, false, ""},
		{"bool off", "OFF", boolGet, false, ""},
		{"bool yes", "yes", boolGet, true, ""},
		{"bool default", "-", boolGet, true, ""},
		{"bool bad", "nope", boolGet, true, `<embedded>:1: S.k: "nope" is not a boolean (use true or false); using default true`},

		{"duration go", "1.5s", durGet, 1500 * time.Millisecond, ""},
		{"duration compound", "1m30s", durGet, 90 * time.Second, ""},
		{"duration seconds", "0.25", durGet, 250 * time.Millisecond, ""},
		{"duration whole seconds", "30", durGet, 30 * time.Second, ""},
		{"duration default", "-", durGet, 5 * time.Second, ""},
		{"duration bad", "soon", durGet, 5 * time.Second, `<embedded>:1: S.k: "soon" is not a duration (use 1.5s, 250ms, 2m, or seconds such as 0.25); using default 5s`},
		{"duration NaN", "NaN", durGet, 5 * time.Second, `<embedded>:1: S.k: "NaN" is not a duration (use 1.5s, 250ms, 2m, or seconds such as 0.25); using default 5s`},
		{"duration overflow", "1e300", durGet, 5 * time.Second, `<embedded>:1: S.k: "1e300" is not a duration (use 1.5s, 250ms, 2m, or seconds such as 0.25); using default 5s`},

		{"bytes plain", "8388608", bytesGet, mib8, ""},
		{"bytes MiB", "8MiB", bytesGet, mib8, ""},
		{"bytes M", "8M", bytesGet, mib8, ""},
		{"bytes KiB", "64KiB", bytesGet, int64(64 << 10), ""},
		{"bytes k lower", "64k", bytesGet, int64(64 << 10), ""},
		{"bytes GiB", "1GiB", bytesGet, int64(1 << 30), ""},
		{"bytes TiB", "2TiB", bytesGet, int64(2 << 40), ""},
		{"bytes space", "8 MiB", bytesGet, mib8, ""},
		{"bytes B", "512B", bytesGet, int64(512), ""},
		{"bytes fraction", "1.5GiB", bytesGet, int64(3 << 29), ""},
		{"bytes default", "-", bytesGet, mib8, ""},
		{"bytes decimal unit", "10kB", bytesGet, mib8, `<embedded>:1: S.k: "10kB" uses the ambiguous unit "kB" (write KiB for powers of 1024, or a plain number of bytes); using default 8388608`},
		{"bytes MB", "8MB", bytesGet, mib8, `<embedded>:1: S.k: "8MB" uses the ambiguous unit "MB" (write MiB for powers of 1024, or a plain number of bytes); using default 8388608`},
		{"bytes negative", "-1", bytesGet, mib8, `<embedded>:1: S.k: "-1" is not a byte size (use a number of bytes, or units such as 64KiB, 8MiB, 1GiB); using default 8388608`},
		{"bytes unit only", "MiB", bytesGet, mib8, `<embedded>:1: S.k: "MiB" is not a byte size (use a number of bytes, or units such as 64KiB, 8MiB, 1GiB); using default 8388608`},
		{"bytes overflow", "9000000TiB", bytesGet, mib8, `<embedded>:1: S.k: "9000000TiB" is too large for a byte size; using default 8388608`},
		{"bytes fraction overflow", "9000000.5TiB", bytesGet, mib8, `<embedded>:1: S.k: "9000000.5TiB" is too large for a byte size; using default 8388608`},

		{"addrs one", "0.0.0.0:10100", addrsGet, []string{"0.0.0.0:10100"}, ""},
		{"addrs IPv4 and IPv6", " 127.0.0.1:10100 , [::1]:10100,,[fe80::1%eth0]:1 ", addrsGet, []string{"127.0.0.1:10100", "[::1]:10100", "[fe80::1%eth0]:1"}, ""},
		{"addrs names and any host", "localhost:80,:8080", addrsGet, []string{"localhost:80", ":8080"}, ""},
		{"addrs empty", "", addrsGet, []string(nil), ""},
		{"addrs default", "-", addrsGet, []string{"127.0.0.1:10100"}, ""},
		{"addrs no port", "127.0.0.1", addrsGet, []string{"127.0.0.1:10100"}, `<embedded>:1: S.k: "127.0.0.1" has the entry "127.0.0.1", which is not host:port (missing port in address); using default 127.0.0.1:10100`},
		{"addrs IPv6 without brackets", "[::1]:1,::1:10100", addrsGet, []string{"127.0.0.1:10100"}, `<embedded>:1: S.k: "[::1]:1,::1:10100" has the entry "::1:10100", which is not host:port (put an IPv6 host in brackets, as [::1]:10100); using default 127.0.0.1:10100`},
		{"addrs bad port", "a:http", addrsGet, []string{"127.0.0.1:10100"}, `<embedded>:1: S.k: "a:http" has the entry "a:http", which is not host:port (port "http" is not a number from 0 to 65535); using default 127.0.0.1:10100`},
		{"addrs port too big", "a:65536", addrsGet, []string{"127.0.0.1:10100"}, `<embedded>:1: S.k: "a:65536" has the entry "a:65536", which is not host:port (port "65536" is not a number from 0 to 65535); using default 127.0.0.1:10100`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emb := "# line one is this comment\n"
			if tt.value != "-" {
				emb = "S.k=" + tt.value + "\n"
			}
			var logs sdktest.LogBuffer
			s := openT(t, Options{Embedded: emb, Env: noEnv, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			c := s.Sub("S")
			got := tt.get(c)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
			// A second call neither records nor logs the problem again.
			if again := tt.get(c); !reflect.DeepEqual(again, tt.want) {
				t.Errorf("second call: got %#v, want %#v", again, tt.want)
			}
			var problems []string
			for _, p := range c.Problems() {
				problems = append(problems, p.Error())
			}
			var want []string
			if tt.problem != "" {
				want = []string{tt.problem}
			}
			if !reflect.DeepEqual(problems, want) {
				t.Errorf("problems:\ngot  %q\nwant %q", problems, want)
			}
			if n := strings.Count(logs.String(), "level=WARN"); n != len(want) {
				t.Errorf("got %d warnings logged, want %d:\n%s", n, len(want), logs.String())
			}
		})
	}
}

func TestSectionProblemSources(t *testing.T) {
	s := openT(t, Options{
		Embedded:  "# note\nA.fromFile=x\n",
		Env:       envMap(map[string]string{"MT_A_fromEnv": "y"}),
		Overrides: map[string]string{"A.fromFlag": "z"},
	})
	a := s.Sub("A")
	a.Int("fromFile", 1, "d")
	a.Int("fromEnv", 2, "d")
	a.Int("fromFlag", 3, "d")
	s.Sub("B").Addrs("bad", "nonsense, 127.0.0.1:1", "a service bug")
	want := []string{
		`<embedded>:2: A.fromFile: "x" is not an integer; using default 1`,
		`env MT_A_fromEnv: A.fromEnv: "y" is not an integer; using default 2`,
		`--set: A.fromFlag: "z" is not an integer; using default 3`,
		`default: B.bad: "nonsense, 127.0.0.1:1" has the entry "nonsense", which is not host:port (missing port in address); using default 127.0.0.1:1`,
	}
	var got []string
	for _, p := range s.Problems() {
		got = append(got, p.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Store.Problems:\ngot  %q\nwant %q", got, want)
	}
	if got := len(a.Problems()); got != 3 {
		t.Errorf("A's problems: got %d, want 3", got)
	}
	if got := s.Sub("B").Addrs("bad", "nonsense, 127.0.0.1:1", "a service bug"); !reflect.DeepEqual(got, []string{"127.0.0.1:1"}) {
		t.Errorf("Addrs with a bad default: got %q, want the good entries", got)
	}
}

// The file line in a problem follows the file as last written.
func TestSectionProblemLineAfterWrite(t *testing.T) {
	path := t.TempDir() + "/mtnode.conf"
	writeFileT(t, path, "Z.limit=many\n")
	s := openT(t, Options{Path: path, Env: noEnv})
	c := s.Sub("Z")
	c.String("aaa", "1", "first key, sorted above") // rewrites the file; Z.limit moves down
	c.Int("limit", 10, "a limit")
	want := path + `:5: Z.limit: "many" is not an integer; using default 10`
	if p := s.Problems(); len(p) != 1 || p[0].Error() != want {
		t.Errorf("problems: got %v, want [%s]", p, want)
	}
}

func TestSectionWritesDefaults(t *testing.T) {
	path := t.TempDir() + "/mtnode.conf"
	s := openT(t, Options{Path: path, Env: noEnv})
	c := s.Sub("SocketIO")
	c.Bytes("maxOutBufferSize", 8388608, "Bytes buffered for output per connection")
	c.Duration("idleTimeout", 90*time.Second, "Close a connection idle this long")
	c.Bool("noDelay", true, "Set TCP_NODELAY")
	c.Addrs("bindAddr", "127.0.0.1:10200,[::1]:10200", "Listen addresses")
	want := `# Listen addresses (default: 127.0.0.1:10200,[::1]:10200)
SocketIO.bindAddr=127.0.0.1:10200,[::1]:10200

# Close a connection idle this long (default: 1m30s)
SocketIO.idleTimeout=1m30s

# Bytes buffered for output per connection (default: 8388608)
SocketIO.maxOutBufferSize=8388608

# Set TCP_NODELAY (default: true)
SocketIO.noDelay=true
`
	if got := readFileT(t, path); got != want {
		t.Errorf("file:\n--- got ---\n%s--- want ---\n%s", got, want)
	}
}

func TestSubEmptyPrefix(t *testing.T) {
	s := openT(t, Options{Embedded: "Start=RPC,Timer\n", Env: noEnv})
	if got := s.Sub("").String("Start", "RPC", "boot"); got != "RPC,Timer" {
		t.Errorf("got %q, want %q", got, "RPC,Timer")
	}
}

// config is the method set sdk.Config has; *Section must keep it.
type config interface {
	String(key, def, desc string) string
	Int(key string, def int64, desc string) int64
	Bool(key string, def bool, desc string) bool
	Duration(key string, def time.Duration, desc string) time.Duration
	Bytes(key string, def int64, desc string) int64
	Addrs(key, def, desc string) []string
	Problems() []error
}

var _ config = (*Section)(nil)
