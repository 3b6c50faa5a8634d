package core

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/mtnode/mtnode/sdk"
)

// startLog records the order in which services start.
type startLog struct {
	mu    sync.Mutex
	names []string
}

func (l *startLog) add(name string) { l.mu.Lock(); l.names = append(l.names, name); l.mu.Unlock() }

func (l *startLog) get() []string { l.mu.Lock(); defer l.mu.Unlock(); return slices.Clone(l.names) }

// starting is a service that records its Start.
type starting struct {
	name string
	log  *startLog
}

func (s starting) Start(sdk.Context) error              { s.log.add(s.name); return nil }
func (s starting) Handle(sdk.Context, *sdk.Event) error { return nil }

func startingSpec(name string, log *startLog) sdk.Spec {
	return sdk.Define(name, func() sdk.Service { return starting{name, log} })
}

// TestStartWithKeepsListedOrder: the services of Start= start in the order
// listed, those that live outside the node (plugins) at their place among
// the node's own; an unknown name fails before anything starts.
func TestStartWithKeepsListedOrder(t *testing.T) {
	tests := []struct {
		name    string
		start   []string
		want    []string
		wantErr error
	}{
		{"built-in, external, built-in", []string{"A", "Ext", "B"}, []string{"A", "Ext", "B"}, nil},
		{"external first and last", []string{"Ext", "B", "A", "Ext2"}, []string{"Ext", "B", "A", "Ext2"}, nil},
		{"unknown name starts nothing", []string{"A", "Ext", "Nope"}, nil, ErrUnknownStart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log startLog
			n, err := New(Config{Services: []sdk.Spec{startingSpec("A", &log), startingSpec("B", &log)}, Start: tt.start})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Stop(context.Background())
			external := func(name string) bool { return name == "Ext" || name == "Ext2" }
			err = n.StartWith(context.Background(), external, func(_ context.Context, name string) error {
				log.add(name)
				return nil
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if got := log.get(); !slices.Equal(got, tt.want) {
				t.Errorf("started %q, want %q", got, tt.want)
			}
		})
	}
}

// TestStartWithExternalFailureStops: a service outside the node that fails
// to start stops the boot there, with its name in the error.
func TestStartWithExternalFailureStops(t *testing.T) {
	var log startLog
	n, err := New(Config{Services: []sdk.Spec{startingSpec("A", &log), startingSpec("B", &log)}, Start: []string{"A", "Ext", "B"}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop(context.Background())
	boom := errors.New("boom")
	err = n.StartWith(context.Background(), func(name string) bool { return name == "Ext" },
		func(context.Context, string) error { return boom })
	if !errors.Is(err, boom) || err.Error() != "core: starting Ext: boom" {
		t.Fatalf("got %v, want %q wrapping boom", err, "core: starting Ext: boom")
	}
	if got := log.get(); !slices.Equal(got, []string{"A"}) {
		t.Errorf("started %q, want only [A] (B comes after the failed Ext)", got)
	}
}

// TestStartWithStopsWhenCanceled: once the boot's context ends (a signal
// during the boot), the services of Start= still to come are not started,
// and the context's error is returned.
func TestStartWithStopsWhenCanceled(t *testing.T) {
	var log startLog
	n, err := New(Config{Services: []sdk.Spec{startingSpec("A", &log), startingSpec("B", &log)}, Start: []string{"A", "Ext", "B"}})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = n.StartWith(ctx, func(name string) bool { return name == "Ext" },
		func(context.Context, string) error { cancel(); return nil }) // the signal comes as Ext starts
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if err := n.Stop(context.Background()); err != nil { // a Start in progress ends first
		t.Fatal(err)
	}
	if got := log.get(); !slices.Equal(got, []string{"A"}) {
		t.Errorf("started %q, want only [A]: B comes after the signal", got)
	}
}
