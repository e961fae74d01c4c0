package copier_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/proccheck"
	"github.com/pcopy/pcopy/internal/treecheck"
)

// TestMain lets this test binary serve as a worker process: Exec re-runs it
// with copier.WorkerEnv set, as the pcopy binary re-runs itself.
func TestMain(m *testing.M) {
	if os.Getenv(copier.WorkerEnv) != "" {
		installSwapHook() // race tests: swap a directory for a symlink mid-copy
		if poison := os.Getenv(poisonEnv); poison != "" {
			// A worker that dies, as by a crash, whenever it copies this.
			copier.SetCopyHook(func(rel string) {
				if rel == poison {
					p, _ := os.FindProcess(os.Getpid())
					p.Kill()
					select {}
				}
			})
		}
		if err := copier.RunWorkerProcess(); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// Race-enabled binaries sleep a second on exit by default; each copy
	// waits for its workers to exit.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	os.Exit(m.Run())
}

// poisonEnv names, to worker processes of this test binary, a file whose
// copy kills them (SIGKILL).
const poisonEnv = "PCOPY_TEST_POISON"

func processCopy(t *testing.T, src, dst string, workers int) (copier.Summary, error) {
	t.Helper()
	return processCopyOpts(t, copier.Options{Src: src, Dst: dst, Workers: workers})
}

// processCopyOpts copies as opts say, with this test binary's worker
// processes.
func processCopyOpts(t *testing.T, opts copier.Options) (copier.Summary, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts.Spawn = copier.Exec(exe, "pcopy-test")
	return copier.Copy(context.Background(), opts)
}

func assertSameTree(t *testing.T, src, dst string) {
	t.Helper()
	diffs, err := treecheck.Compare(src, dst, treecheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	for _, left := range treecheck.TempFiles(dst, copier.TempPrefix) {
		t.Errorf("temporary file left behind: %s", left)
	}
}

func writeFile(t *testing.T, p, data string, mode os.FileMode, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func TestProcessCopyOddNames(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("names with newlines and invalid UTF-8 are not valid on Windows")
	}
	src := filepath.Join(t.TempDir(), "src")
	names := []string{"new\nline", "tab\there", "bad\xff\xfeutf8", "-leading-dash", "--", " spaced ",
		"ünïcödé", `quote"and'\`, strings.Repeat("n", 255)}
	for i, name := range names {
		writeFile(t, filepath.Join(src, name), "content of "+name, 0o644, t0.Add(time.Duration(i)))
		writeFile(t, filepath.Join(src, "dir "+name[:min(len(name), 200)], name), name, 0o600, t0)
	}
	writeFile(t, filepath.Join(src, "big"), strings.Repeat("big data ", 2<<20), 0o640, t0) // 18 MB: several chunks
	writeFile(t, filepath.Join(src, "exec"), "#!/bin/sh\n", 0o755, t0)
	writeFile(t, filepath.Join(src, "empty-file"), "", 0o4751, t0.Add(3)) // made at its name, not via O_TMPFILE
	writeFile(t, filepath.Join(src, "ro-dir", "ro-file"), "x", 0o400, t0)
	must(t, os.Symlink("big", filepath.Join(src, "link")))
	must(t, os.Symlink("/nonexistent/dangling\nlink", filepath.Join(src, "dangling")))
	must(t, os.Symlink("new\nline", filepath.Join(src, "link\nto newline")))
	must(t, os.MkdirAll(filepath.Join(src, "empty", "nested-empty"), 0o755))
	must(t, os.Chmod(filepath.Join(src, "ro-dir"), 0o555))
	for _, d := range []string{"empty/nested-empty", "empty", "ro-dir", "."} {
		must(t, os.Chtimes(filepath.Join(src, d), t0.Add(time.Hour), t0.Add(time.Hour)))
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "ro-dir"), 0o755) })

	dst := filepath.Join(t.TempDir(), "a", "b", "dst")
	sum, err := processCopy(t, src, dst, 3)
	if err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(dst, "ro-dir"), 0o755) })
	assertSameTree(t, src, dst)
	if want := int64(2*len(names) + 4); sum.Files != want || sum.Symlinks != 3 {
		t.Errorf("summary: %d files %d symlinks, want %d and 3", sum.Files, sum.Symlinks, want)
	}

	// Again: the same tree is updated in place.
	if _, err := processCopy(t, src, dst, 2); err != nil {
		t.Fatal(err)
	}
	assertSameTree(t, src, dst)
}

func TestProcessCopyThousandsOfFiles(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for i := range 3000 {
		writeFile(t, filepath.Join(src, fmt.Sprintf("d%02d/e%d/f%04d", i%30, i%7, i)), fmt.Sprint(i), 0o644, t0.Add(time.Duration(i)))
	}
	dst := filepath.Join(t.TempDir(), "dst")
	sum, err := processCopy(t, src, dst, 4)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != 3000 || sum.Dirs != 1+30+30*7 {
		t.Errorf("summary: %d files %d dirs, want 3000 and %d", sum.Files, sum.Dirs, 1+30+30*7)
	}
	assertSameTree(t, src, dst)
}

// The walk works relative to open directories down to some depth and by
// path below it; a tree deeper than that is copied whole either way.
func TestProcessCopyDeepTree(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	dir := src
	for i := range 100 {
		dir = filepath.Join(dir, fmt.Sprintf("d%d", i))
		writeFile(t, filepath.Join(dir, "f"), fmt.Sprint(i), 0o640, t0.Add(time.Duration(i)))
		if i%10 == 0 {
			must(t, os.Mkdir(filepath.Join(dir, "empty"), 0o755))
			writeFile(t, filepath.Join(dir, "setuid-empty"), "", 0o4755, t0)
			must(t, os.Symlink("f", filepath.Join(dir, "link")))
		}
	}
	for d := dir; d != filepath.Dir(src); d = filepath.Dir(d) {
		mode := os.FileMode(0o755)
		if strings.HasSuffix(d, "0") {
			mode = 0o2775 | os.ModeSticky
		}
		must(t, os.Chmod(d, mode))
		must(t, os.Chtimes(d, t0.Add(time.Minute), t0.Add(time.Hour)))
	}
	dst := filepath.Join(t.TempDir(), "dst")
	sum, err := processCopy(t, src, dst, 2)
	if err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	if sum.Files != 110 || sum.Symlinks != 10 || sum.Dirs != 111 {
		t.Errorf("summary: %d files %d symlinks %d dirs, want 110, 10 and 111", sum.Files, sum.Symlinks, sum.Dirs)
	}
	assertSameTree(t, src, dst)
}

// A re-run with worker processes on a real filesystem copies only the
// files whose size or mtime differ, and a file cut short (as by a copy
// interrupted some other way) is never taken for a complete one.
func TestProcessRerunSkipsUnchanged(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for i := range 20 {
		writeFile(t, filepath.Join(src, fmt.Sprintf("d%d/f%02d", i%3, i)), strings.Repeat("x", 100+i), 0o644, t0.Add(time.Duration(i)))
	}
	dst := filepath.Join(t.TempDir(), "dst")
	if sum, err := processCopy(t, src, dst, 2); err != nil || sum.Files != 20 || sum.Unchanged != 0 {
		t.Fatalf("first copy: %d files, %d skipped, %v", sum.Files, sum.Unchanged, err)
	}
	sum, err := processCopy(t, src, dst, 2)
	if err != nil || sum.Files != 0 || sum.Unchanged != 20 {
		t.Fatalf("second copy: %d files, %d skipped, %v; want 0 and 20", sum.Files, sum.Unchanged, err)
	}
	cut := filepath.Join(dst, "d0/f03")
	must(t, os.Truncate(cut, 50))
	must(t, os.Chtimes(cut, t0.Add(3), t0.Add(3))) // the source's mtime, but half the bytes
	must(t, os.Chtimes(filepath.Join(dst, "d1/f04"), t0, t0))
	must(t, os.Chtimes(filepath.Join(dst, "d0"), t0, t0))
	must(t, os.Chtimes(filepath.Join(dst, "d1"), t0, t0))
	sum, err = processCopy(t, src, dst, 2)
	if err != nil || sum.Files != 2 || sum.Unchanged != 18 {
		t.Fatalf("third copy: %d files, %d skipped, %v; want 2 and 18", sum.Files, sum.Unchanged, err)
	}
	assertSameTree(t, src, dst)
}

// The next run removes the temporary files a killed run left in DST (as
// pcopy killed with SIGKILL together with its workers would), and only
// those: a temporary file whose process still runs is a concurrent copy's.
func TestRerunRemovesTempFilesOfDeadRuns(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no way to tell a dead process here: stale files are kept")
	}
	dead := exec.Command("true")
	must(t, dead.Run())
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "sub", "f"), "data", 0o644, t0)
	// A user's own file whose name merely looks like a temporary file of
	// a dead process: copied, and never taken for pcopy's.
	mimic := fmt.Sprintf("%s%d-1-0000000000000042.tmp", copier.TempPrefix, dead.Process.Pid)
	writeFile(t, filepath.Join(src, "sub", mimic), "mine", 0o644, t0)
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := processCopy(t, src, dst, 1); err != nil {
		t.Fatal(err)
	}
	stale := []string{
		filepath.Join(dst, fmt.Sprintf("%s%d-1-00000000deadbeef.tmp", copier.TempPrefix, dead.Process.Pid)),
		filepath.Join(dst, "sub", fmt.Sprintf("%s%d-2-0123456789abcdef.tmp", copier.TempPrefix, dead.Process.Pid)),
	}
	live := filepath.Join(dst, "sub", fmt.Sprintf("%s%d-1-fedcba9876543210.tmp", copier.TempPrefix, os.Getpid()))
	for _, p := range append(stale, live) {
		writeFile(t, p, "half a file", 0o600, t0)
		markAsPcopyTemp(t, p)
	}
	must(t, os.Chtimes(filepath.Join(dst, "sub"), t0, t0))
	must(t, os.Chtimes(dst, t0, t0))
	sum, err := processCopy(t, src, dst, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: left behind (%v)", p, err)
		}
	}
	if _, err := os.Lstat(live); err != nil {
		t.Errorf("a running process's temporary file was removed: %v", err)
	}
	want := "removed 2 temporary files left by an earlier, interrupted copy"
	if len(sum.Warnings) < 1 || sum.Warnings[0] != want {
		t.Errorf("warnings = %q, want [%q, ...]", sum.Warnings, want)
	}
	if sum.Unchanged != 2 || sum.Files != 0 {
		t.Errorf("re-run copied %d files and left %d unchanged, want 0 and 2 (the user's file named like a temporary one is not re-copied)", sum.Files, sum.Unchanged)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "sub", mimic)); err != nil || string(got) != "mine" {
		t.Errorf("the user's file named like a temporary file: %q, %v; want it kept", got, err)
	}
	must(t, os.Remove(live))
	must(t, os.Chtimes(filepath.Join(dst, "sub"), t0, t0))
	if _, err := processCopy(t, src, dst, 1); err != nil {
		t.Fatal(err)
	}
	diffs, err := treecheck.Compare(src, dst, treecheck.Options{})
	must(t, err)
	for _, d := range diffs {
		t.Error(d)
	}
	for _, left := range treecheck.TempFiles(dst, copier.TempPrefix) {
		if filepath.Base(left) != mimic {
			t.Errorf("temporary file left behind: %s", left)
		}
	}
}

// A file whose copy kills the worker process every time is reported
// after a bounded number of attempts, each dead worker is replaced with a
// warning, and everything else is copied.
func TestProcessPoisonFileFailsAfterRetries(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for i := range 40 {
		writeFile(t, filepath.Join(src, fmt.Sprintf("d%d/f%02d", i%4, i)), fmt.Sprint("data ", i), 0o644, t0)
	}
	writeFile(t, filepath.Join(src, "d1/poison"), "kills", 0o644, t0)
	t.Setenv(poisonEnv, "d1/poison")
	dst := filepath.Join(t.TempDir(), "dst")
	sum, err := processCopy(t, src, dst, 2)
	if !errors.Is(err, copier.ErrIncomplete) {
		t.Fatalf("err = %v, want some entries failed", err)
	}
	if len(sum.Errors) != 1 || sum.Errors[0].Path != "d1/poison" || !strings.Contains(sum.Errors[0].Error(), "a worker died each of the 3 times") {
		t.Fatalf("errors = %v, want d1/poison failed after 3 worker deaths", sum.Errors)
	}
	deaths := 0
	for _, w := range sum.Warnings {
		if strings.Contains(w, "died") && strings.Contains(w, "starting a replacement") {
			deaths++
		}
	}
	if deaths < 3 {
		t.Errorf("%d warnings of a replaced worker, want at least 3: %q", deaths, sum.Warnings)
	}
	if sum.Files != 40 {
		t.Errorf("%d files copied, want the 40 others", sum.Files)
	}
	if _, err := os.Lstat(filepath.Join(dst, "d1/poison")); err == nil {
		t.Error("the poison file reached its name")
	}
	if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestProcessCopySingleFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "-odd name")
	writeFile(t, src, "one file", 0o604, t0)
	must(t, os.Mkdir(filepath.Join(dir, "into"), 0o755))
	if _, err := processCopy(t, src, filepath.Join(dir, "into"), 1); err != nil {
		t.Fatal(err)
	}
	diffs, err := treecheck.Compare(src, filepath.Join(dir, "into", "-odd name"), treecheck.Options{})
	if err != nil || len(diffs) > 0 {
		t.Errorf("single file copy: %v %v", diffs, err)
	}
}

// A worker is a real process that ps shows by name, takes jobs on stdin,
// and exits cleanly when stdin closes.
func TestWorkerProcessLifecycle(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("process names are set on Linux")
	}
	exe, _ := os.Executable()
	w, err := copier.Exec(exe, "pcopy")(7)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Kill()
	src, dst := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(src, "f"), "data", 0o644, t0)
	if err := copier.Handshake(w, src, dst); err != nil {
		t.Fatal(err)
	}
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", w.Pid()))
	if got := strings.TrimSpace(string(comm)); got != "pcopy worker 7" {
		t.Errorf("worker's process name = %q, want %q", got, "pcopy worker 7")
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", w.Pid()))
	if got := strings.ReplaceAll(string(cmdline), "\x00", " "); got != "pcopy worker 7 " {
		t.Errorf("worker's command line = %q, want %q", got, "pcopy worker 7 ")
	}
	w.Stdin().Close()
	if _, err := io.Copy(io.Discard, w.Stdout()); err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(); err != nil {
		t.Errorf("worker exit after its queue closed: %v, want success", err)
	}
}

// Unreadable entries are reported with path and reason and the rest is
// copied. Root reads everything, so as root the test runs itself again as
// the unprivileged user nobody.
func TestProcessUnreadableEntries(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	if os.Geteuid() == 0 {
		rerunAsNobody(t)
		return
	}
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "ok"), "fine", 0o644, t0)
	writeFile(t, filepath.Join(src, "secret"), "hidden", 0o000, t0)
	writeFile(t, filepath.Join(src, "closed", "inside"), "x", 0o644, t0)
	must(t, os.Chmod(filepath.Join(src, "closed"), 0o000))
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "closed"), 0o755) })
	dst := filepath.Join(t.TempDir(), "dst")
	sum, err := processCopy(t, src, dst, 2)
	if !errors.Is(err, copier.ErrIncomplete) {
		t.Fatalf("err = %v, want ErrIncomplete", err)
	}
	var got []string
	for _, e := range sum.Errors {
		got = append(got, e.Error())
	}
	want := "closed: list directory: open: permission denied\nsecret: open source: permission denied"
	if strings.Join(got, "\n") != want {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "ok")); err != nil || string(b) != "fine" {
		t.Errorf("readable file: %q, %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dst, "secret")); err == nil {
		t.Error("unreadable file exists in the destination")
	}
	if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A worker killed with SIGKILL in the middle of a file loses nothing: its
// jobs go to a replacement, its temporary file is removed, and the copy
// completes identical to the source.
func TestKilledWorkerIsReplaced(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	chunk := strings.Repeat("k", 1<<20)
	for i := range 3 {
		writeFile(t, filepath.Join(src, fmt.Sprintf("big%d", i)), strings.Repeat(chunk, 80), 0o644, t0)
	}
	for i := range 50 {
		writeFile(t, filepath.Join(src, "small", fmt.Sprint(i)), fmt.Sprint(i), 0o644, t0)
	}
	dst := filepath.Join(t.TempDir(), "dst")
	type outcome struct {
		sum copier.Summary
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		sum, err := processCopy(t, src, dst, 2)
		done <- outcome{sum, err}
	}()

	if runtime.GOOS != "linux" {
		t.Skip("finds a busy worker through /proc")
	}
	var killed int
	for killed == 0 {
		select {
		case <-done:
			t.Skip("the copy finished before a worker could be killed")
		case <-time.After(time.Millisecond):
		}
		if busy := proccheck.Writing(os.Getpid(), dst); len(busy) > 0 {
			killed = busy[0]
		}
	}
	p, err := os.FindProcess(killed)
	must(t, err)
	must(t, p.Kill())

	o := <-done
	if o.err != nil {
		t.Fatalf("copy after a worker was killed: %v (%v)", o.err, o.sum.Errors)
	}
	assertSameTree(t, src, dst)
	warned := false
	for _, w := range o.sum.Warnings {
		warned = warned || strings.Contains(w, fmt.Sprintf("(pid %d) died (signal: killed)", killed))
	}
	if !warned {
		t.Errorf("warnings %q do not say worker pid %d was killed", o.sum.Warnings, killed)
	}
}
