package copier_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/copier"
)

// These tests drive the coordinator against afero's in-memory filesystem,
// with workers running in-process over io.Pipe: the real protocol and
// dispatch logic, without processes or disks.

type entry struct {
	path  string
	data  string // file content; ignored for dirs
	dir   bool
	mode  fs.FileMode
	mtime time.Time
}

var t0 = time.Date(2020, 2, 29, 13, 14, 15, 123456789, time.UTC)

func buildMem(t *testing.T, fsys afero.Fs, root string, entries []entry) {
	t.Helper()
	if err := fsys.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := path.Join(root, e.path)
		var err error
		if e.dir {
			err = fsys.MkdirAll(p, 0o755)
		} else {
			err = afero.WriteFile(fsys, p, []byte(e.data), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Modes and times last, deepest first, as creating entries changes
	// their parent's mtime.
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		p := path.Join(root, e.path)
		if e.mode != 0 {
			if err := fsys.Chmod(p, e.mode); err != nil {
				t.Fatal(err)
			}
		}
		if !e.mtime.IsZero() {
			if err := fsys.Chtimes(p, e.mtime, e.mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// compareMem checks that dst reproduces src: same entries, contents, modes
// and mtimes (to the nanosecond), and no temporary files.
func compareMem(t *testing.T, fsys afero.Fs, src, dst string) {
	t.Helper()
	seen := map[string]bool{}
	afero.Walk(fsys, src, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			t.Errorf("walk %s: %v", p, err)
			return nil
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, src), "/")
		seen[rel] = true
		got, err := fsys.Stat(path.Join(dst, rel))
		if err != nil {
			t.Errorf("%q: %v", rel, err)
			return nil
		}
		if got.Mode() != info.Mode() {
			t.Errorf("%q: mode %v, want %v", rel, got.Mode(), info.Mode())
		}
		if !got.ModTime().Equal(info.ModTime()) {
			t.Errorf("%q: mtime %v, want %v", rel, got.ModTime(), info.ModTime())
		}
		if info.Mode().IsRegular() {
			a, _ := afero.ReadFile(fsys, p)
			b, _ := afero.ReadFile(fsys, path.Join(dst, rel))
			if !bytes.Equal(a, b) {
				t.Errorf("%q: content differs (%d bytes, want %d)", rel, len(b), len(a))
			}
		}
		return nil
	})
	afero.Walk(fsys, dst, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dst), "/")
		if strings.HasPrefix(info.Name(), copier.TempPrefix) {
			t.Errorf("temporary file left behind: %q", rel)
		} else if !seen[rel] {
			t.Errorf("%q: extra entry in destination", rel)
		}
		return nil
	})
}

func memCopy(ctx context.Context, fsys afero.Fs, src, dst string, workers int) (copier.Summary, error) {
	return copier.Copy(ctx, copier.Options{Src: src, Dst: dst, Fs: fsys, Workers: workers, Spawn: copier.InProcess(fsys)})
}

func sampleTree() []entry {
	big := strings.Repeat("0123456789abcdef", (9<<20)/16) // more than one copy chunk
	return []entry{
		{path: "a.txt", data: "alpha", mtime: t0},
		{path: "empty", data: "", mode: 0o600, mtime: t0.Add(time.Second)},
		{path: "exec.sh", data: "#!/bin/sh\n", mode: 0o755, mtime: t0},
		{path: "readonly", data: "ro", mode: 0o444, mtime: t0},
		{path: "big.bin", data: big, mtime: t0.Add(time.Nanosecond)},
		{path: "sub", dir: true, mtime: t0.Add(time.Hour)},
		{path: "sub/b.txt", data: "beta", mtime: t0},
		{path: "sub/deeper", dir: true, mode: 0o750, mtime: t0.Add(2 * time.Hour)},
		{path: "sub/deeper/c.txt", data: "gamma", mtime: t0},
		{path: "emptydir", dir: true, mtime: t0.Add(3 * time.Hour)},
		{path: "locked", dir: true, mode: 0o555, mtime: t0.Add(4 * time.Hour)},
		{path: "locked/inside", data: "in a read-only dir", mode: 0o400, mtime: t0},
	}
}

func TestCopyTree(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			fsys := afero.NewMemMapFs()
			buildMem(t, fsys, "/src", sampleTree())
			sum, err := memCopy(context.Background(), fsys, "/src", "/out/nested/dst", workers)
			if err != nil {
				t.Fatal(err)
			}
			compareMem(t, fsys, "/src", "/out/nested/dst")
			if sum.Files != 8 || sum.Dirs != 5 || len(sum.Errors) != 0 {
				t.Errorf("summary = %+v, want 8 files, 5 dirs (root included), no errors", sum)
			}
			if want := int64(len("alpha#!/bin/sh\nrobetagammain a read-only dir") + 9<<20); sum.Bytes != want {
				t.Errorf("summary bytes = %d, want %d", sum.Bytes, want)
			}
		})
	}
}

func TestRerunUpdatesSameTree(t *testing.T) {
	fsys := afero.NewMemMapFs()
	buildMem(t, fsys, "/src", sampleTree())
	if _, err := memCopy(context.Background(), fsys, "/src", "/dst", 2); err != nil {
		t.Fatal(err)
	}
	// Change the source; the second run must update, not nest.
	if err := afero.WriteFile(fsys, "/src/a.txt", []byte("alpha, changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	fsys.Chtimes("/src", t0, t0)
	if _, err := memCopy(context.Background(), fsys, "/src", "/dst", 2); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat("/dst/src"); err == nil {
		t.Error("second run created /dst/src")
	}
	compareMem(t, fsys, "/src", "/dst")
}

func TestCopySingleFile(t *testing.T) {
	tests := []struct {
		name, dst, want string
	}{
		{"to a new name", "/out/copy.txt", "/out/copy.txt"},
		{"into an existing directory", "/existing", "/existing/f.txt"},
		{"into a directory named with a slash", "/made/", "/made/f.txt"},
		{"over an existing file", "/old.txt", "/old.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := afero.NewMemMapFs()
			buildMem(t, fsys, "/", []entry{
				{path: "f.txt", data: "content", mode: 0o640, mtime: t0},
				{path: "existing", dir: true},
				{path: "old.txt", data: "old content that is longer"},
			})
			sum, err := memCopy(context.Background(), fsys, "/f.txt", tt.dst, 2)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Files != 1 || sum.Bytes != 7 {
				t.Errorf("summary = %+v, want 1 file of 7 bytes", sum)
			}
			got, err := afero.ReadFile(fsys, tt.want)
			if err != nil || string(got) != "content" {
				t.Fatalf("%s = %q, %v; want the content", tt.want, got, err)
			}
			info, _ := fsys.Stat(tt.want)
			if info.Mode() != 0o640 || !info.ModTime().Equal(t0) {
				t.Errorf("%s: mode %v mtime %v, want -rw-r----- %v", tt.want, info.Mode(), info.ModTime(), t0)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name, src, dst, msg string
	}{
		{"missing source", "/nope", "/dst", "source /nope does not exist"},
		{"same directory", "/src", "/src", "same directory"},
		{"same directory spelled differently", "/src", "/src/sub/..", "same directory"},
		{"destination inside source", "/src", "/src/sub/new", "is inside source"},
		{"destination is a file", "/src", "/file", "exists and is not a directory"},
		{"same file", "/file", "/file", "same file"},
		{"file onto a directory", "/file", "/dir/", "is a directory"},
		{"empty destination", "/src", "", "must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := afero.NewMemMapFs()
			buildMem(t, fsys, "/", []entry{{path: "src/sub/file", data: "x"}, {path: "file", data: "f"}, {path: "dir/file", dir: true}})
			sub, _ := fsys.Stat("/src/sub")
			_, err := memCopy(context.Background(), fsys, tt.src, tt.dst, 1)
			var re *copier.RefusedError
			if !errors.As(err, &re) || !strings.Contains(re.Msg, tt.msg) {
				t.Fatalf("err = %v, want a refusal containing %q", err, tt.msg)
			}
			if _, err := fsys.Stat("/dst"); err == nil {
				t.Error("refused copy created /dst")
			}
			if names, _ := afero.ReadDir(fsys, "/src/sub"); len(names) != 1 {
				t.Errorf("refused copy wrote into the source: %d entries in /src/sub", len(names))
			}
			if after, _ := fsys.Stat("/src/sub"); !after.ModTime().Equal(sub.ModTime()) {
				t.Error("refused copy touched /src/sub")
			}
		})
	}
}

// denyFs fails opening the named paths with EACCES, like an unreadable file
// or directory on a real disk.
type denyFs struct {
	afero.Fs
	deny map[string]bool
}

func (d *denyFs) Open(name string) (afero.File, error) {
	if d.deny[name] {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EACCES}
	}
	return d.Fs.Open(name)
}

func TestUnreadableEntriesDoNotStopTheCopy(t *testing.T) {
	mem := afero.NewMemMapFs()
	buildMem(t, mem, "/src", []entry{
		{path: "ok1", data: "1"},
		{path: "secret", data: "s"},
		{path: "closed", dir: true, mtime: t0},
		{path: "closed/hidden", data: "h"},
		{path: "z/ok2", data: "2"},
	})
	fsys := &denyFs{Fs: mem, deny: map[string]bool{"/src/secret": true, "/src/closed": true}}
	sum, err := copier.Copy(context.Background(), copier.Options{Src: "/src", Dst: "/dst", Fs: fsys, Workers: 2})
	if !errors.Is(err, copier.ErrIncomplete) {
		t.Fatalf("err = %v, want ErrIncomplete", err)
	}
	var got []string
	for _, e := range sum.Errors {
		got = append(got, e.Error())
	}
	want := []string{"closed: list directory: open: permission denied", "secret: open source: permission denied"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range []string{"/dst/ok1", "/dst/z/ok2"} {
		if _, err := mem.Stat(p); err != nil {
			t.Errorf("%s not copied: %v", p, err)
		}
	}
	if info, err := mem.Stat("/dst/closed"); err != nil || !info.ModTime().Equal(t0) {
		t.Errorf("unlistable directory: %v, %v; want it created with its mtime", info, err)
	}
	if _, err := mem.Stat("/dst/secret"); err == nil {
		t.Error("/dst/secret exists although it could not be read")
	}
}

func TestFailedCopyKeepsExistingDestination(t *testing.T) {
	mem := afero.NewMemMapFs()
	buildMem(t, mem, "/", []entry{{path: "src/f", data: "new"}, {path: "dst/f", data: "precious old content"}})
	fsys := &denyFs{Fs: mem, deny: map[string]bool{"/src/f": true}}
	if _, err := copier.Copy(context.Background(), copier.Options{Src: "/src", Dst: "/dst", Fs: fsys}); !errors.Is(err, copier.ErrIncomplete) {
		t.Fatalf("err = %v, want ErrIncomplete", err)
	}
	if got, _ := afero.ReadFile(mem, "/dst/f"); string(got) != "precious old content" {
		t.Errorf("/dst/f = %q after a failed copy, want the old content", got)
	}
}

// The coordinator must not run ahead of the workers: whatever the tree's
// size, only a few batches per worker are ever out.
func TestFlowControlIsBounded(t *testing.T) {
	fsys := afero.NewMemMapFs()
	var entries []entry
	for i := range 3000 {
		entries = append(entries, entry{path: fmt.Sprintf("d%02d/f%04d", i%20, i), data: "x"})
	}
	buildMem(t, fsys, "/src", entries)
	var mu sync.Mutex
	peak := 0
	copier.SetSentHook(t.Cleanup, func(s copier.Sent) {
		mu.Lock()
		peak = max(peak, s.Out)
		mu.Unlock()
	})
	sum, err := memCopy(context.Background(), fsys, "/src", "/dst", 2)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Files != 3000 {
		t.Fatalf("copied %d files, want 3000", sum.Files)
	}
	if peak > copier.MaxOut(2) || peak == 0 {
		t.Errorf("peak jobs out = %d, want between 1 and %d", peak, copier.MaxOut(2))
	}
}

// killFs kills the worker that opens a victim file, the way a crash or the
// OOM killer would, up to kills times. Each in-process worker gets its own
// view of the filesystem that knows which worker it belongs to.
type killFs struct {
	afero.Fs
	victim string
	mu     sync.Mutex
	kills  int
}

type workerView struct {
	*killFs
	proc copier.WorkerProcess
}

func (v *workerView) Open(name string) (afero.File, error) {
	v.mu.Lock()
	if name == v.victim && v.kills > 0 {
		v.kills--
		v.mu.Unlock()
		v.proc.Kill()
		return nil, errors.New("killed")
	}
	v.mu.Unlock()
	return v.killFs.Fs.Open(name)
}

func (k *killFs) spawner() copier.Spawner {
	return func(id int) (copier.WorkerProcess, error) {
		v := &workerView{killFs: k}
		p, err := copier.InProcess(v)(id)
		v.proc = p
		return p, err
	}
}

func TestDeadWorkersJobsAreRequeued(t *testing.T) {
	mem := afero.NewMemMapFs()
	var entries []entry
	for i := range 200 {
		entries = append(entries, entry{path: fmt.Sprintf("f%03d", i), data: fmt.Sprint(i)})
	}
	buildMem(t, mem, "/src", entries)
	fsys := &killFs{Fs: mem, victim: "/src/f050", kills: 1}
	sum, err := copier.Copy(context.Background(), copier.Options{Src: "/src", Dst: "/dst", Fs: fsys, Workers: 2, Spawn: fsys.spawner()})
	if err != nil {
		t.Fatalf("err = %v (errors %v)", err, sum.Errors)
	}
	compareMem(t, mem, "/src", "/dst")
	if sum.Files != 200 {
		t.Errorf("copied %d files, want 200", sum.Files)
	}
	if len(sum.Warnings) == 0 || !strings.Contains(strings.Join(sum.Warnings, "\n"), "requeued") {
		t.Errorf("warnings = %q, want one saying a worker died and its jobs were requeued", sum.Warnings)
	}
}

func TestJobThatKeepsKillingWorkersFails(t *testing.T) {
	mem := afero.NewMemMapFs()
	buildMem(t, mem, "/src", []entry{{path: "a", data: "a"}, {path: "poison", data: "p"}, {path: "z", data: "z"}})
	fsys := &killFs{Fs: mem, victim: "/src/poison", kills: 1000}
	sum, err := copier.Copy(context.Background(), copier.Options{Src: "/src", Dst: "/dst", Fs: fsys, Workers: 2, Spawn: fsys.spawner()})
	if !errors.Is(err, copier.ErrIncomplete) {
		t.Fatalf("err = %v, want ErrIncomplete", err)
	}
	if len(sum.Errors) != 1 || sum.Errors[0].Path != "poison" || !strings.Contains(sum.Errors[0].Error(), "died each of the 3 times") {
		t.Errorf("errors = %v, want poison failed after 3 worker deaths", sum.Errors)
	}
	for _, p := range []string{"/dst/a", "/dst/z"} {
		if _, err := mem.Stat(p); err != nil {
			t.Errorf("%s not copied: %v", p, err)
		}
	}
}

// A copy whose context is already cancelled copies nothing (a cancel in
// the middle of a copy: TestCancelMidCopyLeavesNoPartialFiles).
func TestCancelBeforeStartCopiesNothing(t *testing.T) {
	fsys := afero.NewMemMapFs()
	var entries []entry
	for i := range 2000 {
		entries = append(entries, entry{path: fmt.Sprintf("d%d/f%04d", i%10, i), data: "x"})
	}
	buildMem(t, fsys, "/src", entries)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := memCopy(ctx, fsys, "/src", "/dst", 2)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	afero.Walk(fsys, "/dst", func(p string, info fs.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			t.Errorf("copied after the context was cancelled: %s", p)
		}
		return nil
	})
}

func TestDisplayPath(t *testing.T) {
	tests := map[string]string{
		"plain/path":   "plain/path",
		"with space":   "with space",
		"ünï":          "ünï",
		"new\nline":    `"new\nline"`,
		"bad\xffutf8":  `"bad\xffutf8"`,
		"tab\tinside":  `"tab\tinside"`,
		"-leadingdash": "-leadingdash",
	}
	for in, want := range tests {
		if got := copier.DisplayPath(in); got != want {
			t.Errorf("DisplayPath(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestFileErrorNamesRoot(t *testing.T) {
	e := &copier.FileError{Path: "", Err: os.ErrPermission}
	if got := e.Error(); got != ".: permission denied" {
		t.Errorf("FileError for the root = %q", got)
	}
}

// mkdirCounter cancels a copy once the walk has created after directories,
// and counts the directories created after that.
type mkdirCounter struct {
	afero.Fs
	after  int
	cancel context.CancelFunc
	mu     sync.Mutex
	n      int
}

func (m *mkdirCounter) Mkdir(name string, perm fs.FileMode) error {
	m.mu.Lock()
	m.n++
	if m.n == m.after {
		m.cancel()
	}
	m.mu.Unlock()
	return m.Fs.Mkdir(name, perm)
}

// An interrupt is seen promptly even while the walk goes through directories
// that hold no files (and so sends workers nothing to report back).
func TestCancelDuringWalkOfEmptyDirectories(t *testing.T) {
	mem := afero.NewMemMapFs()
	for i := range 3000 {
		must(t, mem.MkdirAll(fmt.Sprintf("/src/d%d/e", i), 0o755))
	}
	ctx, cancel := context.WithCancel(context.Background())
	fsys := &mkdirCounter{Fs: mem, after: 100, cancel: cancel}
	_, err := copier.Copy(ctx, copier.Options{Src: "/src", Dst: "/dst", Fs: fsys, Workers: 2})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if extra := fsys.n - fsys.after; extra > copier.WalkBudget {
		t.Errorf("the walk created %d more directories after the interrupt, want at most %d", extra, copier.WalkBudget)
	}
}

// Small files must not queue behind a large file at one worker while the
// others idle: a worker holding a large batch gets nothing more until done.
func TestNothingQueuesBehindLargeFiles(t *testing.T) {
	mem := afero.NewMemMapFs()
	entries := []entry{{path: "a-big", data: strings.Repeat("b", copier.MaxBatchBytes+1)}}
	for i := range 300 {
		entries = append(entries, entry{path: fmt.Sprintf("small%03d", i), data: "s"})
	}
	buildMem(t, mem, "/src", entries)
	var mu sync.Mutex
	var behindBig int
	copier.SetSentHook(t.Cleanup, func(s copier.Sent) {
		mu.Lock()
		defer mu.Unlock()
		for _, size := range s.Before {
			if size >= copier.MaxBatchBytes {
				behindBig++
			}
		}
	})
	if _, err := memCopy(context.Background(), mem, "/src", "/dst", 2); err != nil {
		t.Fatal(err)
	}
	if behindBig > 0 {
		t.Errorf("%d batches were queued behind a large file", behindBig)
	}
}

// A worker that speaks another protocol version is refused, not used.
func TestWorkerOfAnotherVersionIsRefused(t *testing.T) {
	mem := afero.NewMemMapFs()
	buildMem(t, mem, "/src", []entry{{path: "f", data: "x"}})
	_, err := copier.Copy(context.Background(), copier.Options{Src: "/src", Dst: "/dst", Fs: mem, Workers: 1, Spawn: copier.FakeWorker(99)})
	if err == nil || !strings.Contains(err.Error(), "protocol version 99") {
		t.Fatalf("err = %v, want a refusal naming protocol version 99", err)
	}
}

// A re-run copies only what changed: under the default policy a file of
// the same size and mtime is left alone (as rsync does, even if its bytes
// differ), with --checksum its content decides, with --force everything
// is copied. A file left alone still gets the source's mode.
func TestRerunCopiesOnlyWhatChanged(t *testing.T) {
	entries := []entry{
		{path: "same", data: "unchanged", mtime: t0},
		{path: "d/newer", data: "v1", mtime: t0},
		{path: "d/sneaky", data: "abc", mtime: t0},        // DST: other bytes, same size and mtime
		{path: "touched", data: "same bytes", mtime: t0},  // DST: same bytes, other mtime
		{path: "mode", data: "m", mode: 0o600, mtime: t0}, // DST: other mode
		{path: "empty", data: "", mtime: t0},
	}
	for _, c := range []struct {
		name               string
		policy             copier.UpdatePolicy
		wantFiles, skipped int64
		sneaky             string // d/sneaky's content in DST afterwards
	}{
		{"size and mtime", copier.UpdateChanged, 2, 4, "xyz"},
		{"checksum", copier.UpdateChecksum, 2, 4, "abc"},
		{"force", copier.UpdateAll, 6, 0, "abc"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fsys := afero.NewMemMapFs()
			buildMem(t, fsys, "/src", entries)
			if sum, err := memCopy(context.Background(), fsys, "/src", "/dst", 2); err != nil || sum.Files != 6 {
				t.Fatalf("first copy: %d files, %v", sum.Files, err)
			}
			must(t, afero.WriteFile(fsys, "/src/d/newer", []byte("v2"), 0o644))
			must(t, fsys.Chtimes("/src/d/newer", t0.Add(time.Hour), t0.Add(time.Hour)))
			must(t, fsys.Chtimes("/src/d", t0, t0))
			must(t, afero.WriteFile(fsys, "/dst/d/sneaky", []byte("xyz"), 0o644))
			must(t, fsys.Chtimes("/dst/d/sneaky", t0, t0))
			must(t, fsys.Chtimes("/dst/touched", t0.Add(time.Minute), t0.Add(time.Minute)))
			must(t, fsys.Chmod("/dst/mode", 0o644))

			sum, err := copier.Copy(context.Background(), copier.Options{Src: "/src", Dst: "/dst", Fs: fsys,
				Workers: 2, Update: c.policy})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Files != c.wantFiles || sum.Unchanged != c.skipped {
				t.Errorf("re-run: %d files copied, %d skipped; want %d and %d", sum.Files, sum.Unchanged, c.wantFiles, c.skipped)
			}
			if got, _ := afero.ReadFile(fsys, "/dst/d/sneaky"); string(got) != c.sneaky {
				t.Errorf("d/sneaky = %q, want %q", got, c.sneaky)
			}
			// Everything else is as in SRC.
			must(t, afero.WriteFile(fsys, "/dst/d/sneaky", []byte("abc"), 0o644))
			must(t, fsys.Chtimes("/dst/d/sneaky", t0, t0))
			must(t, fsys.Chtimes("/dst/d", t0, t0))
			compareMem(t, fsys, "/src", "/dst")
		})
	}
}

// changingFs changes the file at name each time it is opened, until
// changes runs out: a source that changes while a worker copies it.
type changingFs struct {
	afero.Fs
	name    string
	mu      sync.Mutex
	changes int
	vanish  bool // removed when opened
	opens   int
}

func (c *changingFs) Open(name string) (afero.File, error) {
	if name == c.name {
		c.mu.Lock()
		c.opens++
		if c.vanish {
			c.Fs.Remove(name)
		}
		if c.changes > 0 {
			c.changes--
			data, _ := afero.ReadFile(c.Fs, name)
			afero.WriteFile(c.Fs, name, append(data, '+'), 0o644)
			c.Fs.Chtimes(name, t0.Add(time.Duration(c.opens)*time.Hour), t0.Add(time.Duration(c.opens)*time.Hour))
		}
		c.mu.Unlock()
	}
	return c.Fs.Open(name)
}

// A file that changes while it is copied is looked at again and copied
// once more as it is now; one that changes every time is reported after
// that one retry, and everything else is copied.
func TestSourceChangingWhileCopiedIsRetriedOnce(t *testing.T) {
	for _, c := range []struct {
		name    string
		changes int
		wantErr bool
	}{
		{"changes once", 1, false},
		{"keeps changing", 100, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := afero.NewMemMapFs()
			buildMem(t, mem, "/src", []entry{{path: "f", data: "first", mtime: t0}, {path: "g", data: "steady", mtime: t0}})
			fsys := &changingFs{Fs: mem, name: "/src/f", changes: c.changes}
			sum, err := copier.Copy(context.Background(), copier.Options{Src: "/src", Dst: "/dst", Fs: fsys, Workers: 2})
			if fsys.opens != 2 {
				t.Errorf("the source was opened %d times, want 2 (one retry)", fsys.opens)
			}
			if got, _ := afero.ReadFile(mem, "/dst/g"); string(got) != "steady" {
				t.Errorf("g = %q: the other file was not copied", got)
			}
			if !c.wantErr {
				if err != nil {
					t.Fatalf("err = %v (%v), want the retry to copy it", err, sum.Errors)
				}
				compareMem(t, mem, "/src", "/dst")
				return
			}
			if !errors.Is(err, copier.ErrIncomplete) || len(sum.Errors) != 1 || sum.Errors[0].Path != "f" ||
				!strings.Contains(sum.Errors[0].Error(), "changed while it was being copied") {
				t.Fatalf("err = %v, errors %v; want f reported as changed", err, sum.Errors)
			}
			if sum.Changed != 1 || sum.Vanished != 0 {
				t.Errorf("summary counts %d changed, %d vanished; want 1, 0", sum.Changed, sum.Vanished)
			}
			if _, err := mem.Stat("/dst/f"); err == nil {
				t.Error("a copy of a file that kept changing reached its name")
			}
		})
	}
}

// ghostFs lists a name that lstat then does not find, as a directory does
// when one of its files is removed between readdir and lstat.
type ghostFs struct {
	afero.Fs
	ghost string
}

func (g ghostFs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	if name == g.ghost {
		return nil, true, &fs.PathError{Op: "lstat", Path: name, Err: syscall.ENOENT}
	}
	return g.Fs.(afero.Lstater).LstatIfPossible(name)
}

// A source that goes away after the walk saw its name is reported as
// vanished, whether it went before its lstat or before its copy; it is
// counted so (rsync's "file has vanished"), the rest is copied, and the
// copy is incomplete.
func TestVanishedSourcesAreCounted(t *testing.T) {
	for _, c := range []struct {
		name    string
		fsys    func(afero.Fs) afero.Fs
		wantMsg string
	}{
		{"before lstat", func(mem afero.Fs) afero.Fs { return ghostFs{mem, "/src/f"} }, "vanished before it could be copied"},
		{"before copy", func(mem afero.Fs) afero.Fs { return &changingFs{Fs: mem, name: "/src/f", vanish: true} }, "vanished after it was listed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mem := afero.NewMemMapFs()
			buildMem(t, mem, "/src", []entry{{path: "f", data: "going", mtime: t0}, {path: "g", data: "steady", mtime: t0}})
			sum, err := copier.Copy(context.Background(), copier.Options{Src: "/src", Dst: "/dst", Fs: c.fsys(mem), Workers: 2})
			if !errors.Is(err, copier.ErrIncomplete) || len(sum.Errors) != 1 || sum.Errors[0].Path != "f" ||
				!strings.Contains(sum.Errors[0].Error(), c.wantMsg) {
				t.Fatalf("err = %v, errors %v; want f reported: %s", err, sum.Errors, c.wantMsg)
			}
			if sum.Vanished != 1 || sum.Changed != 0 {
				t.Errorf("summary counts %d vanished, %d changed; want 1, 0", sum.Vanished, sum.Changed)
			}
			if got, _ := afero.ReadFile(mem, "/dst/g"); string(got) != "steady" {
				t.Errorf("g = %q: the other file was not copied", got)
			}
			if _, err := mem.Stat("/dst/f"); err == nil {
				t.Error("f is in DST")
			}
		})
	}
}

// An interrupt while --delete removes entries stops it there: the copy
// says it was interrupted, and what was not reached stays.
func TestDeleteStopsWhenInterrupted(t *testing.T) {
	mem := afero.NewMemMapFs()
	buildMem(t, mem, "/src", []entry{{path: "keep", data: "k", mtime: t0}})
	for i := range 20 {
		buildMem(t, mem, "/dst", []entry{{path: fmt.Sprintf("extra%02d", i), data: "x", mtime: t0}})
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	deleted := 0
	_, err := copier.Copy(ctx, copier.Options{Src: "/src", Dst: "/dst", Fs: mem, Workers: 1, Delete: true, DeleteUnrelated: true,
		OnAction: func(a copier.Action, rel, host string, err error) {
			if a == copier.Deleted {
				deleted++
				cancel(errors.New("stop"))
			}
		}})
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("err = %v, want interrupted", err)
	}
	left, _ := afero.ReadDir(mem, "/dst")
	if deleted != 1 || len(left) != 20 { // keep, and 19 extras
		t.Errorf("%d deleted, %d entries left; want 1 deleted and the 19 other extras left", deleted, len(left))
	}
}
