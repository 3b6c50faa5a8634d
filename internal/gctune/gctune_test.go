package gctune

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	tests := []struct {
		live, floor uint64
		base, want  int
	}{
		{live: 4 << 20, floor: 64 << 20, base: 100, want: 1600}, // small heap: grows by the floor
		{live: 64 << 20, floor: 64 << 20, base: 100, want: 100}, // at the floor: GOGC
		{live: 1 << 30, floor: 64 << 20, base: 100, want: 100},  // big heap: GOGC alone
		{live: 1 << 30, floor: 64 << 20, base: 200, want: 200},  // the user's GOGC is kept
		// Below the runtime's minimum heap, which the percentage scales:
		// the goal is then the minimum heap times percent/100, the floor.
		{live: 0, floor: 64 << 20, base: 100, want: 1600}, // nothing live yet
		{live: 100 << 10, floor: 64 << 20, base: 100, want: 1600},
		{live: 1 << 30, floor: 1 << 40, base: 100, want: maxPercent}, // capped
	}
	for _, tt := range tests {
		if got := Percent(tt.live, tt.floor, tt.base); got != tt.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", tt.live, tt.floor, tt.base, got, tt.want)
		}
	}
}

// TestStartSetsThePercent runs in a child process, since the percentage
// and Start's once are the process's: after a collection, a small heap's
// percentage is the floor's share of it, and GOGC=off leaves the
// collector alone.
func TestStartSetsThePercent(t *testing.T) {
	if os.Getenv("GCTUNE_CHILD") == "1" {
		Start(DefaultFloor)
		runtime.GC()
		runtime.GC() // the first cycle's finalizer has run by the second's end
		for range 100 {
			runtime.Gosched()
		}
		p := debug.SetGCPercent(-1)
		if os.Getenv("GOGC") == "off" {
			if p != -1 {
				t.Fatalf("GOGC=off: got percent %d, want the collector left off", p)
			}
			return
		}
		if p <= 100 {
			t.Fatalf("a heap of a few MB live: got percent %d, want well above 100", p)
		}
		// A heap past the floor is left to GOGC, retuned after a
		// collection (the finalizer path).
		debug.SetGCPercent(p)
		big := make([][]byte, 0, 128)
		for range 128 {
			big = append(big, make([]byte, 1<<20))
		}
		for range 500 {
			runtime.GC()
			time.Sleep(time.Millisecond)
			if p = debug.SetGCPercent(-1); p == 100 {
				break
			}
			debug.SetGCPercent(p)
		}
		runtime.KeepAlive(big)
		if p != 100 {
			t.Fatalf("a heap of 128 MB live: got percent %d, want GOGC's 100", p)
		}
		return
	}
	for _, gogc := range []string{"", "off"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStartSetsThePercent$", "-test.v")
		cmd.Env = append(os.Environ(), "GCTUNE_CHILD=1", "GOGC="+gogc)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PASS") {
			t.Fatalf("GOGC=%q: %v\n%s", gogc, err, out)
		}
	}
}

func TestFloorFromEnv(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want uint64
	}{{"", DefaultFloor}, {"1048576", 1 << 20}, {"0", 0}, {"lots", DefaultFloor}, {"-5", DefaultFloor}} {
		t.Setenv(EnvFloor, tt.env)
		if got := FloorFromEnv(); got != tt.want {
			t.Errorf("%s=%q: got %d, want %d", EnvFloor, tt.env, got, tt.want)
		}
	}
}

// TestStartGoalIsTheFloor: from Start on, the heap goal the runtime works
// to is about the floor, not the minimum heap times a percentage worked out
// from a heap of nothing (which made it 2 GB before the first collection).
func TestStartGoalIsTheFloor(t *testing.T) {
	if os.Getenv("GCTUNE_CHILD") == "goal" {
		Start(DefaultFloor)
		s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
		metrics.Read(s)
		if goal := s[0].Value.Uint64(); goal > 2*DefaultFloor {
			t.Fatalf("heap goal after Start(%d MiB) is %d MiB; want about the floor", DefaultFloor>>20, goal>>20)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStartGoalIsTheFloor$", "-test.v")
	cmd.Env = append(os.Environ(), "GCTUNE_CHILD=goal", "GOGC=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
