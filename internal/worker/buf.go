package worker

import "sync"

// bufPool holds the 1 MiB buffers of every copy that moves bytes itself:
// comparing contents (--checksum), hashing for --verify, and the fast
// path's read and write where the kernel cannot copy. One pool, so a
// worker keeps a few buffers whatever it does, not a few per use.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// GetBuf takes a 1 MiB buffer from the pool; PutBuf gives it back.
func GetBuf() *[]byte { return bufPool.Get().(*[]byte) }

// PutBuf gives back a buffer GetBuf took.
func PutBuf(b *[]byte) { bufPool.Put(b) }
