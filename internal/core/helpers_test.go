package core

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/mtnode/mtnode/proto/mtpb"
	"github.com/mtnode/mtnode/sdk"
)

// envelopeOf builds a request envelope, as a link would receive it, whose
// reply goes to the node endpoint ep.
func envelopeOf(typ, dst string, ep sdk.Endpoint) *mtpb.Envelope {
	id := ep.(*endpoint).id
	return &mtpb.Envelope{Kind: mtpb.Envelope_REQUEST, Dst: dst, Type: typ, Payload: []byte{1, 2},
		Id: 7, Route: []*mtpb.Hop{{Kind: mtpb.Hop_ENDPOINT, Id: id}}}
}

// goid returns the calling goroutine's id, read from the "goroutine N [...]"
// header of its stack trace: tests use it to tell which goroutine ran a
// handler.
func goid(t testing.TB) uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b, ok := bytes.CutPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); ok && i > 0 {
		if id, err := strconv.ParseUint(string(b[:i]), 10, 64); err == nil {
			return id
		}
	}
	t.Errorf("cannot read the goroutine id from %q", buf[:])
	return 0
}

// logRecord is one record a logRecorder kept: its level, message and
// attributes (those of Logger.With included), each value as its String.
type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

// logRecorder is a slog.Handler that keeps every record, at every level,
// for a test to inspect. Groups are ignored: the node logs none.
type logRecorder struct {
	mu    *sync.Mutex
	recs  *[]logRecord
	attrs []slog.Attr
}

func newLogRecorder() logRecorder {
	return logRecorder{mu: new(sync.Mutex), recs: new([]logRecord)}
}

func (h logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	*h.recs = append(*h.recs, rec)
	h.mu.Unlock()
	return nil
}

func (h logRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.attrs = append(h.attrs[:len(h.attrs):len(h.attrs)], attrs...)
	return h
}

func (h logRecorder) WithGroup(string) slog.Handler { return h }

// all returns every record kept so far.
func (h logRecorder) all() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(*h.recs)
}

// find returns the records with message msg.
func (h logRecorder) find(msg string) []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []logRecord
	for _, r := range *h.recs {
		if r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}
