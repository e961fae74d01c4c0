//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/proccheck"
	"github.com/pcopy/pcopy/internal/treecheck"
)

// pcopyJSONResult is how one run of the pcopy binary went, with the fields of
// its --json report the tests look at.
type pcopyJSONResult struct {
	code           int
	stdout, stderr string
	report         struct {
		ExitCode  int   `json:"exit_code"`
		Files     int64 `json:"files"`
		Unchanged int64 `json:"unchanged"`
		Changed   int64 `json:"changed"`
		Failed    int   `json:"failed"`
		Errors    []struct {
			Path   string `json:"path"`
			Reason string `json:"reason"`
		} `json:"errors"`
		Warnings []string `json:"warnings"`
	}
}

// startPcopyJSON starts this test binary as pcopy (see TestMain) with args.
func startPcopyJSON(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	exe, err := os.Executable()
	must(t, err)
	var stdout, stderr bytes.Buffer
	cmd := &exec.Cmd{Path: exe, Args: append([]string{"pcopy"}, args...), Stdout: &stdout, Stderr: &stderr}
	must(t, cmd.Start())
	return cmd, &stdout, &stderr
}

// finishPcopyJSON waits for a pcopy started with --json and reads its report.
func finishPcopyJSON(t *testing.T, cmd *exec.Cmd, stdout, stderr *bytes.Buffer) pcopyJSONResult {
	t.Helper()
	err := cmd.Wait()
	r := pcopyJSONResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("pcopy: %v", err)
	}
	if err := json.Unmarshal(stdout.Bytes(), &r.report); err != nil {
		t.Fatalf("pcopy's stdout is not its JSON report (%v); exit %d, stdout:\n%s\nstderr:\n%s", err, r.code, r.stdout, r.stderr)
	}
	if r.report.ExitCode != r.code {
		t.Errorf("the JSON report says exit_code %d, pcopy exited %d", r.report.ExitCode, r.code)
	}
	return r
}

func runPcopyJSON(t *testing.T, args ...string) pcopyJSONResult {
	t.Helper()
	cmd, stdout, stderr := startPcopyJSON(t, args...)
	return finishPcopyJSON(t, cmd, stdout, stderr)
}

// A 100-deep chain of directories copies whole when pcopy may open only 64
// files: the lister keeps open only as many directories as RLIMIT_NOFILE
// leaves room for (16 here, not 64), and reaches the deeper ones from
// SRC's root. The limit is set as a user's "ulimit -n 64" sets it, soft
// and hard, so the Go runtime cannot raise it; the workers inherit it.
func TestDeepTreeUnderLowFileLimit(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to set the limit with")
	}
	const depth = 100
	src := filepath.Join(t.TempDir(), "src")
	dir := src
	for i := 1; i <= depth; i++ {
		dir = filepath.Join(dir, fmt.Sprintf("level%03d", i))
		must(t, os.MkdirAll(dir, 0o755))
		if i%10 == 0 {
			must(t, os.WriteFile(filepath.Join(dir, "every10"), []byte(fmt.Sprintf("file at level %d\n", i)), 0o644))
		}
	}
	must(t, os.WriteFile(filepath.Join(dir, "bottom"), []byte("the deepest file\n"), 0o600))

	// The test binary is pcopy when its argv[0] is named so (TestMain);
	// sh's exec passes the path it runs as argv[0], so a link named pcopy.
	exe, err := os.Executable()
	must(t, err)
	pcopy := filepath.Join(t.TempDir(), "pcopy")
	must(t, os.Symlink(exe, pcopy))
	// The workers hold descriptors too (pipes, pidfds): the lister's
	// share shrinks with -j (at most 4 per CPU).
	for _, workers := range []string{"2", strconv.Itoa(min(16, 4*runtime.NumCPU()))} {
		t.Run("-j "+workers, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			var stderr bytes.Buffer
			// The check of ulimit -n's answer makes sure the limit is in force:
			// a shell that could not set it would fail here, not pass untested.
			cmd := exec.Command("sh", "-c", `ulimit -n 64 && test "$(ulimit -n)" = 64 && test "$(ulimit -Hn)" = 64 && exec "$0" "$@"`,
				pcopy, "-j", workers, src, dst)
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("pcopy under ulimit -n 64: %v; stderr:\n%s", err, &stderr)
			}
			diffs, err := treecheck.Compare(src, dst, treecheck.Options{})
			must(t, err)
			if len(diffs) > 0 {
				t.Errorf("%s differs from %s:\n%s", dst, src, strings.Join(diffs, "\n"))
			}
			if _, err := os.Stat(filepath.Join(dst, strings.TrimPrefix(dir, src), "bottom")); err != nil {
				t.Errorf("the deepest file was not copied: %v", err)
			}
			if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// A writer that rewrites a file in place and sets its mtime back (as
// rsync --inplace -t does) while pcopy copies it never gets a torn copy
// reported as copied: each run either copies the file exactly as it was
// at one instant, or reports that it changed while it was copied, and
// then leaves nothing at its name. The instant is the one the copy's
// mtime names: the writer's restored mtime, between rewrites (then the
// copy is all A or all B), or the mtime of one of its writes, if it
// paused mid-rewrite for the whole copy, as a writer throttled by the
// kernel's dirty-page limits or descheduled can (then the copy is the
// half-rewritten file as it stood after that write, and nothing else).
// The writer records the file's mtime after each write to tell.
//
// The file is 256 MiB (in the page cache a worker copies it in about a
// tenth of a second here, long enough to be caught mid-copy). The writer
// rewrites it in place with B, 1 MiB at a time, sets the mtime back,
// holds it so for a random while, and rewrites it with A the same way.
// In odd runs it starts a random delay after a worker opened the file,
// and starts again each time a worker has it open, until pcopy exits: a
// copy and its one retry are hit mid-read. In even runs it rewrites the
// file once, a random delay after pcopy started: before, during or after
// the listing, the first attempt or the retry, which may then find the
// file settled (as A, or as B while held).
func TestMtimeRestoringWriterNeverTornCopy(t *testing.T) {
	const (
		chunk = 1 << 20
		size  = 256 << 20
		runs  = 16
	)
	patA, patB := bytes.Repeat([]byte{'A'}, chunk), bytes.Repeat([]byte{'B'}, chunk)
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.Mkdir(src, 0o755))
	file := filepath.Join(src, "f")
	f, err := os.Create(file)
	must(t, err)
	for range size / chunk {
		_, err := f.Write(patA)
		must(t, err)
	}
	must(t, f.Close())
	mtime := time.Date(2020, 2, 20, 20, 20, 20, 202020202, time.UTC)
	must(t, os.Chtimes(file, mtime, mtime))
	file, err = filepath.EvalSymlinks(file) // as the workers' /proc/PID/fd links name it
	must(t, err)
	dsts := t.TempDir()

	// Undisturbed runs, watched: how long pcopy takes to open the file,
	// and how long a worker holds it open, are the scales of the writer's
	// delays. The first copy is slower (cold); the scales are the
	// shortest.
	var startup, scale time.Duration
	for i := range 3 {
		dst := filepath.Join(dsts, fmt.Sprintf("undisturbed%d", i))
		cmd, stdout, stderr := startPcopyJSON(t, "--json", "-j", "2", src, dst)
		type times struct{ toOpen, held time.Duration }
		watched := make(chan times, 1)
		go func() {
			var ts times
			ts.toOpen, ts.held = timeOpen(cmd.Process.Pid, file)
			watched <- ts
		}()
		r := finishPcopyJSON(t, cmd, stdout, stderr)
		if ts := <-watched; ts.held > 0 && (scale == 0 || ts.held < scale) {
			startup, scale = ts.toOpen, ts.held
		}
		if r.code != 0 || r.report.Files != 1 {
			t.Fatalf("undisturbed copy: exit %d, %d files, want 0 and 1; stderr:\n%s", r.code, r.report.Files, r.stderr)
		}
		if chunkPatterns(t, filepath.Join(dst, "f"), size, patA, patB) != strings.Repeat("A", size/chunk) {
			t.Fatalf("undisturbed copy is not the source")
		}
		must(t, os.RemoveAll(dst))
	}
	scale = max(scale, time.Millisecond)
	// And how long the writer takes to rewrite the file.
	timing := &rewriter{file: file, mtime: mtime, a: patA, b: patB, once: true, done: make(chan struct{})}
	close(timing.done)
	begin := time.Now()
	must(t, timing.run())
	passTime := time.Since(begin) / 2 // a rewrite of the whole file

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d; undisturbed, a worker opened the file %v after pcopy started and held it open for %v; "+
		"the writer rewrites it in %v", seed, startup.Round(time.Millisecond), scale.Round(time.Millisecond), passTime.Round(time.Millisecond))
	rng := rand.New(rand.NewPCG(seed, 0))
	var copiedA, copiedB, copiedMid, changed, byCtime, overlapped int // copiedMid: neither all A nor all B
	for run := range runs {
		dst := filepath.Join(dsts, fmt.Sprintf("dst%d", run))
		w := &rewriter{file: file, mtime: mtime, a: patA, b: patB, scale: scale, done: make(chan struct{}),
			delay: time.Duration(rng.Int64N(int64(scale) + 1))}
		offset := w.delay // of the writer's start from pcopy's; from a worker's open unless once
		mode := "whole file, at each open"
		switch run % 4 {
		case 0:
			// From the writer's rewrite ending as pcopy starts to its
			// start after a copy's time.
			mode = "whole file, once"
			w.once = true
			w.hold = time.Duration(rng.Int64N(int64(2*scale) + 1))
			lead := 2*passTime + w.hold
			offset = time.Duration(rng.Int64N(int64(lead+startup+2*scale)+1)) - lead
			w.delay = max(offset, 0)
		case 2, 3:
			mode = "8 MiB where the copy is, at each open"
			w.span = 8
			w.hold = time.Duration(rng.Int64N(int64(scale/4) + 1))
		}
		wrote := make(chan error, 1)
		go func() { wrote <- w.run() }()
		time.Sleep(-offset) // the writer first: none when offset >= 0
		started := time.Now()
		cmd, stdout, stderr := startPcopyJSON(t, "--json", "-j", "2", src, dst)
		w.pid.Store(int64(cmd.Process.Pid))
		r := finishPcopyJSON(t, cmd, stdout, stderr)
		close(w.done)
		must(t, <-wrote)
		if w.overlap {
			overlapped++
		}
		ended := "-"
		if w.attacks > 0 {
			ended = w.ended.Sub(started).Round(time.Millisecond).String()
		}
		t.Logf("run %d: %s: offset %v, hold %v: %d attacks, the last ended at %s, overlap %v; exit %d %q",
			run, mode, offset.Round(time.Millisecond), w.hold.Round(time.Millisecond), w.attacks, ended, w.overlap, r.code, r.report.Errors)

		got := filepath.Join(dst, "f")
		switch r.code {
		case 0:
			if r.report.Files != 1 || r.report.Changed != 0 {
				t.Errorf("run %d: exit 0 with files=%d changed=%d, want 1 and 0", run, r.report.Files, r.report.Changed)
			}
			content := chunkPatterns(t, got, size, patA, patB)
			fi, err := os.Lstat(got)
			must(t, err)
			var was []string // what the source was when it had the copy's mtime
			if fi.ModTime().Equal(mtime) {
				was = append(was, strings.Repeat("A", size/chunk)) // before the writer's first write
			}
			for _, st := range w.states {
				if st.mtime == fi.ModTime().UnixNano() {
					was = append(was, st.content)
				}
			}
			switch {
			case !slices.Contains(was, content):
				t.Errorf("run %d: torn copy reported as copied: %s holds %s (mtime %v), but when the source had that mtime it held %s",
					run, got, showChunks(content), fi.ModTime(), showChunksOf(was))
			case content == strings.Repeat("A", size/chunk):
				copiedA++
			case content == strings.Repeat("B", size/chunk):
				copiedB++
			default:
				copiedMid++
				t.Logf("run %d: copied as the file stood between two of the writer's writes: %s", run, showChunks(content))
			}
		case 1:
			changed++
			reason := ""
			if len(r.report.Errors) == 1 {
				reason = r.report.Errors[0].Reason
			}
			if strings.Contains(reason, "its ctime moved") {
				byCtime++ // the mtime was set back in time: only the ctime told
			}
			if r.report.Changed != 1 || r.report.Failed != 1 || !strings.Contains(reason, "changed while it was being copied") ||
				!strings.Contains(r.stderr, "changed while it was being copied") {
				t.Errorf("run %d: exit 1 without saying the file changed while it was copied: changed=%d failed=%d reason %q; stderr:\n%s",
					run, r.report.Changed, r.report.Failed, reason, r.stderr)
			}
			if _, err := os.Lstat(got); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("run %d: reported as not copied, yet %s is there (%v): %s", run, got, err, showChunks(chunkPatterns(t, got, size, patA, patB)))
			}
		default:
			t.Errorf("run %d: exit %d, want 0 or 1; stderr:\n%s", run, r.code, r.stderr)
		}
		if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
			t.Errorf("run %d: temporary files left: %v", run, left)
		}
		must(t, os.RemoveAll(dst))
	}
	t.Logf("%d runs: %d exited 0 with a copy of the file as it was at one instant (%d all A, %d all B, %d mid-rewrite), "+
		"%d reported the file changed while copied (%d seen by its ctime alone); in %d a worker had the file open while it was being rewritten",
		runs, copiedA+copiedB+copiedMid, copiedA, copiedB, copiedMid, changed, byCtime, overlapped)
	if overlapped == 0 {
		t.Fatalf("in no run did a worker have the file open while it was being rewritten: the test proved nothing")
	}
}

// rewriter rewrites a file in place, as rsync --inplace -t would, while a
// pcopy copies it: an attack writes b over chunks [lo, hi), 1 MiB at a
// time, sets the mtime back, waits hold, writes a back and sets the
// mtime back again.
type rewriter struct {
	file  string
	pid   atomic.Int64 // pcopy's, once started: its children are the workers
	mtime time.Time
	a, b  []byte // the file is all a
	delay time.Duration
	hold  time.Duration // how long the file keeps b
	once  bool          // one attack, w.delay after run is called; else w.delay after each open by a worker
	span  int           // chunks an attack rewrites, around where the copy should be; 0: the whole file
	scale time.Duration // how long a worker takes to read the file: where the copy should be
	done  chan struct{} // closed when pcopy has exited

	attacks int         // attacks made
	overlap bool        // a worker had the file open in the middle of one
	ended   time.Time   // when the last attack ended
	states  []fileState // every state of the file, from the first write on
}

// fileState is the file after one of the writer's writes or mtime
// restores: its mtime (each write's is its own: the kernel gives a
// fine-grained time to a change after the times were read, and the
// writer reads them after each write) and its content, a letter per
// chunk.
type fileState struct {
	mtime   int64
	content string
}

// run makes the attacks; the file is all a, with its mtime, when it
// returns.
func (w *rewriter) run() error {
	f, err := os.OpenFile(w.file, os.O_WRONLY, 0) // no O_TRUNC: in place
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	chunk := int64(len(w.a))
	n := int(info.Size() / chunk)
	content := bytes.Repeat([]byte{'A'}, n)
	record := func() error {
		fi, err := f.Stat()
		if err == nil {
			w.states = append(w.states, fileState{fi.ModTime().UnixNano(), string(content)})
		}
		return err
	}
	wait := func(d time.Duration) bool {
		select {
		case <-w.done:
			return false
		case <-time.After(d):
			return true
		}
	}
	write := func(pat []byte, lo, hi int) error {
		for k := lo; k < hi; k++ {
			if _, err := f.WriteAt(pat, int64(k)*chunk); err != nil {
				return err
			}
			content[k] = 'A'
			if pat[0] == w.b[0] {
				content[k] = 'B'
			}
			if err := record(); err != nil {
				return err
			}
			if !w.overlap && k+1 < hi && openBy(int(w.pid.Load()), w.file) {
				w.overlap = true
			}
		}
		if err := os.Chtimes(w.file, time.Time{}, w.mtime); err != nil { // atime left as it is
			return err
		}
		return record()
	}
	for first := true; first || !w.once; first = false {
		var opened time.Time
		if !w.once {
			for !openBy(int(w.pid.Load()), w.file) {
				if !wait(100 * time.Microsecond) {
					return nil
				}
			}
			opened = time.Now()
		}
		if (first || w.span > 0) && w.delay > 0 && !wait(w.delay) {
			return nil
		}
		lo, hi := 0, n
		if w.span > 0 {
			// Around where the copy should be by now.
			at := n / 2
			if !opened.IsZero() && w.scale > 0 {
				at = int(int64(n) * int64(time.Since(opened)) / int64(w.scale))
			}
			lo = min(max(at-w.span/2, 0), n-w.span)
			hi = lo + w.span
		}
		if err := write(w.b, lo, hi); err != nil {
			return err
		}
		time.Sleep(w.hold) // not cut short: the file must end as a
		if err := write(w.a, lo, hi); err != nil {
			return err
		}
		w.attacks++
		w.ended = time.Now()
	}
	<-w.done
	return nil
}

// timeOpen returns how long after it was called a child of pid was first
// seen with file open, and for how long it held it (until it is seen
// closed); zeros if pid is gone first.
func timeOpen(pid int, file string) (toOpen, held time.Duration) {
	begin := time.Now()
	var opened time.Time
	for {
		open := openBy(pid, file)
		switch {
		case open && opened.IsZero():
			opened = time.Now()
		case !open && !opened.IsZero():
			return opened.Sub(begin), time.Since(opened)
		}
		if syscall.Kill(pid, 0) != nil {
			return 0, 0
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// openBy says whether a child of pid has file open.
func openBy(pid int, file string) bool {
	for _, c := range proccheck.Children(pid) {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", c))
		for _, fd := range fds {
			if target, err := os.Readlink(fd); err == nil && target == file {
				return true
			}
		}
	}
	return false
}

// chunkPatterns returns the file at name as a letter per chunk: A when
// the chunk is a, B when b, ? when neither; size is what it must hold.
func chunkPatterns(t *testing.T, name string, size int, a, b []byte) string {
	t.Helper()
	f, err := os.Open(name)
	must(t, err)
	defer f.Close()
	buf := make([]byte, len(a))
	var out strings.Builder
	n := 0
	for {
		m, err := io.ReadFull(f, buf)
		n += m
		switch {
		case m == 0:
		case bytes.Equal(buf[:m], a[:m]):
			out.WriteByte('A')
		case bytes.Equal(buf[:m], b[:m]):
			out.WriteByte('B')
		default:
			out.WriteByte('?')
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		must(t, err)
	}
	if n != size {
		t.Errorf("%s: %d bytes, want %d", name, n, size)
	}
	return out.String()
}

// showChunks shows chunk patterns compactly: "24×B 232×A".
func showChunks(p string) string {
	var parts []string
	for i := 0; i < len(p); {
		j := i
		for j < len(p) && p[j] == p[i] {
			j++
		}
		parts = append(parts, fmt.Sprintf("%d×%c", j-i, p[i]))
		i = j
	}
	return strings.Join(parts, " ")
}

func showChunksOf(ps []string) string {
	if len(ps) == 0 {
		return "nothing (no state of the source had that mtime)"
	}
	var shown []string
	for _, p := range ps {
		shown = append(shown, showChunks(p))
	}
	return strings.Join(shown, " or ")
}

// A user's own file in DST named like a pcopy temporary file of a process
// that no longer runs is not pcopy's (it lacks pcopy's mark) and survives
// re-runs; a SRC file with such a name, even one carrying pcopy's mark,
// is copied like any other, once, and left alone by the runs after.
func TestUserFileNamedLikeTempSurvives(t *testing.T) {
	dead := exec.Command("true")
	must(t, dead.Run())
	pid := dead.Process.Pid // exited and reaped: no process has this pid now
	tempLike := func(worker int, rnd string) string {
		return fmt.Sprintf("%s%d-%d-%s.tmp", copier.TempPrefix, pid, worker, rnd)
	}

	src := filepath.Join(t.TempDir(), "src")
	dst := filepath.Join(t.TempDir(), "dst")
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	must(t, os.MkdirAll(filepath.Join(dst, "sub"), 0o755))
	old := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	write := func(p, content string) {
		must(t, os.WriteFile(p, []byte(content), 0o644))
		must(t, os.Chtimes(p, old, old))
	}
	write(filepath.Join(src, "a.txt"), "a\n")
	write(filepath.Join(src, "sub", "b.txt"), "b\n")
	srcTemps := []string{tempLike(2, "fedcba9876543210"), "sub/" + tempLike(3, "00112233aabbccdd")}
	for _, rel := range srcTemps {
		write(filepath.Join(src, rel), "a source file named like a temporary file: "+rel+"\n")
	}
	// One even carries pcopy's mark, as a temporary file a killed copy
	// left in what is now SRC would: the mark is never copied, so its copy
	// in DST is not taken for pcopy's own either.
	if err := unix.Setxattr(filepath.Join(src, srcTemps[1]), "user.pcopy-temp", []byte("1"), 0); err != nil {
		t.Logf("no user extended attributes here (%v): the marked source is not tried", err)
	}
	userFiles := []string{tempLike(1, "0123456789abcdef"), "sub/" + tempLike(1, "0123456789abcdef")}
	for _, rel := range userFiles {
		write(filepath.Join(dst, rel), "the user's own file, not pcopy's: "+rel+"\n")
	}

	inodes := map[string]uint64{}
	for run := 1; run <= 4; run++ {
		r := runPcopyJSON(t, "--json", "-j", "2", src, dst)
		if r.code != 0 {
			t.Fatalf("run %d: exit %d; stderr:\n%s", run, r.code, r.stderr)
		}
		wantFiles, wantUnchanged := int64(4), int64(0)
		if run > 1 {
			wantFiles, wantUnchanged = 0, 4
		}
		if r.report.Files != wantFiles || r.report.Unchanged != wantUnchanged {
			t.Errorf("run %d: files=%d unchanged=%d, want %d and %d; stderr:\n%s",
				run, r.report.Files, r.report.Unchanged, wantFiles, wantUnchanged, r.stderr)
		}
		for _, rel := range userFiles {
			p := filepath.Join(dst, rel)
			got, err := os.ReadFile(p)
			if err != nil || string(got) != "the user's own file, not pcopy's: "+rel+"\n" {
				t.Errorf("run %d: the user's file %s: %q, %v", run, rel, got, err)
			} else if fi, _ := os.Stat(p); !fi.ModTime().Equal(old) {
				t.Errorf("run %d: the user's file %s has mtime %v, want %v", run, rel, fi.ModTime(), old)
			}
		}
		for _, rel := range srcTemps {
			p := filepath.Join(dst, rel)
			got, err := os.ReadFile(p)
			if err != nil || string(got) != "a source file named like a temporary file: "+rel+"\n" {
				t.Errorf("run %d: the copy of %s: %q, %v", run, rel, got, err)
				continue
			}
			fi, err := os.Stat(p)
			must(t, err)
			ino := fi.Sys().(*syscall.Stat_t).Ino
			if run == 1 {
				inodes[rel] = ino
			} else if inodes[rel] != ino {
				t.Errorf("run %d: the copy of %s was replaced (inode %d, was %d)", run, rel, ino, inodes[rel])
			}
		}
		t.Logf("run %d: files=%d unchanged=%d warnings=%q", run, r.report.Files, r.report.Unchanged, r.report.Warnings)
	}
}

// A DST that cannot be made (its parent is not writable to the user) is a
// refusal like the others: exit 2, the directory named by its real path,
// no summary line, nothing written.
func TestUncreatableDestinationIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs pcopy as nobody, which needs root")
	}
	exe, err := os.Executable()
	must(t, err)
	// Not t.TempDir, whose parent nobody cannot enter.
	dir, err := os.MkdirTemp("", "pcopy-refuse-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	src := filepath.Join(dir, "src")
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644))
	locked := filepath.Join(dir, "locked")
	must(t, os.Mkdir(locked, 0o555))
	// A copy of this binary (pcopy by its name) that nobody can run.
	pcopy := filepath.Join(dir, "pcopy")
	bin, err := os.ReadFile(exe)
	must(t, err)
	must(t, os.WriteFile(pcopy, bin, 0o755))
	var stderr bytes.Buffer
	cmd := exec.Command(pcopy, src, filepath.Join(locked, "new", "dst"))
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit: %v, want 2; stderr:\n%s", err, &stderr)
	}
	want := "pcopy: error: " + filepath.Join(locked, "new") + ": create directory: permission denied\n"
	if stderr.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", &stderr, want)
	}
	if names, _ := os.ReadDir(locked); len(names) > 0 {
		t.Errorf("written into %s: %v", locked, names)
	}
}
