package config

import (
	"fmt"
	"testing"
)

// BenchmarkLookup measures Lookup of a key that is already defined, the
// call services make when they start, beside a plain map lookup of the
// same key in a map of the same size, so results read as a ratio.
func BenchmarkLookup(b *testing.B) {
	const keys = 200
	var conf string
	plain := make(map[string]string, keys)
	for i := range keys {
		k := fmt.Sprintf("Svc%d.key%d", i%10, i)
		conf += fmt.Sprintf("# key %d (default: %d)\n%s=%d\n\n", i, i, k, i)
		plain[k] = fmt.Sprint(i)
	}
	s := openT(b, Options{Embedded: conf, Env: noEnv})
	const key = "Svc7.key117"
	s.Lookup(key, "0", "key 117")
	c := s.Sub("Svc7")
	c.Int("key117", 0, "key 117")

	b.Run("baseline=map", func(b *testing.B) {
		b.ReportAllocs()
		var v string
		for b.Loop() {
			v = plain[key]
		}
		if v != "117" {
			b.Fatalf("got %q", v)
		}
	})
	b.Run("store=Lookup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Lookup(key, "0", "key 117")
		}
	})
	b.Run("section=Int", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Int("key117", 0, "key 117")
		}
	})
	// The same lookups from every P at once: the read lock is shared, so
	// this shows what the lock's cache line costs under contention.
	b.Run("baseline=map/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var v string
			for pb.Next() {
				v = plain[key]
			}
			_ = v
		})
	})
	b.Run("store=Lookup/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Lookup(key, "0", "key 117")
			}
		})
	})
}
