package pluginrt

import (
	"errors"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/mtnode/mtnode/proto/pluginpb"
	"github.com/mtnode/mtnode/sdk"
)

// fakeStream is a Stream whose Recv blocks until end is closed and whose
// Send fails once fail frames have been written (never when fail < 0),
// ending Recv too, as a broken gRPC stream does.
type fakeStream struct {
	mu    sync.Mutex
	sent  []*pluginpb.Frame
	fail  int
	end   chan struct{}
	ended sync.Once
}

func newFakeStream(fail int) *fakeStream { return &fakeStream{fail: fail, end: make(chan struct{})} }

// SendMsg takes a control frame or a batch the Conn encoded, as the gRPC
// stream does through link.Codec, and keeps it decoded.
func (s *fakeStream) SendMsg(m any) error {
	f, err := FrameOf(m)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail >= 0 && len(s.sent) >= s.fail {
		s.ended.Do(func() { close(s.end) })
		return errors.New("broken pipe")
	}
	s.sent = append(s.sent, f)
	return nil
}

func (s *fakeStream) RecvMsg(any) error {
	<-s.end
	return io.EOF
}

func (s *fakeStream) written() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.sent {
		n += len(f.GetBatch().GetEnvelopes())
	}
	return n
}

func testEvents(n int) []*sdk.Event {
	evs := make([]*sdk.Event, n)
	for i := range evs {
		evs[i] = &sdk.Event{Kind: sdk.KindRequest, ID: uint64(i + 1), Dst: "X", Msg: wrapperspb.String(strconv.Itoa(i))}
	}
	return evs
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAbandoned: every event a Conn accepted is written or returned by
// Abandoned once Run has returned, never dropped.
func TestAbandoned(t *testing.T) {
	tests := []struct {
		name        string
		credit      uint32
		failAfter   int // frames written before Send fails; -1 never
		events      int
		wantWritten int
	}{
		{name: "queued without credit", credit: 3, failAfter: -1, events: 10, wantWritten: 3},
		{name: "write fails", credit: 100, failAfter: 0, events: 10, wantWritten: 0},
		{name: "nothing left", credit: 100, failAfter: -1, events: 10, wantWritten: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeStream(tt.failAfter)
			var failed int
			c := NewConn(s, ConnConfig{Name: "test", Credit: tt.credit, Deliver: func(*sdk.Event) {},
				Failed: func(*sdk.Event, error) { failed++ }})
			evs := testEvents(tt.events)
			for _, ev := range evs {
				if err := c.Send(ev); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan error, 1)
			go func() { done <- c.Run() }()
			if tt.failAfter < 0 {
				waitFor(t, "the writer to use its credit", func() bool { return s.written() == tt.wantWritten })
				s.ended.Do(func() { close(s.end) })
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return")
			}
			if err := c.Send(testEvents(1)[0]); sdk.CodeOf(err) != sdk.CodeLinkLost {
				t.Fatalf("Send after Run: got %v, want a link-lost error", err)
			}
			got := c.Abandoned()
			if len(got)+s.written() != tt.events || failed != 0 {
				t.Fatalf("got %d abandoned + %d written (+%d failed), want %d events in all", len(got), s.written(), failed, tt.events)
			}
			for i, ev := range got {
				if want := evs[tt.wantWritten+i]; ev != want {
					t.Fatalf("abandoned[%d]: got event %d, want %d (in order)", i, ev.ID, want.ID)
				}
			}
			if again := c.Abandoned(); len(again) != 0 {
				t.Fatalf("second Abandoned: got %d events, want none", len(again))
			}
		})
	}
}
