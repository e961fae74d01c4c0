package bwlimit

import (
	"context"
	"testing"
	"time"
)

// Workers sharing one word keep to the rate together: two of them copying
// 10 MB in 64 KiB chunks at 1 MB/s take 10 s of (simulated) time, not 5;
// and a limiter idle for a while gets no more than the burst as credit.
func TestSharedRate(t *testing.T) {
	var clock int64
	var word int64
	mk := func() *Limiter {
		l := New(&word, 1_000_000)
		l.now = func() int64 { return clock }
		l.sleep = func(_ context.Context, d time.Duration) error {
			// Sleeps overlap in real life; here each worker's wait ends
			// at the moment it was given, which only moves time forward.
			clock = max(clock, clock+int64(d))
			return nil
		}
		return l
	}
	a, b := mk(), mk()
	const chunk, total = 64 << 10, 10_000_000
	for done := int64(0); done < total; done += 2 * chunk {
		must(t, a.Wait(context.Background(), chunk))
		must(t, b.Wait(context.Background(), chunk))
	}
	took := time.Duration(clock)
	if took < 9*time.Second || took > 11*time.Second {
		t.Errorf("10 MB at 1 MB/s on two workers took %v, want 10 s", took)
	}
	clock += int64(time.Minute) // idle
	before := clock
	for range 10 {
		must(t, a.Wait(context.Background(), 100_000)) // 1 MB
	}
	if took := time.Duration(clock - before); took < 900*time.Millisecond-burst || took > time.Second {
		t.Errorf("1 MB after a minute idle took %v: the credit should be %v at most", took, burst)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
