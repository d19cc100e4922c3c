package crypto

import "sync"

// bufPool holds scratch buffers for sealing and opening. They hold
// plaintext while in use, so put wipes them before they go back.
type bufPool struct{ p sync.Pool }

// get returns a scratch buffer of length n (its capacity may be larger).
// Callers use only its first n bytes, which put wipes.
func (bp *bufPool) get(n int) *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, max(n, 1024))
	return &b
}

// put wipes the first n bytes of b, as get returned it, and returns it to
// the pool (large ones are dropped).
func (bp *bufPool) put(b *[]byte) {
	clear(*b)
	if cap(*b) > 64<<10 {
		return
	}
	bp.p.Put(b)
}
