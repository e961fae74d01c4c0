package copier

import (
	"sync/atomic"

	"github.com/pcopy/pcopy/internal/fastcopy"
)

// SetMinPart lowers the smallest part of a split file for a test.
func SetMinPart(cleanup func(func()), part int64) {
	old := minPart
	minPart = part
	cleanup(func() { minPart = old })
}

// CountFsyncs counts the files the fast path flushes, for a test.
func CountFsyncs(cleanup func(func())) *atomic.Int64 {
	var n atomic.Int64
	old := fastcopy.FsyncFd
	fastcopy.FsyncFd = func(fd int) error { n.Add(1); return old(fd) }
	cleanup(func() { fastcopy.FsyncFd = old })
	return &n
}
