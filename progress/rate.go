package progress

import (
	"math"
	"time"
)

// rateWindow is the time constant of the smoothed rates: what happened a
// rateWindow ago weighs 1/e as much as what happens now. Long enough that
// a burst of small files or a pause for a directory does not swing the
// figure, short enough to follow a copy that slows as the page cache
// fills.
const rateWindow = 5 * time.Second

// meter measures a rate (bytes or files per second) as an exponentially
// weighted average over time, as rclone does: each sample adds what moved
// and how long it took to two sums that decay with age, and the rate is
// their ratio. As a weighted mean of the samples' own rates it is never
// above the fastest of them (no spike when a sample is short), and until a
// rateWindow has passed it is about the plain average since the start.
type meter struct {
	last  time.Time
	count int64   // the counter at last
	moved float64 // decayed sum of what moved
	spent float64 // decayed sum of seconds
}

func newMeter(start time.Time) meter { return meter{last: start} }

// sample records the counter's value at now.
func (m *meter) sample(now time.Time, count int64) {
	dt := now.Sub(m.last).Seconds()
	if dt <= 0 {
		return
	}
	decay := math.Exp(-dt / rateWindow.Seconds())
	m.moved = m.moved*decay + float64(count-m.count)
	m.spent = m.spent*decay + dt
	m.last, m.count = now, count
}

// rate is the smoothed rate per second; 0 before a sample, and never
// negative (work taken back from a dead worker is not a rate).
func (m *meter) rate() float64 {
	if m.spent <= 0 || m.moved <= 0 {
		return 0
	}
	return m.moved / m.spent
}
