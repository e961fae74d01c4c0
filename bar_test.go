//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/rivo/uniseg"
)

// On a terminal pcopy draws a bar on stderr that ends at 100% with every
// file counted, then prints the summary.
func TestProgressBarOnTerminal(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for _, name := range []string{"a", "b", "sub/c"} {
		writeFile(t, filepath.Join(src, name), 4_000_000)
	}
	run := startOnTerminal(t, 120, 150*time.Millisecond, src, filepath.Join(t.TempDir(), "dst"))
	out, err := run.wait()
	if err != nil {
		t.Fatalf("pcopy on a terminal: %v\n%q", err, out)
	}
	frames := barFrames(out)
	if len(frames) == 0 {
		t.Fatalf("no bar drawn:\n%q", out)
	}
	last := frames[len(frames)-1]
	for _, want := range []string{"100% |", " 12.0/12.0 MB · ", " 3/3 files"} {
		if !strings.Contains(last, want) {
			t.Errorf("final frame %q lacks %q", last, want)
		}
	}
	summary := regexp.MustCompile(`pcopy: 3 files, 0 symlinks, 2 dirs, 0 unchanged, 12.0 MB in \S+ \((.* MB/s)\), 0 errors`).FindStringSubmatch(out)
	if summary == nil {
		t.Fatalf("no summary line in:\n%q", out)
	}
	if !strings.Contains(last, " "+summary[1]+" · ") {
		t.Errorf("final frame %q does not give the summary's rate %s", last, summary[1])
	}
}

// At 40, 80 and 200 columns, with names of wide (Japanese) and combining
// characters, no frame is wider than the terminal, and after pcopy exits
// the screen holds its summary and nothing else.
func TestBarFitsTheTerminal(t *testing.T) {
	src := barTree(t)
	for _, cols := range []int{40, 80, 200} {
		t.Run(fmt.Sprint(cols), func(t *testing.T) {
			run := startOnTerminal(t, cols, 25*time.Millisecond, src, filepath.Join(t.TempDir(), "dst"))
			out, err := run.wait()
			if err != nil {
				t.Fatalf("pcopy: %v\n%q", err, out)
			}
			frames := barFrames(out)
			if len(frames) < 3 {
				t.Fatalf("only %d frames drawn:\n%q", len(frames), out)
			}
			for _, f := range frames {
				if w := uniseg.StringWidth(f); w >= cols {
					t.Errorf("a frame of %d cells at %d columns: %q", w, cols, f)
				}
			}
			vt := newVTerm(cols)
			vt.write(t, out)
			checkOnlySummary(t, vt)
		})
	}
}

// Resized while it copies, 120 → 60 → 150 columns, pcopy follows: once it
// has redrawn, its frames fit the new width, and no fragment of a wider
// frame stays on the screen (a terminal rewraps the line when it narrows).
func TestBarFollowsResize(t *testing.T) {
	src := barTree(t)
	// Paced to last some seconds: two resizes, each awaited, must land
	// while it copies.
	t.Setenv(paceFilesEnv, "1")
	run := startOnTerminal(t, 120, 40*time.Millisecond, src, filepath.Join(t.TempDir(), "dst"))
	vt := newVTerm(120)
	fed := 0
	feed := func() {
		out := run.output()
		vt.write(t, out[fed:])
		fed = len(out)
	}
	for _, c := range []struct {
		cols  int
		drawn func(cells int) bool // for a frame drawn at cols
	}{
		{60, func(cells int) bool { return cells < 60 }},
		{150, func(cells int) bool { return cells >= 60 && cells < 150 }},
	} {
		cols := c.cols
		run.waitFor(t, func(f string) bool { return strings.Contains(f, "files") })
		feed()
		if err := pty.Setsize(run.tty, &pty.Winsize{Rows: 24, Cols: uint16(cols)}); err != nil {
			t.Fatal(err)
		}
		vt.resize(cols)
		run.waitFor(t, func(f string) bool { return c.drawn(uniseg.StringWidth(f)) })
		feed()
		if got := vt.lines(); len(got) != 1 || uniseg.StringWidth(got[0]) >= cols {
			t.Errorf("at %d columns, the screen holds %q", cols, got)
		}
	}
	out, err := run.wait()
	if err != nil {
		t.Fatalf("pcopy: %v\n%q", err, out)
	}
	vt.write(t, out[fed:])
	checkOnlySummary(t, vt)
}

// barTree is a source of 30 directories of files with long wide and
// combining names: with paceEnv, about a second to copy.
func barTree(t *testing.T) string {
	src := filepath.Join(t.TempDir(), "src")
	for i := range 30 {
		dir := filepath.Join(src, fmt.Sprintf("写真フォルダ%02d", i))
		for _, name := range []string{
			strings.Repeat("日本語のファイル名", 3) + "です.jpg", // 32 characters, 64 cells
			strings.Repeat("re\u0301sume\u0301-", 5) + fmt.Sprint(i) + ".txt",
			"plain.txt",
		} {
			writeFile(t, filepath.Join(dir, name), 20_000)
		}
	}
	return src
}

// A terminalRun is pcopy running on a pseudo-terminal.
type terminalRun struct {
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func startOnTerminal(t *testing.T, cols int, pace time.Duration, args ...string) *terminalRun {
	t.Helper()
	exe, err := os.Executable()
	must(t, err)
	r := &terminalRun{done: make(chan struct{})}
	r.cmd = &exec.Cmd{Path: exe, Args: append([]string{"pcopy", "-j", "2"}, args...),
		Env: append(os.Environ(), paceEnv+"="+pace.String())}
	r.tty, err = pty.StartWithSize(r.cmd, &pty.Winsize{Rows: 24, Cols: uint16(cols)})
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { r.tty.Close() })
	go func() {
		defer close(r.done)
		buf := make([]byte, 4096)
		for {
			n, err := r.tty.Read(buf)
			r.mu.Lock()
			r.out.Write(buf[:n])
			r.mu.Unlock()
			if err != nil {
				return // EIO once pcopy has exited
			}
		}
	}()
	return r
}

func (r *terminalRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// waitFor waits for a frame after those drawn so far that satisfies ok.
func (r *terminalRun) waitFor(t *testing.T, ok func(frame string) bool) {
	t.Helper()
	seen := len(barFrames(r.output()))
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if f := barFrames(r.output()); len(f) > seen+1 && ok(f[len(f)-2]) { // the last may be half written
			return
		}
		select {
		case <-r.done:
			t.Fatalf("pcopy ended before the frame awaited:\n%q", r.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such frame:\n%q", r.output())
		}
	}
}

func (r *terminalRun) wait() (string, error) {
	<-r.done
	err := r.cmd.Wait()
	return r.output(), err
}

// redraw is what starts each drawing of the line: back to its start, up
// over the rows a narrowed terminal wrapped it into, and clear.
var redraw = regexp.MustCompile(`\r(\x1b\[\d+A)?\x1b\[[JK]`)

// barFrames is the lines the bar drew, in order.
func barFrames(out string) []string {
	parts := redraw.Split(out, -1)
	var frames []string
	for _, p := range parts[1:] { // before the first redraw: nothing of the bar
		if p != "" && !strings.HasPrefix(p, "pcopy: ") {
			frames = append(frames, p)
		}
	}
	return frames
}

func checkOnlySummary(t *testing.T, vt *vterm) {
	t.Helper()
	lines := vt.lines()
	if len(lines) != 1 || !regexp.MustCompile(`^pcopy: 90 files, 0 symlinks, 31 dirs, 0 unchanged, 1.8 MB in \S+ \(.*/s\), 0 errors$`).MatchString(lines[0]) {
		t.Errorf("after pcopy exits the screen holds %q, want its summary alone", lines)
	}
}

// vterm is a model of a terminal that rewraps lines when its width
// changes, as tmux, VTE, iTerm2 and kitty do: it keeps logical lines, a
// row of the screen being width cells of one. It knows what pcopy writes:
// text, \r, \n, and the escapes CSI K, CSI J and CSI n A.
type vterm struct {
	width int
	text  [][]string // logical lines of cells; a wide character's second cell is ""
	line  int        // the cursor: logical line
	col   int        // and cell in it, from its start
}

func newVTerm(width int) *vterm { return &vterm{width: width, text: [][]string{nil}} }

func (v *vterm) resize(width int) { v.width = width }

func (v *vterm) write(t *testing.T, s string) {
	t.Helper()
	for s != "" {
		switch {
		case s[0] == '\r':
			if v.col > 0 && v.col%v.width == 0 {
				v.col -= v.width // at the end of a full row: its start
			} else {
				v.col -= v.col % v.width
			}
			s = s[1:]
		case s[0] == '\n':
			v.line, v.col = v.line+1, 0
			if v.line == len(v.text) {
				v.text = append(v.text, nil)
			}
			s = s[1:]
		case s[0] == '\x1b':
			m := regexp.MustCompile(`^\x1b\[(\d*)([AJK])`).FindStringSubmatch(s)
			if m == nil {
				t.Fatalf("escape the model does not know: %q", s[:min(len(s), 10)])
			}
			n, _ := strconv.Atoi(m[1])
			v.escape(max(n, 1), m[2][0])
			s = s[len(m[0]):]
		default:
			cluster, rest, w, _ := uniseg.FirstGraphemeClusterInString(s, -1)
			v.put(cluster, w)
			s = rest
		}
	}
}

func (v *vterm) put(cluster string, w int) {
	l := v.text[v.line]
	for len(l) < v.col+w {
		l = append(l, " ")
	}
	l[v.col] = cluster
	for i := 1; i < w; i++ {
		l[v.col+i] = ""
	}
	v.text[v.line] = l
	v.col += w
}

func (v *vterm) escape(n int, op byte) {
	l := v.text[v.line]
	switch op {
	case 'K': // clear to the end of the cursor's row
		end := (v.col/v.width + 1) * v.width
		if len(l) <= end {
			v.text[v.line] = l[:min(v.col, len(l))]
		} else {
			for i := v.col; i < end; i++ {
				l[i] = " "
			}
		}
	case 'J': // clear to the end of the screen
		v.text[v.line] = l[:min(v.col, len(l))]
		v.text = v.text[:v.line+1]
	case 'A': // up n rows, in the same column
		for range n {
			if v.col >= v.width {
				v.col -= v.width
			} else if v.line > 0 {
				v.line--
				rows := max((len(v.text[v.line])+v.width-1)/v.width, 1)
				v.col += (rows - 1) * v.width
			}
		}
	}
}

// lines is what the screen shows: its non-empty logical lines.
func (v *vterm) lines() []string {
	var out []string
	for _, l := range v.text {
		if s := strings.TrimRight(strings.Join(l, ""), " "); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// A dry run draws no bar: its list of what it would do goes to stdout,
// on the same terminal, and the bar's redraws would break its lines.
func TestDryRunDrawsNoBar(t *testing.T) {
	src := barTree(t)
	t.Setenv(paceFilesEnv, "1") // long enough for frames to be due
	run := startOnTerminal(t, 80, 10*time.Millisecond, "-n", src, filepath.Join(t.TempDir(), "dst"))
	out, err := run.wait()
	if err != nil {
		t.Fatalf("pcopy -n: %v\n%q", err, out)
	}
	if redraw.MatchString(out) || strings.Contains(out, "\x1b") {
		t.Errorf("a dry run drew on the terminal:\n%q", out)
	}
	if !strings.Contains(out, "would copy ") || !strings.Contains(out, "pcopy: dry run, nothing written: 90 files") {
		t.Errorf("dry run output:\n%q", out)
	}
}

// With -v on a terminal, the listing on stdout scrolls above the bar on
// stderr: once pcopy exits the screen holds each file copied on a line
// of its own, whole, then the summary, and no fragment of the bar.
func TestVerboseListsAboveTheBar(t *testing.T) {
	src := barTree(t)
	t.Setenv(paceFilesEnv, "1") // long enough for frames to be due
	run := startOnTerminal(t, 80, 5*time.Millisecond, "-v", src, filepath.Join(t.TempDir(), "dst"))
	out, err := run.wait()
	if err != nil {
		t.Fatalf("pcopy -v: %v\n%q", err, out)
	}
	if len(barFrames(out)) < 2 {
		t.Fatalf("no bar drawn beside the listing:\n%q", out)
	}
	want := map[string]bool{}
	filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			rel, _ := filepath.Rel(src, p)
			want[rel] = true
		}
		return nil
	})
	vt := newVTerm(80)
	vt.write(t, out)
	lines := vt.lines()
	if len(lines) != len(want)+1 || !strings.HasPrefix(lines[len(lines)-1], "pcopy: 90 files, ") {
		t.Fatalf("the screen holds %d lines, want %d files and the summary:\n%s\n%q", len(lines), len(want), strings.Join(lines, "\n"), out)
	}
	for _, l := range lines[:len(lines)-1] {
		if !want[l] {
			t.Errorf("a line that is not a file copied: %q", l)
		}
		delete(want, l)
	}
	if len(want) > 0 {
		t.Errorf("not listed: %v", want)
	}
}
