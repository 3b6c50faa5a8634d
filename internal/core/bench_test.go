package core

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
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/internal/gctune"
	"github.com/mtnode/mtnode/sdk"
)

// Benchmarks of the kernel, each beside a baseline from the same run:
//
//   - BenchmarkOneWay: events from one service to another vs pointers on a
//     buffered channel between two goroutines (a fresh allocation each).
//   - BenchmarkOneWayCosts (cost_bench_test.go): the queue alone, then with
//     a Send's allocations one at a time, against the same baseline: where
//     BenchmarkOneWay's ratio goes.
//   - BenchmarkRoundTrip: request/reply between two services vs a channel
//     ping-pong.
//   - BenchmarkIdleServices: memory per started, idle service vs per goroutine
//     blocked on its own channel.
//
// Each iteration moves a burst of events and waits until the receiver has
// counted them all, so producer and consumer run concurrently, as they do
// in a node, and no queue overflows. Rates are in events/s; the service
// sub-benchmarks also report their ratio to the baseline of the same run
// (x-chan: rate ratio, higher is better; time-x-chan: time ratio, lower is
// better). With -count N the baseline runs N times before the service
// does, and the ratio is to the median of those N runs, not to the last
// one alone: on a shared machine one baseline run can be 20% off. The
// process collects as a node's does, with the heap growth floor of
// internal/gctune, baselines included (logMachine).

const benchBurst = 4096

// idleStartBudget bounds the time BenchmarkIdleServices spends starting
// services, so a regression makes it skip rather than run for hours.
const idleStartBudget = 30 * time.Second

// BenchmarkOneWay sends one-way events (a fresh payload each) from a
// service to another, which counts them. The paired sub-benchmark
// alternates one burst of each, so that both meet the same machine: on a
// shared VM a channel's rate moved by half between processes run a minute
// apart, more than any change measured here, and its x-chan (the ratio of
// the two totals) is the figure to quote.
func BenchmarkOneWay(b *testing.B) {
	logMachine(b)
	var chanRates []float64 // every baseline run of this process (-count)
	b.Run("baseline=chan", func(b *testing.B) {
		b.ReportAllocs()
		burst := chanOneWay(b)
		t0 := time.Now()
		for b.Loop() {
			burst()
		}
		chanRates = append(chanRates, rate(b, t0))
	})
	b.Run("impl=service", func(b *testing.B) {
		b.ReportAllocs()
		burst := serviceOneWay(b)
		t0 := time.Now()
		for b.Loop() {
			burst()
		}
		r := rate(b, t0)
		if len(chanRates) > 0 {
			b.ReportMetric(r/median(chanRates), "x-chan")
		}
	})
	b.Run("paired", func(b *testing.B) {
		paired(b, chanOneWay(b), serviceOneWay(b))
	})
}

// paired alternates one burst of the channel baseline and one of burst
// until the benchmark ends, and reports both rates and their ratio
// (x-chan, higher is better).
func paired(b *testing.B, baseline, burst func()) {
	var chanT, burstT time.Duration
	for b.Loop() {
		t0 := time.Now()
		baseline()
		t1 := time.Now()
		burst()
		chanT += t1.Sub(t0)
		burstT += time.Since(t1)
	}
	n := float64(b.N) * benchBurst
	b.ReportMetric(n/chanT.Seconds(), "chan-events/s")
	b.ReportMetric(n/burstT.Seconds(), "events/s")
	b.ReportMetric(chanT.Seconds()/burstT.Seconds(), "x-chan")
}

// chanOneWay starts a producer and a consumer goroutine passing pointers
// (a fresh allocation each) on a buffered channel, and returns a function
// that has them move one burst and waits until the consumer counted it.
func chanOneWay(b *testing.B) (burst func()) {
	ch := make(chan *wrapperspb.UInt64Value, benchBurst)
	start, done := make(chan struct{}), make(chan struct{})
	go func() { // producer
		for range start {
			for i := range uint64(benchBurst) {
				ch <- &wrapperspb.UInt64Value{Value: i}
			}
		}
		close(ch)
	}()
	go func() { // consumer
		n := 0
		for m := range ch {
			if m != nil {
				n++
			}
			if n == benchBurst {
				n = 0
				done <- struct{}{}
			}
		}
		close(done)
	}()
	b.Cleanup(func() {
		close(start)
		<-done
	})
	return func() {
		start <- struct{}{}
		<-done
	}
}

// serviceOneWay starts a node whose service Src, on each event, sends a
// burst of events to Dst, and returns a function that starts one burst and
// waits until Dst counted it.
func serviceOneWay(b *testing.B) (burst func()) {
	done := make(chan struct{})
	n := benchNode(b, Config{Services: []sdk.Spec{
		sdk.Define("Src", func() sdk.Service {
			return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
				for i := range uint64(benchBurst) {
					c.Send(sdk.To("Dst"), &wrapperspb.UInt64Value{Value: i})
				}
				return nil
			})
		}),
		burstCounter("Dst", done),
	}, Start: []string{"Dst", "Src"}})
	go_ := &emptypb.Empty{}
	return func() {
		if err := n.Send(sdk.To("Src"), go_); err != nil {
			b.Fatal(err)
		}
		<-done
	}
}

// burstCounter defines a service that counts the events it receives and
// signals done after each benchBurst of them.
func burstCounter(name string, done chan<- struct{}) sdk.Spec {
	return sdk.Define(name, func() sdk.Service {
		count := 0
		return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
			if count++; count == benchBurst {
				count = 0
				done <- struct{}{}
			}
			return nil
		})
	})
}

// BenchmarkRoundTrip runs sequential request/reply round trips between two
// services (A sends, B replies, A sends the next on the reply).
func BenchmarkRoundTrip(b *testing.B) {
	logMachine(b)
	const trips = 1000
	var chanNs []float64 // every baseline run of this process (-count)
	b.Run("baseline=chan", func(b *testing.B) {
		b.ReportAllocs()
		ping, pong := make(chan *wrapperspb.UInt64Value), make(chan *wrapperspb.UInt64Value)
		go func() {
			for m := range ping {
				pong <- &wrapperspb.UInt64Value{Value: m.Value}
			}
		}()
		t0 := time.Now()
		for b.Loop() {
			for i := range uint64(trips) {
				ping <- &wrapperspb.UInt64Value{Value: i}
				<-pong
			}
		}
		chanNs = append(chanNs, nsPerEvent(b, t0, trips))
		close(ping)
	})
	b.Run("impl=service", func(b *testing.B) {
		b.ReportAllocs()
		done := make(chan struct{})
		left := 0
		n := benchNode(b, Config{Services: []sdk.Spec{
			sdk.Define("A", func() sdk.Service {
				return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
					if ev.Kind == sdk.KindRequest { // from the benchmark: start a run
						left = trips
					} else if left--; left == 0 {
						done <- struct{}{}
						return nil
					}
					c.Send(sdk.To("B"), &wrapperspb.UInt64Value{Value: uint64(left)})
					return nil
				})
			}),
			sdk.Define("B", func() sdk.Service {
				return sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
					c.Reply(&wrapperspb.UInt64Value{Value: ev.Msg.(*wrapperspb.UInt64Value).GetValue()})
					return nil
				})
			}),
		}, Start: []string{"B", "A"}})
		go_ := &emptypb.Empty{}
		t0 := time.Now()
		for b.Loop() {
			if err := n.Send(sdk.To("A"), go_); err != nil {
				b.Fatal(err)
			}
			<-done
		}
		ns := nsPerEvent(b, t0, trips)
		if len(chanNs) > 0 {
			b.ReportMetric(ns/median(chanNs), "time-x-chan")
		}
	})
}

// BenchmarkIdleServices starts 100,000 services, each by one event, and
// reports the heap and stack they hold once idle, per service. The
// baseline is one goroutine blocked on its own channel per "service".
func BenchmarkIdleServices(b *testing.B) {
	logMachine(b)
	for _, count := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("baseline=goroutine/n=%d", count), func(b *testing.B) {
			b.ReportAllocs()
			var per float64
			for b.Loop() {
				before := liveBytes()
				chans := make([]chan struct{}, count)
				var started atomic.Int64
				done := make(chan struct{})
				for i := range chans {
					chans[i] = make(chan struct{})
					go func(ch chan struct{}) {
						if started.Add(1) == int64(count) {
							close(done)
						}
						<-ch
					}(chans[i])
				}
				<-done
				per = float64(liveBytes()-before) / float64(count)
				for _, ch := range chans {
					close(ch)
				}
			}
			b.ReportMetric(per, "B/service")
		})
		b.Run(fmt.Sprintf("impl=service/n=%d", count), func(b *testing.B) {
			b.ReportAllocs()
			var per float64
			var startTime time.Duration
			for b.Loop() {
				per, startTime = idleServices(b, count)
			}
			b.ReportMetric(per, "B/service")
			b.ReportMetric(float64(count)/startTime.Seconds(), "started/s")
		})
	}
}

// idleServices starts count services by one event each and returns the
// bytes held per service and how long starting them took.
func idleServices(b *testing.B, count int) (float64, time.Duration) {
	var handled atomic.Int64
	all := make(chan struct{})
	svc := sdk.HandlerFunc(func(c sdk.Context, ev *sdk.Event) error {
		if handled.Add(1) == int64(count) {
			close(all)
		}
		return nil
	})
	specs := make([]sdk.Spec, count)
	for i := range specs {
		specs[i] = sdk.Define(fmt.Sprintf("S%06d", i), func() sdk.Service { return svc })
	}
	n, err := New(Config{Services: specs})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			b.Error(err)
		}
	}()
	msg := &emptypb.Empty{}
	before := liveBytes()
	t0 := time.Now()
	for i, s := range specs {
		if err := n.Send(sdk.To(s.Name), msg); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 && time.Since(t0) > idleStartBudget {
			b.Skipf("started only %d of %d services in %v: starting a service costs time proportional to the services already running", i+1, count, idleStartBudget)
		}
	}
	<-all
	elapsed := time.Since(t0)
	return float64(liveBytes()-before) / float64(count), elapsed
}

// benchNode starts a node and stops it when the benchmark ends.
func benchNode(b *testing.B, cfg Config) *Node {
	b.Helper()
	n, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(context.Background(), nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			b.Error(err)
		}
	})
	return n
}

// rate reports and returns the events per second of a burst benchmark.
func rate(b *testing.B, t0 time.Time) float64 {
	r := float64(b.N) * benchBurst / time.Since(t0).Seconds()
	b.ReportMetric(r, "events/s")
	return r
}

// nsPerEvent reports and returns the time per round trip.
func nsPerEvent(b *testing.B, t0 time.Time, per int) float64 {
	ns := float64(time.Since(t0).Nanoseconds()) / float64(b.N) / float64(per)
	b.ReportMetric(ns, "ns/trip")
	b.ReportMetric(1e9/ns, "events/s")
	return ns
}

// liveBytes returns the live heap and stack bytes after a full collection.
func liveBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

// logMachine records the machine beside the figures, and starts the
// collector tuning every node process runs with (Node.gcFloorMiB, default
// 64 MiB; see internal/gctune). It is process-wide, so the baselines run
// under it too.
func logMachine(b *testing.B) {
	gctune.Start(gctune.DefaultFloor)
	cpu := "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	b.Logf("machine: cpu=%q cores=%d GOMAXPROCS=%d go=%s %s/%s gc-floor=%dMiB", cpu, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, gctune.DefaultFloor>>20)
}

// median returns the median of xs (which it sorts).
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
