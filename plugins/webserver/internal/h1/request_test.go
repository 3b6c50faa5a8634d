package h1

import "testing"

// TestResetDropsHeaderBytes: a request reset for the next one on its
// connection keeps its header slice but none of the bytes the old fields
// pointed into (the connection's read buffer, which an idle connection
// gives back): a kept-alive connection after one large request must not
// pin that request's buffer.
func TestResetDropsHeaderBytes(t *testing.T) {
	buf := make([]byte, 1<<20)
	r := &Request{Headers: []Header{{Name: buf[:4], Value: buf[4:8]}, {Name: buf[8:12], Value: buf[12:]}}}
	r.reset()
	if len(r.Headers) != 0 || cap(r.Headers) != 2 {
		t.Fatalf("got len %d cap %d, want an empty slice keeping its capacity 2", len(r.Headers), cap(r.Headers))
	}
	for i, h := range r.Headers[:2] {
		if h.Name != nil || h.Value != nil {
			t.Errorf("field %d still points into the old buffer", i)
		}
	}
}
