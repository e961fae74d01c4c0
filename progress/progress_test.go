package progress

import (
	"bytes"
	"errors"
	"io"
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
	s := copier.Summary{Files: 15036, Symlinks: 3, Dirs: 270, Skipped: 12, Bytes: 270_100_000, Duration: 1234567 * time.Microsecond,
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
	r.Finish(true)
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
	r.Finish(true)
	if buf.Len() != 0 {
		t.Errorf("quiet reporter wrote %q", buf.String())
	}
}

// While totals are still being counted the bar shows no percentage: a
// percentage of a growing total would run backwards.
func TestBarShowsNoPercentageUntilCounted(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, true, false)
	r.Totals(10, 1000, false)
	r.Bytes(500)
	time.Sleep(110 * time.Millisecond) // past the bar's render throttle
	r.FileDone("a", nil)
	if strings.Contains(buf.String(), "%") {
		t.Errorf("percentage shown before totals are final: %q", buf.String())
	}
	if !strings.Contains(buf.String(), "counting") {
		t.Errorf("bar does not say totals are being counted: %q", buf.String())
	}
	r.Totals(10, 1000, true)
	r.Bytes(500)
	r.Finish(true)
	if !strings.Contains(buf.String(), "100%") || !strings.Contains(buf.String(), "1/10 files") {
		t.Errorf("finished bar: %q", buf.String())
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
	r.Finish(true)
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

// A large file in the middle of its copy is named on the bar's line.
func TestWorkingNamesTheFile(t *testing.T) {
	r := New(io.Discard, false, false)
	r.Working("big/file.iso")
	if d := r.description(); !strings.HasSuffix(d, " big/file.iso") {
		t.Errorf("description %q does not name the file in flight", d)
	}
	var _ copier.WorkingReporter = r
}

// A failing copy shows its count of errors while it runs, on the bar and
// in the plain progress lines, instead of looking healthy until the end.
func TestErrorsShowWhileTheyHappen(t *testing.T) {
	r := &Reporter{w: io.Discard, start: time.Now()}
	r.Totals(3, 30, true)
	r.FileDone("a", nil)
	if d := r.description(); strings.Contains(d, "error") {
		t.Errorf("no failure yet: %q", d)
	}
	r.FileDone("b", errors.New("permission denied"))
	r.FileDone("c", errors.New("permission denied"))
	if d := r.description(); !strings.Contains(d, "3/3 files · 2 errors") {
		t.Errorf("description %q, want it to count 2 errors", d)
	}
	if l := r.progressLine(time.Second); !strings.HasSuffix(l, ", 2 errors so far") {
		t.Errorf("progress line %q, want it to count 2 errors", l)
	}
}
