package copier_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/copier"
)

// Hard links are kept on the operating system's filesystem (README, What
// is copied): names that share an inode in SRC share one in DST, also when
// they are far apart in the walk and copied by different workers. The
// trees here put one name of a group in each of several directories, with
// 300 other files in each: more than two batches of jobs (2 × 128) lie
// between any two names.

const (
	linkName   = "zz-linked" // the group's name in each directory: after the fillers
	linkDirs   = 5
	linkFiller = 300
)

var linkData = []byte("one file, five names\n")

// linkTree makes SRC (in a fresh temporary directory) with linkDirs
// directories d0..d4, each holding linkFiller files and one name of a
// hard-linked group, followed by a last directory whose file, "e/marker",
// the walk meets after every name of the group. It returns SRC and DST's
// path beside it.
func linkTree(t *testing.T) (src, dst string) {
	t.Helper()
	base := t.TempDir()
	src, dst = filepath.Join(base, "src"), filepath.Join(base, "dst")
	first := ""
	for d := range linkDirs {
		dir := filepath.Join(src, fmt.Sprintf("d%d", d))
		for i := range linkFiller {
			writeFile(t, filepath.Join(dir, fmt.Sprintf("f%03d", i)), fmt.Sprintf("filler %d/%d", d, i), 0o644, t0)
		}
		name := filepath.Join(dir, linkName)
		if first == "" {
			first = name
			writeFile(t, name, string(linkData), 0o640, t0)
		} else {
			must(t, os.Link(first, name))
		}
	}
	writeFile(t, filepath.Join(src, "e", "marker"), "after the group", 0o644, t0)
	must(t, os.Chtimes(first, t0, t0)) // creating the links changed its ctime, not its mtime; to be sure
	return src, dst
}

// linkNames are the names of the group, relative to SRC or DST.
func linkNames() []string {
	var names []string
	for d := range linkDirs {
		names = append(names, fmt.Sprintf("d%d/%s", d, linkName))
	}
	return names
}

// assertOneInode checks that the names in root are one regular file with
// SRC's content, mode and mtime, and nlink links.
func assertOneInode(t *testing.T, root string, names []string, nlink uint64) {
	t.Helper()
	var first *syscall.Stat_t
	for _, rel := range names {
		p := filepath.Join(root, rel)
		info, err := os.Lstat(p)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		st := info.Sys().(*syscall.Stat_t)
		if !info.Mode().IsRegular() || info.Mode().Perm() != 0o640 || !info.ModTime().Equal(t0) {
			t.Errorf("%s: mode %v, mtime %v; want -rw-r----- and %v", rel, info.Mode(), info.ModTime(), t0)
		}
		if data, err := os.ReadFile(p); err != nil || !bytes.Equal(data, linkData) {
			t.Errorf("%s = %q, %v; want %q", rel, data, err, linkData)
		}
		if uint64(st.Nlink) != nlink {
			t.Errorf("%s has %d links, want %d", rel, st.Nlink, nlink)
		}
		if first == nil {
			first = st
		} else if st.Dev != first.Dev || st.Ino != first.Ino {
			t.Errorf("%s is inode %d, not %d as %s: not one file", rel, st.Ino, first.Ino, names[0])
		}
	}
}

func assertFillersCopied(t *testing.T, dst string) {
	t.Helper()
	for d := range linkDirs {
		for i := range linkFiller {
			p := filepath.Join(dst, fmt.Sprintf("d%d/f%03d", d, i))
			if data, err := os.ReadFile(p); err != nil || string(data) != fmt.Sprintf("filler %d/%d", d, i) {
				t.Fatalf("%s = %q, %v", p, data, err)
			}
		}
	}
}

func TestHardLinkGroupAcrossBatchesIsOneInode(t *testing.T) {
	for _, c := range []struct {
		name    string
		outside bool // one more name of the group, outside SRC
	}{
		{"all names in SRC", false},
		{"one name outside SRC", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, dst := linkTree(t)
			if c.outside {
				must(t, os.Link(filepath.Join(src, "d0", linkName), filepath.Join(filepath.Dir(src), "outside")))
			}
			sum, err := copier.Copy(context.Background(), copier.Options{Src: src, Dst: dst, Workers: 4})
			if err != nil {
				t.Fatalf("err = %v (errors %v)", err, sum.Errors)
			}
			// DST has the names SRC has: as many links as those.
			assertOneInode(t, dst, linkNames(), linkDirs)
			assertFillersCopied(t, dst)
			if want := int64(linkDirs*linkFiller + 2); sum.Files != want || sum.Hardlinks != linkDirs-1 {
				t.Errorf("summary: %d files, %d hard links; want %d and %d", sum.Files, sum.Hardlinks, want, linkDirs-1)
			}
		})
	}
}

// When the copy of the group's first name fails, the next name is copied
// in its place and the others are linked to it, whether they were already
// waiting for the first copy or the walk meets them afterwards. A name
// left out by a filter is no part of the group in DST.
func TestHardLinkGroupSurvivesItsFirstName(t *testing.T) {
	first := "d0/" + linkName
	for _, c := range []struct {
		name    string
		workers int
		hold    bool // hold the first name's result until the walk is past the group
		exclude bool // exclude the first name instead of making its copy fail
	}{
		// One worker holds at most two batches of 128 jobs: with 300
		// files between the names, the first name's copy has failed
		// before the walk meets the second.
		{name: "failed before the others are met", workers: 1},
		// The worker copying the first name sends no result until the
		// walk has passed every name: they all wait for the first copy.
		{name: "failed while the others wait", workers: 4, hold: true},
		{name: "first name excluded", workers: 4, exclude: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, dst := linkTree(t)
			opts := copier.Options{Src: src, Dst: dst, Workers: c.workers}
			if c.exclude {
				opts.Exclude = []string{"/" + first}
			} else {
				// A directory at the first name in DST, which a copy
				// never replaces: that copy fails.
				writeFile(t, filepath.Join(dst, first, "keep"), "in the way", 0o644, t0)
			}
			var rig *holdRig
			if c.hold {
				rig = newHoldRig(first, "e/marker", linkNames()[1:])
				opts.Spawn = rig.spawner(copier.InProcess(afero.NewOsFs()))
			}
			sum, err := copier.Copy(context.Background(), opts)
			if c.exclude {
				if err != nil || sum.Excluded != 1 {
					t.Fatalf("err = %v, %d excluded (errors %v); want success, 1 excluded", err, sum.Excluded, sum.Errors)
				}
				if _, err := os.Lstat(filepath.Join(dst, first)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("excluded %s is in DST (%v)", first, err)
				}
			} else {
				if !errors.Is(err, copier.ErrIncomplete) || len(sum.Errors) != 1 || sum.Errors[0].Path != first ||
					!strings.Contains(sum.Errors[0].Error(), "destination exists and is a directory; not replaced") {
					t.Fatalf("err = %v, errors %v; want only %s reported, as a directory is in the way", err, sum.Errors, first)
				}
				if data, err := os.ReadFile(filepath.Join(dst, first, "keep")); err != nil || string(data) != "in the way" {
					t.Errorf("the directory in the way was touched: %q, %v", data, err)
				}
			}
			if rig != nil {
				rig.check(t)
			}
			assertOneInode(t, dst, linkNames()[1:], linkDirs-1)
			assertFillersCopied(t, dst)
			if want := int64(linkDirs*linkFiller + 2); sum.Files != want || sum.Hardlinks != linkDirs-2 {
				t.Errorf("summary: %d files, %d hard links; want %d and %d", sum.Files, sum.Hardlinks, want, linkDirs-2)
			}
		})
	}
}

// holdRig holds back the results of the worker that is sent the job for
// first until some worker has been sent the job for until, a file the walk
// meets later: meanwhile, the coordinator does not know how first's copy
// went. It reads the job paths in what the coordinator writes to the
// workers (paths travel as they are), and notes which of watch were sent
// before until was.
type holdRig struct {
	first, until string
	watch        []string
	passed       chan struct{}
	once         sync.Once

	mu       sync.Mutex
	early    []string
	sawFirst bool // first was sent to a worker, whose results were then held
	sawUntil bool // until was sent to a worker
}

func newHoldRig(first, until string, watch []string) *holdRig {
	return &holdRig{first: first, until: until, watch: watch, passed: make(chan struct{})}
}

// check fails the test where the rig did not hold things back as meant:
// the scenario under test did not happen.
func (r *holdRig) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.sawFirst || !r.sawUntil {
		t.Errorf("%s sent: %v, %s sent: %v; the job paths were not seen going to the workers: the scenario did not happen",
			r.first, r.sawFirst, r.until, r.sawUntil)
	}
	if len(r.early) > 0 {
		t.Errorf("%v sent to a worker before the first name's copy ended: the scenario did not happen", r.early)
	}
}

func (r *holdRig) spawner(spawn copier.Spawner) copier.Spawner {
	return func(id int) (copier.WorkerProcess, error) {
		p, err := spawn(id)
		if err != nil {
			return nil, err
		}
		w := &heldWorker{WorkerProcess: p, rig: r}
		w.in = &scanWriter{WriteCloser: p.Stdin(), w: w}
		w.out = &heldReader{Reader: p.Stdout(), w: w}
		return w, nil
	}
}

type heldWorker struct {
	copier.WorkerProcess
	rig    *holdRig
	in     *scanWriter
	out    *heldReader
	mu     sync.Mutex
	isHeld bool // it was sent first
}

func (w *heldWorker) Stdin() io.WriteCloser { return w.in }
func (w *heldWorker) Stdout() io.Reader     { return w.out }

// Stopping the worker lets its results go.
func (w *heldWorker) Terminate() error { w.rig.release(); return w.WorkerProcess.Terminate() }
func (w *heldWorker) Kill() error      { w.rig.release(); return w.WorkerProcess.Kill() }

func (r *holdRig) release() { r.once.Do(func() { close(r.passed) }) }

// scanWriter looks for job paths in what is written to a worker.
type scanWriter struct {
	io.WriteCloser
	w    *heldWorker
	tail []byte // the end of what was written before, for a path cut in two
}

func (s *scanWriter) Write(p []byte) (int, error) {
	r := s.w.rig
	buf := append(s.tail, p...)
	if bytes.Contains(buf, []byte(r.first)) {
		s.w.mu.Lock()
		s.w.isHeld = true
		s.w.mu.Unlock()
		r.mu.Lock()
		r.sawFirst = true
		r.mu.Unlock()
	}
	select {
	case <-r.passed:
	default:
		r.mu.Lock()
		for _, name := range r.watch {
			if bytes.Contains(buf, []byte(name)) {
				r.early = append(r.early, name)
			}
		}
		r.mu.Unlock()
		if bytes.Contains(buf, []byte(r.until)) {
			r.mu.Lock()
			r.sawUntil = true
			r.mu.Unlock()
			r.release()
		}
	}
	if len(buf) > 256 {
		buf = buf[len(buf)-256:]
	}
	s.tail = append([]byte(nil), buf...)
	return s.WriteCloser.Write(p)
}

// heldReader passes on what the worker sends, except that once the
// worker was sent first, nothing more reaches the coordinator until the
// rig lets it.
type heldReader struct {
	io.Reader
	w *heldWorker
}

func (h *heldReader) Read(p []byte) (int, error) {
	n, err := h.Reader.Read(p)
	h.w.mu.Lock()
	held := h.w.isHeld
	h.w.mu.Unlock()
	if held {
		<-h.w.rig.passed
	}
	return n, err
}
