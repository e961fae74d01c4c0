package copier

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// What the coordinator does with what workers send: each job's end,
// counted in the summary and told to the reporter and OnAction.

// handle acts on an event from a worker: its messages, then the end of
// its output, if it ended.
func (c *coordinator) handle(ev event) error {
	for _, m := range ev.msgs {
		c.handleMsg(ev.w, m)
	}
	if ev.err != nil {
		return c.workerEnded(ev.w, ev.err)
	}
	return nil
}

// handleMsg acts on one message from w. A message that breaks the protocol
// stops the worker (see misbehaved).
func (c *coordinator) handleMsg(w *workerState, msg any) {
	switch msg.(type) {
	case wire.Hello, wire.Fatal: // a worker that cannot start says why instead of hello
	default:
		if !w.greeted {
			c.misbehaved(w, fmt.Sprintf("%T before hello", msg))
			return
		}
	}
	switch m := msg.(type) {
	case wire.Hello:
		if w.greeted {
			c.misbehaved(w, "second hello")
			return
		}
		if m.Version != wire.Version {
			c.misbehaved(w, fmt.Sprintf("worker speaks protocol version %d, this pcopy speaks %d", m.Version, wire.Version))
			return
		}
		w.greeted, w.pid = true, int(m.Pid)
		c.startFailures = 0
	case wire.Progress:
		t := w.tasks[m.ID]
		if t == nil {
			c.misbehaved(w, fmt.Sprintf("progress for unknown job %d", m.ID))
			return
		}
		if w, ok := c.rep.(WorkingReporter); ok && t.done == 0 {
			w.Working(t.job.Rel) // a file long enough to report progress
		}
		c.rep.Bytes(m.Bytes - t.done)
		t.done = m.Bytes
	case wire.Result:
		t := w.tasks[m.ID]
		if t == nil {
			c.misbehaved(w, fmt.Sprintf("result for unknown job %d", m.ID))
			return
		}
		c.finishTask(w, t, m)
	case wire.Fatal:
		w.fatal = m.Err
	default:
		c.misbehaved(w, fmt.Sprintf("unexpected %T", m))
	}
}

// misbehaved stops a worker that broke the protocol; its work is requeued
// when its output ends, like any other worker death.
func (c *coordinator) misbehaved(w *workerState, what string) {
	if w.fatal == "" {
		w.fatal = "protocol error: " + what
	}
	w.broken = true
	w.proc.Kill()
}

func (c *coordinator) finishTask(w *workerState, t *task, r wire.Result) {
	w.untrack(t)
	c.out--
	if w.place != nil {
		c.actHost = w.place.Name
		defer func() { c.actHost = "" }()
		if r.Err != "" {
			w.place.Failed++
		} else {
			w.place.Done++
			w.place.Bytes += r.Bytes
		}
	}
	if r.Err != "" {
		if r.Changed && c.relist(t) {
			return
		}
		err := workerError(r)
		if kind := fullKindOf(err); kind != notFull {
			c.notCopied(t, c.markFull(t.dir, kind), err)
			return
		}
		c.complete(t, 0, err)
		return
	}
	if r.Warn != "" && !r.Omitted {
		c.warnOnce(t.job.Rel, r.Warn)
	}
	if r.Omitted {
		c.warn(fmt.Sprintf("%s: skipped: %s", DisplayPath(t.job.Rel), r.Warn))
		c.act(Skipped, t.job.Rel, nil)
		c.settle(t, 0)
		c.rep.FileDone(t.job.Rel, nil)
		c.taskDone(t)
		return
	}
	if r.Unchanged {
		if t.group != nil && t.job.Kind == wire.KindFile {
			c.linkCopied(t.group, true)
		}
		c.settle(t, 0)
		c.sum.Unchanged++
		c.act(Unchanged, t.job.Rel, nil)
		c.rep.FileDone(t.job.Rel, nil)
		c.taskDone(t)
		return
	}
	if r.Reused {
		c.settle(t, 0)
		c.sum.Reused++
		c.act(Reused, t.job.Rel, nil)
		if t.group != nil {
			t.group.written = true
			c.linkCopied(t.group, true)
		}
		c.rep.FileDone(t.job.Rel, nil)
		c.taskDone(t)
		return
	}
	c.rep.Bytes(r.Bytes - t.done)
	t.done = r.Bytes
	c.complete(t, r.Bytes, nil)
}

// relist looks again at the source of t, which changed or went away while
// a worker copied it. The first time, a file that is still there is queued
// once more as it is now, and relist says so. Otherwise the source is
// counted as vanished or changed, and t is reported as the worker said.
func (c *coordinator) relist(t *task) bool {
	if t.split != nil {
		// A part: the whole file is looked at again once all its parts
		// are in (see completePart and relistSplit).
		t.split.changed = true
		return false
	}
	info, err := c.srcInfo(fsutil.Join(c.plan.srcRoot, t.job.Rel))
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		c.sum.Vanished++
		return false
	case err != nil || !info.Mode().IsRegular() || t.relisted:
		c.sum.Changed++
		return false
	}
	t.relisted = true
	c.rep.Bytes(-t.done)
	t.done = 0
	t.job = listedJob(t.job.ID, wire.KindFile, t.job.Rel, info, t.job.Fresh)
	c.retry = append(c.retry, t)
	return true
}

// relistSplit is relist for a file copied in parts, once all its parts
// are in and it failed with err. If its source changed or went away
// meanwhile (a part said so, or the source now differs from its listing,
// which explains a failed part better than the part's error does, as for
// a whole file), it is handled as a whole file that changed: the first
// time, a file that is still there has its temporary file removed and its
// bytes taken back, and is queued once more as it is now, in parts again
// or whole, as the walk would queue it; relistSplit says so. Otherwise
// the source is counted as vanished or changed. It returns the error to
// report for s, if it is not queued again. One that did not fit stays
// counted as such.
func (c *coordinator) relistSplit(s *split, err error) (bool, error) {
	var full *fullError
	if errors.As(err, &full) {
		return false, err
	}
	var changed *worker.ChangedError
	if !errors.As(err, &changed) {
		if now := s.SourceNow(); errors.As(now, &changed) {
			err = now // the message a whole file's copy gives
		}
	}
	if changed == nil && !s.changed {
		return false, err
	}
	info, serr := c.srcInfo(s.Src)
	switch {
	case errors.Is(serr, fs.ErrNotExist) || errors.Is(serr, syscall.ENOTDIR):
		c.sum.Vanished++
		return false, err
	case serr != nil || !info.Mode().IsRegular() || s.relisted:
		c.sum.Changed++
		return false, err
	}
	s.Remove()
	c.rep.Bytes(-s.bytes)
	if c.fullFsOf(s.dir) == nil {
		if again := c.splitFile(s.dir, s.rel, info, s.group); again != nil {
			again.relisted = true
			return true, nil
		}
	}
	t := c.newTask(s.dir, s.rel, wire.KindFile, info)
	t.group, t.relisted = s.group, true
	c.retry = append(c.retry, t)
	return true, nil
}

// complete records a task's end: a file or symlink copied (err nil) or
// failed, or a part of a split file.
func (c *coordinator) complete(t *task, n int64, err error) {
	if t.split != nil {
		c.completePart(t, n, err)
		return
	}
	if t.group != nil && t.job.Kind == wire.KindFile {
		t.group.written = err == nil
		c.linkCopied(t.group, err == nil)
	}
	if err != nil {
		c.settle(t, 0) // a failed copy leaves nothing behind
		c.fail(t.job.Rel, err)
	} else {
		c.settle(t, n)
		c.sum.Bytes += n
		action := Copied
		switch t.job.Kind {
		case wire.KindSymlink:
			c.sum.Symlinks++
		case wire.KindHardlink:
			c.sum.Hardlinks++
			action = Linked
		case wire.KindSpecial:
			c.sum.Specials++
		default:
			c.sum.Files++
		}
		c.act(action, t.job.Rel, nil)
	}
	c.rep.FileDone(t.job.Rel, err)
	c.taskDone(t)
}

// completePart records a part's end; after the last part of a file the
// file is finished (or, if a part failed, its temporary file removed; if
// its source changed meanwhile, it is handled as a whole file that
// changed: see relistSplit).
func (c *coordinator) completePart(t *task, n int64, err error) {
	s := t.split
	s.remaining--
	if err != nil {
		c.rep.Bytes(-t.done)
		if s.err == nil {
			s.err = err
			c.dropParts(s) // the file is not finished from them now
		}
	} else {
		s.bytes += n
	}
	if s.remaining > 0 {
		return
	}
	delete(c.splits, s)
	if err = s.err; err == nil {
		var warn string
		warn, err = s.Finish(c.set.Owner, &c.xbuf)
		if warn != "" {
			c.warnOnce(s.rel, warn)
		}
	}
	if err != nil {
		var again bool
		if again, err = c.relistSplit(s, err); again {
			if s.dir != nil {
				s.dir.pending-- // what was queued in its place holds the directory
			}
			return
		}
	}
	if s.group != nil {
		c.linkCopied(s.group, err == nil)
	}
	var full *fullError
	switch {
	case errors.As(err, &full):
		s.Remove()
		c.rep.Bytes(-s.bytes)
		c.tally(full, s.rel, s.Listed.Size, s.group) // neither settled nor done: see notCopied
	case err != nil:
		s.Remove()
		c.rep.Bytes(-s.bytes)
		c.rep.Settled(s.Listed.Size)
		c.fail(s.rel, err)
		c.rep.FileDone(s.rel, err)
	default:
		c.sum.Files++
		c.sum.Bytes += s.Listed.Size
		c.act(Copied, s.rel, nil)
		c.rep.FileDone(s.rel, nil)
	}
	if s.dir != nil {
		s.dir.pending--
		c.maybeFinishDir(s.dir)
	}
}

// settle tells the reporter that t is finished having copied n bytes
// (those were reported as they came): what the worker reported beyond n
// is taken back, and what of its listed size it did not copy (it was
// unchanged, linked, reused or failed) is done all the same.
func (c *coordinator) settle(t *task, n int64) {
	if t.done != n {
		c.rep.Bytes(n - t.done)
		t.done = n
	}
	// Only regular files' sizes are counted (see countTotals).
	if size := t.job.Size; (t.job.Kind == wire.KindFile || t.job.Kind == wire.KindHardlink) && size > n {
		c.rep.Settled(size - n)
	}
}

func (c *coordinator) fail(rel string, err error) {
	c.sum.Errors = append(c.sum.Errors, &FileError{Path: rel, Err: err})
	c.act(Failed, rel, err)
}

// act tells Options.OnAction, if set, what was done with rel.
func (c *coordinator) act(a Action, rel string, err error) {
	if c.onAction != nil {
		c.onAction(a, rel, c.actHost, err)
	}
}

// warnOnce shows a warning about rel that is about the whole copy (DST
// does not store extended attributes, say) only the first time.
func (c *coordinator) warnOnce(rel, msg string) {
	if !c.warned[msg] {
		c.warned[msg] = true
		c.warn(fmt.Sprintf("%s: %s (said once)", DisplayPath(rel), msg))
	}
}

func (c *coordinator) warn(msg string) {
	c.sum.Warnings = append(c.sum.Warnings, msg)
	c.rep.Warn(msg)
}

// workerError is the error a worker reported in r, with the system error
// under it, if any, so that errors.Is(err, fs.ErrPermission) or
// errors.Is(err, syscall.ENOSPC) hold of it as of the worker's own.
func workerError(r wire.Result) error {
	return &remoteError{msg: r.Err, errno: syscall.Errno(r.Errno)}
}

type remoteError struct {
	msg   string
	errno syscall.Errno
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Unwrap() error {
	if e.errno == 0 {
		return nil
	}
	return e.errno
}
