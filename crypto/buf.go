package crypto

import "sync"

// bufPool holds scratch buffers for sealing and opening. They hold
// plaintext while in use, so put wipes them before they go back.
type bufPool struct{ p sync.Pool }

// get returns a scratch buffer with capacity at least n and length 0.
func (bp *bufPool) get(n int) *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok && cap(*b) >= n {
		return b
	}
	b := make([]byte, 0, max(n, 1024))
	return &b
}

// put wipes b and returns it to the pool (large ones are dropped).
func (bp *bufPool) put(b *[]byte) {
	clear((*b)[:cap(*b)])
	if cap(*b) > 64<<10 {
		return
	}
	bp.p.Put(b)
}
