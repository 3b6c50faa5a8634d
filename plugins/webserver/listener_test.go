package webserver

import (
	"testing"

	"github.com/mtnode/mtnode/sdk"
)

// TestEarlyKeepsLiveReplies fills the early-reply map to its bound with
// old replies, parks a live one (an inline reply whose request is not yet
// registered), and sends more: the live one must survive until its request
// collects it, while the old ones make room.
func TestEarlyKeepsLiveReplies(t *testing.T) {
	l := newListener(1, sdk.To("Site"), nil, false, 0, nil)
	for i := range maxEarly - 1 {
		l.onReply(&sdk.Event{ID: uint64(1_000_000 + i)})
	}
	l.expire(nil) // one sweeper tick: the replies above are now from an earlier tick
	live := &sdk.Event{ID: 7}
	l.onReply(live) // fills the map
	l.onReply(&sdk.Event{ID: 8})
	l.onReply(&sdk.Event{ID: 9})
	if got := l.early[7].ev; got != live {
		t.Fatalf("live reply 7: got %v, want it kept", got)
	}
	if got, want := len(l.early), 3; got != want {
		t.Errorf("early holds %d replies, want %d (old ones evicted)", got, want)
	}
	if got := l.droppedReplies.Load(); got != 0 {
		t.Errorf("dropped %d replies, want 0", got)
	}
}

// TestEarlyFullOfCurrentReplies checks the last resort: a map full of
// replies from the current tick refuses the next one and counts it, and
// keeps the others.
func TestEarlyFullOfCurrentReplies(t *testing.T) {
	l := newListener(1, sdk.To("Site"), nil, false, 0, nil)
	for i := range maxEarly {
		l.onReply(&sdk.Event{ID: uint64(i + 1)})
	}
	l.onReply(&sdk.Event{ID: maxEarly + 1})
	if got, want := len(l.early), maxEarly; got != want {
		t.Errorf("early holds %d replies, want %d", got, want)
	}
	if _, ok := l.early[1]; !ok {
		t.Errorf("reply 1 was evicted, want it kept")
	}
	if got := l.droppedReplies.Load(); got != 1 {
		t.Errorf("dropped %d replies, want 1", got)
	}
}

// TestExpireDropsOldEarly checks that the sweeper forgets early replies
// after a reply timeout and keeps younger ones.
func TestExpireDropsOldEarly(t *testing.T) {
	l := newListener(1, sdk.To("Site"), nil, false, 0, nil)
	l.onReply(&sdk.Event{ID: 1})
	for range replyTicks {
		l.expire(nil)
	}
	l.onReply(&sdk.Event{ID: 2})
	if len(l.early) != 2 {
		t.Fatalf("early holds %d replies after %d ticks, want 2", len(l.early), replyTicks)
	}
	l.expire(nil)
	if _, ok := l.early[1]; ok {
		t.Errorf("reply 1 kept after a reply timeout, want it dropped")
	}
	if _, ok := l.early[2]; !ok {
		t.Errorf("reply 2 dropped, want it kept")
	}
}
