package timer

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/mtnode/mtnode/internal/core"
	"github.com/mtnode/mtnode/proto/timerpb"
	"github.com/mtnode/mtnode/sdk"
)

// Pending-alarm benchmark shape: benchAlarms alarms with deadlines
// benchSpacing apart, so they fire at 1/benchSpacing per second, starting
// benchLead after loading begins; lateness is sampled for benchWindow.
const (
	benchAlarms  = 1_000_000
	benchSpacing = 10 * time.Microsecond // 100,000 alarms/s
	benchLead    = 4 * time.Second
	benchWindow  = 3 * time.Second
	benchChunk   = 20_000
)

// BenchmarkPendingAlarms arms 1,000,000 alarms, reports the heap they take
// per alarm, then lets them fire at 100,000/s and reports how late they
// arrive (p50, p99, max) over benchWindow. The baseline does the same with
// one time.AfterFunc per alarm.
func BenchmarkPendingAlarms(b *testing.B) {
	logMachine(b)
	b.Run("impl=Timer", func(b *testing.B) {
		b.ReportAllocs()
		var r alarmResult
		for b.Loop() {
			r = benchTimerService(b)
		}
		r.report(b)
	})
	b.Run("baseline=AfterFunc", func(b *testing.B) {
		b.ReportAllocs()
		var r alarmResult
		for b.Loop() {
			r = benchAfterFunc(b)
		}
		r.report(b)
	})
}

type alarmResult struct {
	bytesPerAlarm float64
	lateness      []int64 // nanoseconds, of the alarms due in the window
	loadTime      time.Duration
}

func (r alarmResult) report(b *testing.B) {
	b.ReportMetric(r.bytesPerAlarm, "B/alarm")
	b.ReportMetric(float64(benchAlarms)/r.loadTime.Seconds(), "armed/s")
	if len(r.lateness) == 0 {
		b.Fatalf("no alarm fired in the window")
	}
	slices.Sort(r.lateness)
	q := func(p float64) float64 { return float64(r.lateness[int(p*float64(len(r.lateness)-1))]) / 1e6 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(len(r.lateness))/benchWindow.Seconds(), "fired/s")
}

// heapInUse returns the live heap and stack bytes after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

// sink is the requester of the benchmark: it arms alarms when told to and
// records the lateness of each tick it gets, on its own goroutine.
type sink struct {
	do       chan func(sdk.Context)
	lateness []int64
	from, to int64 // record ticks whose deadline is in [from, to)
}

func (s *sink) Handle(c sdk.Context, ev *sdk.Event) error {
	switch m := ev.Msg.(type) {
	case *timerpb.TickAlarm:
		if d := m.GetDeadlineUnixNano(); d >= s.from && d < s.to {
			s.lateness = append(s.lateness, time.Now().UnixNano()-d)
		}
		return nil
	case *emptypb.Empty:
		(<-s.do)(c)
		return nil
	}
	if ev.Err != nil {
		return ev.Err
	}
	return fmt.Errorf("sink: unexpected %T", ev.Msg)
}

// on runs f on the sink's goroutine and waits for it.
func (s *sink) on(b *testing.B, n *core.Node, f func(c sdk.Context)) {
	done := make(chan struct{})
	s.do <- func(c sdk.Context) { f(c); close(done) }
	if err := n.Send(sdk.To("Sink"), &emptypb.Empty{}); err != nil {
		b.Fatal(err)
	}
	<-done
}

func benchTimerService(b *testing.B) alarmResult {
	sk := &sink{do: make(chan func(sdk.Context), 1), lateness: make([]int64, 0, benchAlarms)}
	n, err := core.New(core.Config{
		Services: []sdk.Spec{Spec, sdk.Define("Sink", func() sdk.Service { return sk })},
		Start:    []string{Name, "Sink"},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			b.Error(err)
		}
	}()
	start := time.Now()
	base := start.Add(benchLead)
	sk.on(b, n, func(sdk.Context) {
		sk.from, sk.to = base.UnixNano(), base.Add(benchWindow).UnixNano()
	})
	before := heapInUse()
	handled0 := timerHandled(n)
	for lo := 0; lo < benchAlarms; lo += benchChunk {
		sk.on(b, n, func(c sdk.Context) {
			now := time.Now()
			for i := lo; i < min(lo+benchChunk, benchAlarms); i++ {
				due := base.Add(time.Duration(i) * benchSpacing)
				c.Send(sdk.To(Name), &timerpb.SetAlarm{Id: uint64(i), Delay: due.Sub(now).Seconds()})
			}
		})
		// Let the Timer take the chunk before the next, so its queue never
		// fills (a full queue would refuse requests, not lose them).
		for timerHandled(n) < handled0+uint64(min(lo+benchChunk, benchAlarms)) {
			time.Sleep(time.Millisecond)
		}
	}
	loadTime := time.Since(start)
	if loadTime > benchLead {
		b.Fatalf("loading took %v, more than the %v lead: alarms fired while loading", loadTime, benchLead)
	}
	after := heapInUse()
	time.Sleep(time.Until(base.Add(benchWindow + 50*time.Millisecond)))
	var lat []int64
	sk.on(b, n, func(sdk.Context) { lat = sk.lateness })
	return alarmResult{bytesPerAlarm: float64(after-before) / benchAlarms, lateness: lat, loadTime: loadTime}
}

func timerHandled(n *core.Node) uint64 {
	for _, s := range n.Stats() {
		if s.Name == Name {
			return s.Handled
		}
	}
	return 0
}

func benchAfterFunc(b *testing.B) alarmResult {
	lateness := make([]int64, benchAlarms)
	var count atomic.Int64
	start := time.Now()
	base := start.Add(benchLead)
	from, to := base.UnixNano(), base.Add(benchWindow).UnixNano()
	before := heapInUse()
	timers := make([]*time.Timer, benchAlarms) // kept to stop them, as a user of AfterFunc must
	for i := range timers {
		dueAt := base.Add(time.Duration(i) * benchSpacing)
		due := dueAt.UnixNano()
		timers[i] = time.AfterFunc(time.Until(dueAt), func() {
			if due >= from && due < to {
				lateness[count.Add(1)-1] = time.Now().UnixNano() - due
			}
		})
	}
	loadTime := time.Since(start)
	after := heapInUse()
	time.Sleep(time.Until(base.Add(benchWindow + 50*time.Millisecond)))
	for _, t := range timers {
		t.Stop()
	}
	// Callbacks due in the window have all run by now; a late one would
	// show as a count still moving.
	return alarmResult{bytesPerAlarm: float64(after-before) / benchAlarms, lateness: lateness[:count.Load()], loadTime: loadTime}
}

// logMachine records the machine beside the figures.
func logMachine(b *testing.B) {
	cpu := "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	b.Logf("machine: cpu=%q cores=%d GOMAXPROCS=%d go=%s %s/%s", cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
