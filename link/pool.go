package link

import (
	"math/bits"
	"sync"

	"google.golang.org/grpc/mem"
)

// bufPool is the mem.BufferPool of the batches a link writes. Unlike gRPC's
// default pool it does not zero a buffer it hands out: a batch is encoded
// over the whole length it uses, and zeroing the 1 MiB class the default
// pool gives a 40 KiB batch cost a writer more than encoding it. Buffers are
// kept by power-of-two capacity, 4 KiB to 64 MiB.
//
// It is the one package-level variable here: free memory only, shared by
// every link in the process as gRPC's own pool is.
var bufPool = &classPool{}

const (
	minClass = 12 // 4 KiB
	maxClass = 26 // 64 MiB
)

type classPool struct {
	classes [maxClass - minClass + 1]sync.Pool
}

// Get returns a buffer of length n; its contents are not zeroed.
func (p *classPool) Get(n int) *[]byte {
	c := minClass
	if n > 1<<minClass {
		c = bits.Len(uint(n - 1))
	}
	if c > maxClass {
		b := make([]byte, n)
		return &b
	}
	if v, ok := p.classes[c-minClass].Get().(*[]byte); ok {
		*v = (*v)[:n]
		return v
	}
	b := make([]byte, n, 1<<c)
	return &b
}

// Put returns b to the class its capacity fills.
func (p *classPool) Put(b *[]byte) {
	c := bits.Len(uint(cap(*b))) - 1 // floor: a class-c buffer holds 1<<c
	if c < minClass || c > maxClass {
		return
	}
	p.classes[c-minClass].Put(b)
}

var _ mem.BufferPool = (*classPool)(nil)

// BufferPool returns the pool the links encode their batches into, for the
// plugin link's encoder to share.
func BufferPool() mem.BufferPool { return bufPool }
