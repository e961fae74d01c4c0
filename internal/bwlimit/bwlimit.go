// Package bwlimit spaces out the bytes workers copy so that together they
// keep to one rate (--bwlimit). Every worker of a machine maps one shared
// word holding the time at which the next byte may go (the "theoretical
// arrival time" of the generic cell rate algorithm); a worker about to copy
// n bytes moves it on by n/rate with compare-and-swap and sleeps until its
// own turn. Nothing is exchanged but that word: no round trip per chunk.
package bwlimit

import (
	"context"
	"sync/atomic"
	"time"
)

// A Limiter keeps the copies that share its word to its rate.
type Limiter struct {
	word      *int64  // shared: when the next byte may go, in now's ns
	nsPerByte float64 // 1e9 / rate
	burst     int64   // credit an idle limiter may build, in ns
	rate      int64

	now   func() int64                                     // monotonic ns (a seam for tests)
	sleep func(ctx context.Context, d time.Duration) error // likewise
}

// burst is how long an idle limiter may let bytes go at once: enough to
// smooth the gaps between jobs, too little to let a copy run over its rate
// for long.
const burst = 100 * time.Millisecond

// New returns a limiter to rate bytes a second on word, shared with every
// other limiter on it (which must have the same rate).
func New(word *int64, rate int64) *Limiter {
	return &Limiter{word: word, nsPerByte: 1e9 / float64(rate), burst: int64(burst), rate: rate,
		now: monotonicNow, sleep: sleepCtx}
}

// local is the word of the limiters of one process (in-process workers).
var local int64

// Local returns a limiter on this process's own word.
func Local(rate int64) *Limiter { return New(&local, rate) }

// Chunk is the most a copy should move between two waits: a twentieth of
// a second's worth, so that the rate holds over short spans too.
func (l *Limiter) Chunk() int64 { return max(l.rate/20, 16<<10) }

// Wait takes n bytes' worth of the rate, sleeping until they may go.
func (l *Limiter) Wait(ctx context.Context, n int64) error {
	if l == nil || n <= 0 {
		return nil
	}
	cost := int64(float64(n) * l.nsPerByte)
	for {
		old := atomic.LoadInt64(l.word)
		now := l.now()
		start := max(old, now-l.burst)
		if atomic.CompareAndSwapInt64(l.word, old, start+cost) {
			if d := start - now; d > 0 {
				return l.sleep(ctx, time.Duration(d))
			}
			return nil
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// HostWord, when set (by a worker that an agent started, from the memory
// its agent shares with it), is the word of the host's workers.
var HostWord *int64

// For returns the limiter of a worker to rate bytes a second (nil: none),
// on the word at path if given, else on its host's word (HostWord), else
// on its process's own.
func For(rate int64, path string) *Limiter {
	if rate <= 0 {
		return nil
	}
	if path != "" {
		if word, err := Open(path); err == nil {
			return New(word, rate)
		}
	}
	if HostWord != nil {
		return New(HostWord, rate)
	}
	return Local(rate)
}
