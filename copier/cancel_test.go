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
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/copier"
)

// An interrupt that lands while workers are in the middle of files leaves
// no temporary file anywhere in DST, and every file DST has at its final
// name is whole: SRC's bytes, mode and mtime.
//
// The copy is cancelled from inside a write: once the trigger-th temporary
// file created in DST has 1 MiB written, its Write cancels the context.
// From then on every write to a temporary file, of any worker, waits
// until that worker has been told to stop (Terminate) before it goes on:
// so the cancel finds files half-written, and the workers run into it in
// the middle of them, whatever the scheduling.
func TestCancelMidCopyLeavesNoPartialFiles(t *testing.T) {
	const (
		workers = 3
		files   = 12
		size    = 5<<20 + 12345 // more than one copy chunk (4 MiB): a check for the interrupt falls inside each file
		trigger = 7             // cancel while writing the 7th file started
	)
	mem := afero.NewMemMapFs()
	var entries []entry
	for i := range files {
		unit := []byte(fmt.Sprintf("<file %02d> ", i))
		data := bytes.Repeat(unit, size/len(unit)+1)[:size]
		entries = append(entries, entry{path: fmt.Sprintf("d%d/f%02d", i%3, i), data: string(data), mode: 0o640,
			mtime: t0.Add(time.Duration(i) * time.Minute)})
	}
	buildMem(t, mem, "/src", entries)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rig := &cancelRig{mem: mem, cancel: cancel, trigger: trigger, fired: make(chan struct{})}
	// The coordinator's view too counts the temporary files it removes
	// (those of workers that ended in the middle of a job).
	coord := &cancelView{cancelRig: rig, stopped: make(chan struct{})}
	close(coord.stopped)
	_, err := copier.Copy(ctx, copier.Options{Src: "/src", Dst: "/dst", Fs: coord, Workers: workers, Spawn: rig.spawner()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want it to wrap context.Canceled", err)
	}
	select {
	case <-rig.fired:
	default:
		t.Fatal("the copy ended without the trigger file being written: the scenario did not happen")
	}

	// No temporary file anywhere in DST.
	afero.Walk(mem, "/dst", func(p string, info fs.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(info.Name(), copier.TempPrefix) {
			t.Errorf("temporary file left behind: %s (%d bytes)", p, info.Size())
		}
		return nil
	})

	// What reached its final name is complete.
	complete := 0
	for _, e := range entries {
		got, err := mem.Stat(path.Join("/dst", e.path))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", e.path, err)
			continue
		}
		complete++
		data, _ := afero.ReadFile(mem, path.Join("/dst", e.path))
		if !bytes.Equal(data, []byte(e.data)) {
			t.Errorf("%s is at its final name with %d bytes that are not its source's (%d bytes)", e.path, len(data), len(e.data))
		}
		if got.Mode() != e.mode || !got.ModTime().Equal(e.mtime) {
			t.Errorf("%s is at its final name with mode %v, mtime %v; want %v, %v", e.path, got.Mode(), got.ModTime(), e.mode, e.mtime)
		}
	}

	// The scenario: files were finished before the interrupt (a worker
	// starts a file only once its previous one is done), others were cut
	// short, and their temporary files removed.
	rig.mu.Lock()
	defer rig.mu.Unlock()
	if least := trigger - workers; complete < least || complete >= files {
		t.Errorf("%d of %d files reached their names; want at least %d, and not all", complete, files, least)
	}
	if rig.removed == 0 {
		t.Errorf("no temporary file was removed: no file was cut short by the interrupt (%d created)", rig.created)
	}
}

// cancelRig is the filesystem, as the workers of one copy see it, that
// cancels the copy from inside the write of its trigger-th temporary file.
type cancelRig struct {
	mem     afero.Fs
	cancel  context.CancelFunc
	trigger int
	fired   chan struct{} // closed when the cancel is made

	mu      sync.Mutex
	created int // temporary files created in DST
	removed int // temporary files removed from DST
}

// spawner starts in-process workers, each with its own view of the
// filesystem, which knows when its worker has been told to stop.
func (r *cancelRig) spawner() copier.Spawner {
	return func(id int) (copier.WorkerProcess, error) {
		v := &cancelView{cancelRig: r, stopped: make(chan struct{})}
		p, err := copier.InProcess(v)(id)
		if err != nil {
			return nil, err
		}
		return &stoppableWorker{WorkerProcess: p, stopped: v.stopped}, nil
	}
}

// stoppableWorker closes stopped once the coordinator has told its worker
// to stop: after the worker's context is cancelled, so that a write let
// go then is followed by the worker's own check for the interrupt.
type stoppableWorker struct {
	copier.WorkerProcess
	once    sync.Once
	stopped chan struct{}
}

func (w *stoppableWorker) Terminate() error {
	err := w.WorkerProcess.Terminate()
	w.once.Do(func() { close(w.stopped) })
	return err
}

func (w *stoppableWorker) Kill() error {
	err := w.WorkerProcess.Kill()
	w.once.Do(func() { close(w.stopped) })
	return err
}

type cancelView struct {
	*cancelRig
	stopped chan struct{}
}

func isDstTemp(name string) bool {
	return strings.HasPrefix(name, "/dst/") && strings.HasPrefix(path.Base(name), copier.TempPrefix)
}

func (v *cancelView) Create(name string) (afero.File, error) {
	return v.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (v *cancelView) OpenFile(name string, flag int, perm fs.FileMode) (afero.File, error) {
	f, err := v.cancelRig.mem.OpenFile(name, flag, perm)
	if err != nil || flag&os.O_CREATE == 0 || !isDstTemp(name) {
		return f, err
	}
	v.mu.Lock()
	v.created++
	n := v.created
	v.mu.Unlock()
	return &cancelFile{File: f, view: v, trigger: n == v.trigger}, nil
}

func (v *cancelView) Remove(name string) error {
	err := v.cancelRig.mem.Remove(name)
	if err == nil && isDstTemp(name) {
		v.mu.Lock()
		v.removed++
		v.mu.Unlock()
	}
	return err
}

// The rest of afero.Fs, on the shared filesystem.
func (v *cancelView) Mkdir(name string, perm fs.FileMode) error    { return v.mem.Mkdir(name, perm) }
func (v *cancelView) MkdirAll(name string, perm fs.FileMode) error { return v.mem.MkdirAll(name, perm) }
func (v *cancelView) Open(name string) (afero.File, error)         { return v.mem.Open(name) }
func (v *cancelView) RemoveAll(name string) error                  { return v.mem.RemoveAll(name) }
func (v *cancelView) Rename(o, n string) error                     { return v.mem.Rename(o, n) }
func (v *cancelView) Stat(name string) (fs.FileInfo, error)        { return v.mem.Stat(name) }
func (v *cancelView) Name() string                                 { return "cancelView" }
func (v *cancelView) Chmod(name string, mode fs.FileMode) error    { return v.mem.Chmod(name, mode) }
func (v *cancelView) Chown(name string, uid, gid int) error        { return v.mem.Chown(name, uid, gid) }
func (v *cancelView) Chtimes(name string, a, m time.Time) error    { return v.mem.Chtimes(name, a, m) }

type cancelFile struct {
	afero.File
	view    *cancelView
	trigger bool
	written int
}

func (f *cancelFile) Write(p []byte) (int, error) {
	if f.trigger && f.written >= 1<<20 {
		f.trigger = false
		close(f.view.fired)
		f.view.cancel()
	}
	select {
	case <-f.view.fired:
		<-f.view.stopped // hold the write until this worker is told to stop
	default:
	}
	n, err := f.File.Write(p)
	f.written += n
	return n, err
}
