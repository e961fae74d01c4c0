package progress

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcopy/pcopy/copier"
)

func TestHumanBytes(t *testing.T) {
	tests := map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 1500000: "1.5 MB", 270_100_000: "270.1 MB", 4 << 30: "4.3 GB"}
	for in, want := range tests {
		if got := HumanBytes(in); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestSummaryLine(t *testing.T) {
	s := copier.Summary{Files: 15036, Symlinks: 3, Dirs: 270, Unchanged: 12, Bytes: 270_100_000, Duration: 1234567 * time.Microsecond,
		Errors: []*copier.FileError{{Path: "x", Err: errors.New("boom")}}}
	want := "15036 files, 3 symlinks, 270 dirs, 12 unchanged, 270.1 MB in 1.235s (218.8 MB/s), 1 errors"
	if got := SummaryLine(s); got != want {
		t.Errorf("SummaryLine = %q, want %q", got, want)
	}
	s.Vanished, s.Changed = 1, 2
	s.Errors = append(s.Errors, s.Errors[0], s.Errors[0])
	want = "15036 files, 3 symlinks, 270 dirs, 12 unchanged, 270.1 MB in 1.235s (218.8 MB/s), 3 errors (1 vanished from SRC, 2 changed while copied)"
	if got := SummaryLine(s); got != want {
		t.Errorf("SummaryLine = %q, want %q", got, want)
	}
}

// Without a terminal the reporter writes nothing but warnings, and never a
// control character.
func TestNoTerminalNoBar(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, false, false)
	if r.WantsTotals() {
		t.Error("a reporter without a bar asks for the counting walk")
	}
	r.Totals(2, 10, true)
	r.Bytes(10)
	r.FileDone("a", nil)
	r.Warn("worker 1 died") // printed by the command, with the summary
	r.Finish(true, time.Second)
	if got := buf.String(); got != "" {
		t.Errorf("output = %q, want none", got)
	}
}

func TestQuietPrintsNothing(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, true, true)
	r.Totals(1, 1, true)
	r.Bytes(1)
	r.Warn("w")
	r.Finish(true, time.Second)
	if buf.Len() != 0 {
		t.Errorf("quiet reporter wrote %q", buf.String())
	}
}

// A scripted terminal: a reporter whose clock and width the test sets,
// and which draws only when the test says a frame is due.
type scripted struct {
	t     *testing.T
	r     *Reporter
	out   bytes.Buffer
	now   time.Time
	width int
}

func newScripted(t *testing.T, width int) *scripted {
	s := &scripted{t: t, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), width: width}
	s.r = newReporter(&s.out, true, false, func() time.Time { return s.now }, func() int { return s.width })
	return s
}

// after moves the clock on by d and draws a frame, which it returns.
func (s *scripted) after(d time.Duration) string {
	s.now = s.now.Add(d)
	s.r.mu.Lock()
	s.r.tick()
	s.r.mu.Unlock()
	f := frames(s.out.String())
	return f[len(f)-1]
}

// eraseSeq is what starts every redraw: back to the line's start, up over
// the rows a narrower terminal wrapped it into, and clear.
var eraseSeq = regexp.MustCompile(`\r(\x1b\[\d+A)?\x1b\[[JK]`)

// frames splits a reporter's output into the lines it drew.
func frames(out string) []string {
	var f []string
	for _, part := range eraseSeq.Split(out, -1) {
		if part != "" {
			f = append(f, part)
		}
	}
	return f
}

// figure reads a number from a frame: the rate, say, with the pattern
// ` ([\d.]+) (.?)B/s`.
func figure(t *testing.T, frame, pattern string) float64 {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(frame)
	if m == nil {
		t.Fatalf("no %s in frame %q", pattern, frame)
	}
	var v float64
	fmt.Sscan(m[1], &v)
	if len(m) > 2 {
		v *= map[string]float64{"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m[2]]
	}
	return v
}

func rateOf(t *testing.T, frame string) float64 {
	return figure(t, frame, ` ([\d.]+) (.?)B/s`)
}

// While totals are still being counted the line shows no percentage: a
// percentage of a growing total would run backwards. It says the totals
// may grow.
func TestNoPercentageUntilCounted(t *testing.T) {
	s := newScripted(t, 120)
	s.r.Totals(10, 900, false)
	s.r.Bytes(500)
	s.r.FileDone("a", nil)
	f := s.after(time.Second)
	if strings.Contains(f, "%") {
		t.Errorf("percentage shown before totals are final: %q", f)
	}
	if !strings.Contains(f, "500/900+ B") || !strings.Contains(f, "1/10+ files") {
		t.Errorf("frame %q does not say the totals are still growing", f)
	}
	s.r.Totals(10, 1000, true)
	if f := s.after(time.Second); !strings.HasPrefix(f, " 50% |") || !strings.Contains(f, "1/10 files") {
		t.Errorf("frame once counted: %q", f)
	}
}

// A steady stream of files at 10 MB/s: the rate says 10 MB/s, the ETA is
// within 20% of the time truly left, from the first seconds on, and when
// the counting ends the rate does not jump and the clock does not restart.
func TestRateAndETAOnASteadyStream(t *testing.T) {
	s := newScripted(t, 200)
	const files, size = 2000, 100_000 // 200 MB: 20 s at 10 MB/s
	s.r.Totals(300, 30_000_000, false)
	step := 10 * time.Millisecond // a file every 10 ms
	for i := 1; i <= files; i++ {
		s.now = s.now.Add(step)
		s.r.Bytes(size)
		s.r.FileDone(fmt.Sprintf("dir/f%d", i), nil)
		if i == 300 {
			s.r.Totals(files, files*size, true) // counting ends at 3 s
		}
		if i%20 != 0 { // a frame every 200 ms
			continue
		}
		s.now = s.now.Add(-step) // the frame is drawn at the same moment
		f := s.after(step)
		if rate := rateOf(t, f); rate > 10.01e6 || rate < 9.9e6 {
			t.Errorf("at %d files, rate %.0f B/s, want 10 MB/s: %q", i, rate, f)
		}
		if i <= 300 || i == files {
			continue
		}
		left := float64(files-i) * step.Seconds()
		eta := figure(t, f, `ETA (\d+)s`)
		if left >= 2 && (eta < 0.8*left || eta > 1.2*left) {
			t.Errorf("at %d files, ETA %.0fs, %.1fs left: %q", i, eta, left, f)
		}
	}
}

// Bursts (a large file's bytes arriving at once, then nothing) never show
// a rate above what the events moved in the time they took.
func TestRateNeverAboveWhatMoved(t *testing.T) {
	s := newScripted(t, 200)
	s.r.Totals(100, 100_000_000, true)
	var moved int64
	start := s.now
	for i := range 100 {
		gap := time.Duration(50+(i*37)%400) * time.Millisecond
		s.now = s.now.Add(gap)
		n := int64(1_000_000)
		if i%10 == 0 {
			n = 5_000_000 // a burst
		}
		s.r.Bytes(n)
		s.r.FileDone("f", nil)
		moved += n
		f := s.after(time.Microsecond) // a frame right after a burst
		// Not above the fastest any sample could have been: the most
		// moved between two frames over the shortest gap.
		if rate := rateOf(t, f); rate > 5_000_000/0.05 {
			t.Fatalf("rate %.0f B/s after %d bytes in %s: %q", rate, moved, s.now.Sub(start), f)
		}
	}
}

// A re-run that finds everything unchanged copies nothing: no bytes, no
// rate; the percentage moves with the files checked, and the final frame
// says so too.
func TestRerunShowsNoBytes(t *testing.T) {
	s := newScripted(t, 200)
	s.r.Totals(114, 114_000_000, true)
	for i := 1; i <= 114; i++ {
		s.r.Settled(1_000_000)
		s.r.FileDone("f", nil)
		if i == 57 {
			f := s.after(50 * time.Millisecond)
			if !strings.HasPrefix(f, " 50% ") || !strings.Contains(f, " 0 B/57.0 MB · 0 B/s") {
				t.Errorf("halfway: %q", f)
			}
		}
	}
	s.after(50 * time.Millisecond)
	s.r.Finish(true, 110*time.Millisecond)
	f := frames(s.out.String())
	if last := f[len(f)-1]; !strings.HasPrefix(last, "100% ") || !strings.Contains(last, " 0/0 B · 0 B/s · 114/114 files") {
		t.Errorf("final frame %q", last)
	}
}

// The final frame agrees with the summary line: the bytes copied, the
// files done and the rate over the whole copy, as the summary counts
// them; then the line is cleared for the summary.
func TestFinalFrameAgreesWithSummary(t *testing.T) {
	s := newScripted(t, 200)
	s.r.Totals(4, 12_000_000, true)
	s.r.Bytes(4_000_000)
	s.r.FileDone("a", nil)
	s.after(time.Second)
	s.r.Settled(4_000_000) // unchanged in DST
	s.r.FileDone("b", nil)
	s.r.Bytes(4_000_000)
	s.r.FileDone("c", nil)
	s.r.FileDone("link", nil) // a symlink
	s.after(time.Second)
	sum := copier.Summary{Files: 2, Symlinks: 1, Unchanged: 1, Bytes: 8_000_000, Duration: 2500 * time.Millisecond}
	s.r.Finish(true, sum.Duration)
	out := s.out.String()
	if !strings.HasSuffix(out, "\r\x1b[K") {
		t.Errorf("the line is not cleared for the summary: %q", out)
	}
	f := frames(out)
	last := f[len(f)-1]
	line := SummaryLine(sum) // "... 8.0 MB in 2.5s (3.2 MB/s), 0 errors"
	rate := regexp.MustCompile(`\((.*B/s)\)`).FindStringSubmatch(line)[1]
	for _, want := range []string{"100% |", " 8.0/8.0 MB · ", " " + rate + " · ", " 4/4 files"} {
		if !strings.Contains(last, want) {
			t.Errorf("final frame %q lacks %q (summary: %s)", last, want, line)
		}
	}
	if strings.Contains(last, "ETA") {
		t.Errorf("final frame %q has an ETA", last)
	}
}

// Without a terminal, PrintEvery prints plain progress lines until
// Finish: counting first, then percentage and ETA once totals are known.
func TestPlainProgressLines(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return buf.Write(p) })
	r := New(w, false, false)
	r.PrintEvery(time.Millisecond)
	if !r.WantsTotals() {
		t.Error("plain progress lines need the totals")
	}
	output := func() string { mu.Lock(); defer mu.Unlock(); return buf.String() }
	waitFor := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(output(), want); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no line with %q in:\n%s", want, output())
			}
		}
	}
	r.Bytes(500)
	r.FileDone("a", nil)
	r.Totals(3, 1000, false)
	waitFor("pcopy: progress: 500 B, 1 files done (counting: 3 files, 1.0 kB so far), ")
	r.Totals(4, 2000, true)
	waitFor("pcopy: progress: 25%, 500 B of 2.0 kB, 1/4 files, ")
	r.Finish(true, time.Second)
	n := strings.Count(output(), "\n")
	time.Sleep(5 * time.Millisecond)
	if strings.Count(output(), "\n") != n {
		t.Error("lines go on after Finish")
	}
	if strings.ContainsAny(output(), "\r\x1b") {
		t.Errorf("control characters in plain lines: %q", output())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A large file in the middle of its copy is named on the line.
func TestWorkingNamesTheFile(t *testing.T) {
	s := newScripted(t, 120)
	s.r.Working("big/file.iso")
	if f := s.after(time.Second); !strings.HasSuffix(f, " · big/file.iso") {
		t.Errorf("frame %q does not name the file in flight", f)
	}
	var _ copier.WorkingReporter = s.r
}

// A failing copy shows its count of errors while it runs, on the line and
// in the plain progress lines, instead of looking healthy until the end.
func TestErrorsShowWhileTheyHappen(t *testing.T) {
	s := newScripted(t, 120)
	s.r.Totals(3, 0, true) // empty files
	s.r.FileDone("a", nil)
	if f := s.after(time.Second); strings.Contains(f, "error") {
		t.Errorf("no failure yet: %q", f)
	}
	s.r.FileDone("b", errors.New("permission denied"))
	if f := s.after(time.Second); !strings.Contains(f, "2/3 files · 1 error") {
		t.Errorf("frame %q, want it to count 1 error", f)
	}
	s.r.FileDone("c", errors.New("permission denied"))
	if f := s.after(time.Second); !strings.Contains(f, "3/3 files · 2 errors") {
		t.Errorf("frame %q, want it to count 2 errors", f)
	}
	if l := s.r.progressLine(); !strings.HasSuffix(l, ", 2 errors so far") {
		t.Errorf("progress line %q, want it to count 2 errors", l)
	}
	// Even where nothing else fits.
	s.width = 14
	if f := s.after(time.Second); f != "100% 2 errors" {
		t.Errorf("frame at 14 columns %q", f)
	}
}

// In a copy on many hosts, the line says how many of them run workers: all
// of them, or fewer once one is lost. It goes first when room is short.
func TestLineCountsHosts(t *testing.T) {
	s := newScripted(t, 120)
	s.r.Totals(10, 0, true)
	s.r.Hosts(3, 3)
	if f := s.after(time.Second); !strings.Contains(f, "0/10 files · 3 hosts") {
		t.Errorf("frame %q does not count the hosts", f)
	}
	s.r.Hosts(2, 3)
	s.r.FileDone("a", errors.New("permission denied"))
	if f := s.after(time.Second); !strings.Contains(f, "1/10 files · 2/3 hosts · 1 error") {
		t.Errorf("frame %q does not say a host is lost", f)
	}
	if l := s.r.progressLine(); !strings.Contains(l, ", 2/3 hosts, 1 error so far") {
		t.Errorf("progress line %q does not say a host is lost", l)
	}
	s.width = 40
	if f := s.after(time.Second); strings.Contains(f, "host") || !strings.Contains(f, "1 error") {
		t.Errorf("frame at 40 columns %q: the hosts go first", f)
	}
	var _ copier.HostReporter = s.r
}
