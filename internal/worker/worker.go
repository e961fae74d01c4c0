// Package worker is the worker side of pcopy's protocol: the loop that
// answers the coordinator's hello, copies each batch of jobs it receives
// and reports a result per job, and the portable way to make each entry,
// through afero. A platform's fast path on the operating system's
// filesystem (internal/fastcopy) is a FileCopier, chosen once per worker.
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pcopy/pcopy/internal/bwlimit"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/osfs"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
)

// flushEvery bounds how long finished results and progress wait in the
// worker's buffer before they are sent, so the coordinator's view (and the
// progress bar) stays current while a batch holds a slow file.
const flushEvery = 100 * time.Millisecond

// Serve runs the worker side of the protocol on r and w against fsys: it
// answers the coordinator's hello, then copies each batch of jobs it
// receives and reports a result per job, in order. It returns nil when r
// ends cleanly (the coordinator closed the queue), ctx.Err() when ctx is
// cancelled (the job in hand is abandoned and its temporary file removed),
// or the protocol error that stopped it, which it also reports to the
// coordinator as a fatal message. Where fsys is the operating system's
// filesystem, fast (if not nil) is asked for the platform's fast path.
func Serve(ctx context.Context, fsys afero.Fs, r io.Reader, w io.Writer, fast NewFast) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the reader goroutine, whatever ends the worker
	fsys = osfs.Of(fsys)
	c := wire.NewConn(r, w)
	h, err := c.ReadHello()
	if err != nil {
		return sendFatal(c, err)
	}
	if h.SrcRoot == "" || h.DstRoot == "" {
		return sendFatal(c, fmt.Errorf("%w: hello without source or destination root", wire.ErrProtocol))
	}
	if osfs.Is(fsys) {
		defer beneath.HoldRoots(filepath.Clean(h.SrcRoot), filepath.Clean(h.DstRoot), h.Settings.LinkDest, h.Settings.Deref)()
		if h.Settings.BackupDir != "" {
			defer beneath.Hold(filepath.Clean(h.Settings.BackupDir), false)()
		}
	}
	if err := c.WriteHello(wire.Hello{Version: wire.Version, Pid: uint64(os.Getpid())}); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}

	// A reader goroutine lets cancellation interrupt a worker that is
	// waiting for work; it ends when r does.
	type message struct {
		m   any
		err error
	}
	msgs := make(chan message)
	go func() {
		for {
			m, err := c.Read()
			select {
			case msgs <- message{m, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	wk := &worker{fs: fsys, conn: c, src: filepath.Clean(h.SrcRoot), dst: filepath.Clean(h.DstRoot), set: h.Settings, lastFlush: time.Now(),
		tempPrefix: tempname.ForWorker(os.Getpid(), int(h.Worker))}
	wk.files = newFileCopier(fsys, wk.tempPrefix, h.Settings, fast)
	defer wk.files.Close()
	for {
		var msg message
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg = <-msgs:
		}
		if msg.err == io.EOF {
			return nil
		}
		if msg.err != nil {
			return sendFatal(c, msg.err)
		}
		b, ok := msg.m.(*wire.Batch)
		if !ok {
			return sendFatal(c, fmt.Errorf("%w: worker expected a batch, got %T", wire.ErrProtocol, msg.m))
		}
		for i := range b.Jobs {
			if err := wk.run(ctx, &b.Jobs[i]); err != nil {
				return err
			}
		}
		if err := c.Flush(); err != nil {
			return err
		}
		wk.lastFlush = time.Now()
	}
}

func sendFatal(c *wire.Conn, err error) error {
	c.WriteFatal(wire.Fatal{Err: err.Error()})
	c.Flush()
	return err
}

// TestHook, when set by a test, sees each job before the worker copies it.
var TestHook func(job *wire.Job)

type worker struct {
	fs         afero.Fs
	conn       *wire.Conn
	src, dst   string
	tempPrefix string
	set        wire.Settings
	reused     bool // the job in hand was linked from set.LinkDest
	lastFlush  time.Time
	files      FileCopier // how entries are made: chosen once, by newFileCopier
}

// FileCopier is how a worker makes each kind of entry: the platform's fast
// path on the operating system's filesystem (see NewFast), or the portable
// way through afero (aferoCopier).
type FileCopier interface {
	CopyFile(ctx context.Context, job *wire.Job, src, dst string, progress func(int64) error) (int64, error)
	CopyPart(ctx context.Context, job *wire.Job, src, dst string, progress func(int64) error) (int64, error)
	// reusable returns the file of Settings.LinkDest that job's file may
	// be linked to instead of copied, if there is one.
	Reusable(job *wire.Job) (string, bool)
	// link gives the file already copied to target the name dst too.
	Link(ctx context.Context, job *wire.Job, target, src, dst string, progress func(int64) error) (int64, error)
	// linked says whether dst is already a hard link to target.
	Linked(target, dst string) bool
	// makeSpecial makes a FIFO, socket or device node like src at dst
	// (in a dry run, only says whether it would).
	MakeSpecial(job *wire.Job, src, dst string) error
	// symlinkMeta gives the new symlink tmp, a copy of the symlink src,
	// what it keeps beyond its target: owner, extended attributes, times.
	SymlinkMeta(job *wire.Job, src, tmp string) error
	// syncXattrs gives dst, a file a re-run leaves, the extended
	// attributes of src (followed with follow) where they differ.
	SyncXattrs(src, dst string, follow bool)
	// LstatDst is lstat of dst, an entry of DST; the fast path reaches
	// it through the descriptor of its directory it keeps from one job
	// to the next there, not by its path.
	LstatDst(dst string) (os.FileInfo, error)
	// ChmodDst gives dst, which LstatDst described as info, the mode
	// perm, if it is that file still (ErrNotSame otherwise): never a file
	// put at its name since it was looked at.
	ChmodDst(dst string, info os.FileInfo, perm fs.FileMode) error
	TakeWarn() string // what the last job could not keep, if anything
	Close()
}

// NewFast returns a platform's fast path for a worker whose temporary files
// start with tempPrefix, copying as set says; nil where there is none.
type NewFast func(tempPrefix string, set wire.Settings) FileCopier

// newFileCopier chooses, once per worker, how its entries are made: the
// platform's fast path where fsys is the operating system's filesystem and
// the platform has one, the portable way otherwise.
func newFileCopier(fsys afero.Fs, tempPrefix string, set wire.Settings, fast NewFast) FileCopier {
	if fast != nil && osfs.Is(fsys) {
		if f := fast(tempPrefix, set); f != nil {
			return f
		}
	}
	return &aferoCopier{fs: fsys, opts: fileOpts{tempPrefix: tempPrefix, set: set, limit: bwlimit.For(set.BwLimit, set.BwWord)}}
}

// run copies one job and writes its result. Its error is for the worker as
// a whole (cancelled, or the coordinator's pipe is gone); a job that fails
// is reported in its result.
func (w *worker) run(ctx context.Context, job *wire.Job) error {
	n, err := w.copy(ctx, job)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, tempname.ErrFenced) {
		return err // the job in hand is another worker's now: no result
	}
	res := wire.Result{ID: job.ID, Bytes: n, Warn: w.files.TakeWarn(), Reused: w.reused && err == nil}
	w.reused = false
	var omitted *omittedError
	switch {
	case err == ErrUpToDate:
		res.Unchanged, err = true, nil
	case errors.As(err, &omitted):
		res.Omitted, res.Warn, err = true, omitted.why, nil
	}
	if err != nil {
		res.Err = err.Error()
		var errno syscall.Errno
		if errors.As(err, &errno) {
			res.Errno = uint64(errno)
		}
		var changed *ChangedError
		res.Changed = errors.As(err, &changed)
	}
	if err := w.conn.WriteResult(res); err != nil {
		return err
	}
	return w.maybeFlush()
}

func (w *worker) maybeFlush() error {
	if time.Since(w.lastFlush) < flushEvery {
		return nil
	}
	w.lastFlush = time.Now()
	return w.conn.Flush()
}

// progressFunc reports the bytes done so far in job to the coordinator.
func (w *worker) progressFunc(job *wire.Job) func(int64) error {
	return func(done int64) error {
		if err := w.conn.WriteProgress(wire.Progress{ID: job.ID, Bytes: done}); err != nil {
			return err
		}
		return w.maybeFlush()
	}
}

func (w *worker) copy(ctx context.Context, job *wire.Job) (int64, error) {
	if err := checkRel(job.Rel); err != nil {
		return 0, err
	}
	if TestHook != nil {
		TestHook(job)
	}
	if err := tempname.Fenced(); err != nil {
		return 0, err
	}
	src, dst := fsutil.Join(w.src, job.Rel), fsutil.Join(w.dst, job.Rel)
	if w.set.Keep != wire.KeepNone && !job.Fresh && job.Kind != wire.KindPart && w.kept(job, dst) {
		return 0, ErrUpToDate
	}
	switch job.Kind {
	case wire.KindFile:
		return w.copyFile(ctx, job, src, dst)
	case wire.KindPart:
		return w.files.CopyPart(ctx, job, src, dst, w.progressFunc(job))
	case wire.KindHardlink:
		return w.link(ctx, job, src, dst)
	case wire.KindSpecial:
		if err := w.files.MakeSpecial(job, src, dst); err != nil || !w.set.DryRun {
			return 0, err
		}
		return w.wouldWrite(job, src, dst)
	case wire.KindSymlink:
		return 0, w.symlink(job, src, dst)
	}
	return 0, fmt.Errorf("%w: unknown job kind %d", wire.ErrProtocol, job.Kind)
}

// copyFile copies the regular file of job, unless DST has it already: from
// the earlier copy (--link-dest) where it is there unchanged.
func (w *worker) copyFile(ctx context.Context, job *wire.Job, src, dst string) (int64, error) {
	if !job.Fresh && w.set.Update != wire.UpdateAll {
		if ok, err := w.upToDate(job, src, dst); ok || err != nil {
			if ok {
				err = ErrUpToDate
			}
			return 0, err
		}
	}
	progress := w.progressFunc(job)
	if w.set.LinkDest != "" {
		if prev, ok := w.files.Reusable(job); ok {
			if w.set.DryRun {
				err := w.inTheWay(dst)
				w.reused = err == nil
				return 0, err
			}
			done, err := w.replacing(job, dst)
			if err != nil {
				return 0, err
			}
			n, err := w.files.Link(ctx, job, prev, src, dst, progress)
			done(err)
			w.reused = n == 0 // not copied instead (a link limit reached)
			return n, err
		}
	}
	if w.set.DryRun {
		return w.wouldWrite(job, src, dst)
	}
	done, err := w.replacing(job, dst)
	if err != nil {
		return 0, err
	}
	n, err := w.files.CopyFile(ctx, job, src, dst, progress)
	done(err)
	return n, err
}

// link gives the file already copied to job.Link the name dst too.
func (w *worker) link(ctx context.Context, job *wire.Job, src, dst string) (int64, error) {
	if err := checkRel(job.Link); err != nil {
		return 0, err
	}
	target := fsutil.Join(w.dst, job.Link)
	if w.set.DryRun {
		if !job.Fresh && w.files.Linked(target, dst) {
			return 0, ErrUpToDate
		}
		return w.wouldWrite(job, src, dst)
	}
	done := func(error) {}
	if !w.files.Linked(target, dst) {
		var err error
		if done, err = w.replacing(job, dst); err != nil {
			return 0, err
		}
	}
	n, err := w.files.Link(ctx, job, target, src, dst, w.progressFunc(job))
	done(err)
	return n, err
}

// symlink makes the symlink of job again at dst, unless it is there.
func (w *worker) symlink(job *wire.Job, src, dst string) error {
	if !job.Fresh && w.set.Update != wire.UpdateAll && w.symlinkUpToDate(job, src, dst) {
		return ErrUpToDate
	}
	if w.set.DryRun {
		_, err := w.wouldWrite(job, src, dst)
		return err
	}
	done, err := w.replacing(job, dst)
	if err != nil {
		return err
	}
	err = copySymlink(w.fs, job, src, dst, w.tempPrefix, func(tmp string) error {
		return w.files.SymlinkMeta(job, src, tmp)
	})
	done(err)
	return err
}

// replacing moves what DST has at dst (not a directory, which no job
// replaces) into the backup directory (--backup-dir) before the job
// writes there; done puts it back if the job then failed, so that a
// failed copy replaces nothing.
func (w *worker) replacing(job *wire.Job, dst string) (done func(error), err error) {
	done = func(error) {}
	if w.set.BackupDir == "" || job.Fresh || w.set.DryRun {
		return done, nil
	}
	if info, err := fsutil.Lstat(w.fs, dst); err != nil || info.IsDir() {
		return done, nil
	}
	restore, err := fsutil.Backup(w.fs, w.dst, w.set.BackupDir, job.Rel)
	if err != nil {
		return done, err
	}
	return func(err error) {
		if err != nil && !errors.Is(err, ErrUpToDate) {
			restore()
		}
	}, nil
}

// wouldWrite is what a job of a dry run does instead of its first write:
// it reads what the copy would read first, and says what the write would
// meet at dst. A file is said copied with its listed size.
func (w *worker) wouldWrite(job *wire.Job, src, dst string) (int64, error) {
	if job.Kind == wire.KindFile {
		f, err := openSource(w.fs, src, w.set.Deref)
		if err != nil {
			return 0, err
		}
		f.Close()
	}
	if err := w.inTheWay(dst); err != nil {
		return 0, err
	}
	if job.Kind == wire.KindFile {
		return job.Size, nil
	}
	return 0, nil
}

// inTheWay says why an entry could not be written at dst: a directory
// there is never replaced.
func (w *worker) inTheWay(dst string) error {
	if info, err := fsutil.Lstat(w.fs, dst); err == nil && info.IsDir() {
		return errors.New("destination exists and is a directory; not replaced")
	}
	return nil
}
