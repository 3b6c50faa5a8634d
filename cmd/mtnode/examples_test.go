package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtnode/mtnode/examples/demo/echo"
	"github.com/mtnode/mtnode/examples/demo/heartbeat"
	"github.com/mtnode/mtnode/examples/demo/helloweb"
	"github.com/mtnode/mtnode/examples/demo/httprpc"
	"github.com/mtnode/mtnode/examples/demo/telnetdemo"
	"github.com/mtnode/mtnode/internal/boot"
	"github.com/mtnode/mtnode/sdk/sdktest"
)

// TestExampleConfigs boots a node on each conf/examples/*.conf, as the
// program the file is named after (conf/mtnode-web.conf is mtnode-web's),
// with mtnode's services and the mt-demo plugin's linked in: the file
// parses, every value converts, every Start= service is known and starts,
// no key is unknown, and the run keeps every line of the example in its
// order, so the description lines above its keys are the ones the services
// write. Listening addresses are checked, then replaced with 127.0.0.1:0.
func TestExampleConfigs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "conf", "examples", "*.conf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no conf/examples/*.conf (%v)", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			example, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p := t.TempDir()
			for _, d := range []string{"bin", "conf"} {
				if err := os.Mkdir(filepath.Join(p, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			conf := filepath.Join(p, "conf", filepath.Base(file))
			if err := os.WriteFile(conf, example, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs sdktest.LogBuffer
			opts := boot.Options{
				Exe:          filepath.Join(p, "bin", strings.TrimSuffix(filepath.Base(file), ".conf")),
				Services:     append(builtins(), echo.Spec, helloweb.Spec, httprpc.Spec, telnetdemo.Spec, heartbeat.Spec),
				DefaultStart: defaultStart(),
				Embedded:     defaultConf,
				LogOut:       &logs,
				Env:          func(string) (string, bool) { return "", false },
			}

			st, _, err := boot.OpenStore(opts, true)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if st.Path() != conf {
				t.Fatalf("the node read %s, want %s", st.Path(), conf)
			}
			for _, e := range st.Effective() {
				if svc, key, _ := strings.Cut(e.Key, "."); key == "bindAddr" {
					st.Sub(svc).Addrs(key, "", "")
					opts.Sets = append(opts.Sets, e.Key+"=127.0.0.1:0")
				}
			}
			for _, p := range st.Problems() {
				t.Errorf("%v", p)
			}

			n, err := boot.Open(opts)
			if err != nil {
				t.Fatalf("%v", err)
			}
			err = n.Start(context.Background(), nil, nil)
			if stopErr := n.Stop(); err == nil {
				err = stopErr
			}
			if err != nil {
				t.Fatalf("%v", err)
			}
			// Config warnings: unknown keys, values that do not convert,
			// a file that cannot be written.
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "level=WARN") && strings.Contains(l, `msg="config`) {
					t.Errorf("%s", l)
				}
			}
			after, err := os.ReadFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			if missing := missingLines(string(example), string(after)); missing != "" {
				t.Errorf("the run changed or moved the example's line %q (a description line out of date,"+
					" or keys not sorted?); the file it wrote:\n%s", missing, after)
			}
			for _, name := range n.StartList() {
				if !n.Has(name) {
					t.Errorf("Start= service %s is neither mtnode's nor mt-demo's", name)
				}
			}
		})
	}
}

// missingLines returns the first line of want that is not in got, in
// order, or "".
func missingLines(want, got string) string {
	rest := strings.Split(got, "\n")
	for _, l := range strings.Split(want, "\n") {
		i := 0
		for i < len(rest) && rest[i] != l {
			i++
		}
		if i == len(rest) {
			return l
		}
		rest = rest[i+1:]
	}
	return ""
}
