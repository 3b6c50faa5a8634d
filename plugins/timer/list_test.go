package timer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mtnode/mtnode/proto/timerpb"
	"github.com/mtnode/mtnode/sdk"
)

// list asks the Timer for its pending entries as an outside caller.
func (h *harness) list(limit uint32) *timerpb.ListReply {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg, err := h.n.Request(ctx, sdk.To(Name), &timerpb.List{Limit: limit})
	if err != nil {
		h.t.Fatalf("List: %v", err)
	}
	return msg.Msg.(*timerpb.ListReply)
}

func TestList(t *testing.T) {
	h := newHarness(t, nil, "A", "B")
	// Armed out of order; one alarm cancelled (a tombstone), one fired.
	h.send("A", &timerpb.SetAlarm{Id: 3, Data: []byte("x"), Delay: 30})
	h.send("B", &timerpb.SetTimer{Id: 2, Period: 0.5})
	h.send("A", &timerpb.SetAlarm{Id: 1, Delay: 10})
	h.send("A", &timerpb.SetAlarm{Id: 9, Delay: 5})
	h.send("A", &timerpb.StopAlarm{Id: 9})
	h.send("B", &timerpb.SetAlarm{Id: 4, Delay: 0.1})
	h.advance(time.Second)

	type row struct {
		requester string
		id        uint64
		data      string
		deadline  int64
		periodic  bool
		period    float64
	}
	all := []row{
		{"B", 2, "", unix(1500 * time.Millisecond), true, 0.5},
		{"A", 1, "", unix(10 * time.Second), false, 0},
		{"A", 3, "x", unix(30 * time.Second), false, 0},
	}
	tests := []struct {
		name  string
		limit uint32
		want  []row
	}{
		{"default limit", 0, all},
		{"bounded", 2, all[:2]},
		{"one", 1, all[:1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.list(tt.limit)
			if r.GetTotal() != 3 {
				t.Errorf("total = %d, want 3", r.GetTotal())
			}
			var got []row
			for _, e := range r.GetEntries() {
				got = append(got, row{e.GetRequester(), e.GetId(), string(e.GetData()), e.GetDeadlineUnixNano(), e.GetPeriodic(), e.GetPeriod()})
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("entries\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestListEarliestOfMany(t *testing.T) {
	h := newHarness(t, nil, "A")
	const n = 500
	h.run("A", func(c sdk.Context) {
		for i := range n {
			// Deadlines n, n-1, ..., 1 seconds: the reverse of arming order.
			c.Send(sdk.To(Name), &timerpb.SetAlarm{Id: uint64(i), Delay: float64(n - i)})
		}
	})
	h.sync()
	r := h.list(10)
	if r.GetTotal() != n || len(r.GetEntries()) != 10 {
		t.Fatalf("got %d entries of %d, want 10 of %d", len(r.GetEntries()), r.GetTotal(), n)
	}
	for i, e := range r.GetEntries() {
		if got, want := e.GetDeadlineUnixNano(), unix(time.Duration(i+1)*time.Second); got != want {
			t.Errorf("entry %d: deadline %d, want %d (earliest first)", i, got, want)
		}
	}
	if got := h.list(MaxListLimit + 5); len(got.GetEntries()) != n {
		t.Errorf("limit above the maximum: got %d entries, want all %d", len(got.GetEntries()), n)
	}
}
