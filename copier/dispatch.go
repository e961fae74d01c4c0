package copier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/filter"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/walk"
	"github.com/pcopy/pcopy/internal/wire"
)

// Flow control. A worker holds at most maxQueued batches (one in hand, one
// waiting), so the walk never runs more than workers*maxQueued*maxBatchJobs
// entries ahead of the copying and the coordinator's memory stays flat
// however large the tree.
const (
	maxBatchJobs  = 128
	maxBatchBytes = 8 << 20 // a file this large travels alone
	maxQueued     = 2

	// maxAttempts is how many workers may die while copying one job
	// before the job is reported as failed instead of retried.
	maxAttempts = 3
	// maxStartFailures is how many workers in a row may die before saying
	// hello before pcopy gives up: they cannot start at all.
	maxStartFailures = 3
	// termGrace is how long workers get to clean up after SIGTERM before
	// they are killed.
	termGrace = 2 * time.Second
)

// task is a job as the coordinator tracks it.
type task struct {
	job      wire.Job
	dir      *dirState // containing directory; nil for a single-file copy
	batch    *batchState
	done     int64      // bytes the holding worker reported so far
	attempts int        // workers that died while it was the only job in hand
	isolate  bool       // send alone, so a worker death can be blamed on it
	relisted bool       // its source changed while copied and was looked at again
	split    *split     // for a part: the file it is a range of
	group    *linkGroup // a file with hard links: the group of its names
}

// alone says whether t must be the only job of its batch.
func (t *task) alone() bool { return t.isolate || t.split != nil }

// split is a large file copied in parts by several workers into one
// temporary file, which the coordinator finishes once all parts are in.
type split struct {
	rel       string
	dir       *dirState
	src, dst  string // full paths
	tmp       string // full path of the temporary file
	dev, ino  uint64 // the source's identity when it was listed
	ctime     int64  // and its change time
	size      int64
	mode      uint32 // os.FileMode bits
	uid, gid  uint32
	group     *linkGroup // its hard links, if it has some
	follow    bool       // src is reached through a symlink (--dereference)
	mtime     int64
	atime     int64
	remaining int   // parts not yet done
	bytes     int64 // bytes of the parts done
	err       error // the first part's failure
}

type batchState struct {
	tasks     []*task
	remaining int
	size      int64 // bytes of its files
}

type workerState struct {
	id      int
	pid     int
	proc    WorkerProcess
	conn    *wire.Conn
	batches []*batchState // outstanding, oldest first; a worker works in order
	queued  int64         // bytes in batches
	tasks   map[uint64]*task
	greeted bool   // its hello arrived
	fatal   string // the reason it gave for stopping, if any
	broken  bool   // a write to it failed: dispatch nothing more
	closing bool   // its queue is closed: it should now exit cleanly
	ended   bool   // its output ended and it was waited for
}

func (w *workerState) String() string {
	if w.pid == 0 {
		return fmt.Sprintf("worker %d", w.id)
	}
	return fmt.Sprintf("worker %d (pid %d)", w.id, w.pid)
}

func (w *workerState) usable() bool { return !w.broken && !w.closing && !w.ended }

// event is what a worker sent: messages, in order, then possibly the end
// of its output (err).
type event struct {
	w    *workerState
	msgs []any
	err  error
}

// maxEventMsgs bounds the messages one event carries.
const maxEventMsgs = 256

type coordinator struct {
	fs    afero.Fs
	plan  *plan
	spawn Spawner
	rep   Reporter
	sum   Summary

	onAction func(a Action, rel string, err error)

	// walk
	entries  <-chan []walk.Entry // from the lister
	chunk    []walk.Entry        // received, not yet taken
	dirs     []*dirState         // directories entered and not ended, innermost last
	skip     int                 // > 0: in a directory that could not be created
	walkDone bool
	nextID   uint64

	retry         []*task // to dispatch before anything else
	parts         []*task // parts of split files, before walking further
	splits        map[*split]bool
	workerCount   int
	splitSize     int64
	set           wire.Settings // how each file is copied; the workers get them in their hello
	isOS          bool          // fs is the operating system's
	filter        *filter.Filter
	euid, egid    uint32
	links         map[fileID]*linkGroup
	warned        map[string]bool // warnings workers sent that were shown
	xbuf          xattrBuf
	staleRemoved  int             // temporary files of earlier, killed runs removed
	rootCreated   bool            // DST's root was made by this copy (before the walk)
	dirFds        int             // directories each lister may keep open (see walk.DirFdBudget)
	protect       map[fileID]bool // SRC's root and the directories above it: --delete never enters or removes them
	maxDelete     int             // Options.MaxDelete
	deleteHeld    int             // entries --delete left because of maxDelete
	out           int             // tasks held by workers
	workers       []*workerState
	lastWorkerID  int
	startFailures int
	stopping      bool
	events        chan event
	quit          chan struct{}

	// DST's filesystems found full, by device: nothing new goes to them.
	full map[uint64]*FullFs
}

// Copy copies opts.Src to opts.Dst (see plan for the rule) and returns what
// it did. The error is a *RefusedError when the request was refused before
// anything was written, wraps ErrIncomplete when some entries failed (listed
// in Summary.Errors) or did not fit in DST (counted in Summary.Full) and the
// rest were copied, and wraps ctx.Err() when the copy was interrupted.
func Copy(ctx context.Context, opts Options) (Summary, error) {
	start := time.Now()
	fsys := opts.Fs
	if fsys == nil {
		fsys = afero.NewOsFs()
	}
	fsys = osFsOf(fsys)
	filt, err := filter.New(opts.Exclude, opts.Include)
	if err != nil {
		return Summary{}, &RefusedError{Msg: err.Error(), Hint: filter.Hint}
	}
	p, err := makePlan(fsys, opts.Src, opts.Dst)
	if err != nil {
		return Summary{}, err
	}
	if opts.Delete && p.dir {
		// Mirroring DST would delete SRC itself, or what holds it.
		if dinfo, err := fsys.Stat(p.dstRoot); err == nil && isInside(fsys, p.dstRoot, p.srcRoot, dinfo) {
			return Summary{}, refused("--delete removes from DST what SRC lacks: choose a DST that does not hold SRC",
				"--delete would delete the source: source %s is inside destination %s", DisplayPath(opts.Src), DisplayPath(opts.Dst))
		}
	}
	linkDest, linkWarning, err := checkLinkDest(fsys, p, opts.LinkDest)
	if err != nil {
		return Summary{}, err
	}
	if isOSFs(fsys) {
		defer holdRoots(p.srcRoot, p.dstRoot, linkDest, opts.Dereference)()
	}
	if opts.Delete && p.dir && !opts.DeleteUnrelated {
		if err := checkRelated(fsys, p, filt); err != nil {
			return Summary{}, err
		}
	}
	var protect map[fileID]bool
	if opts.Delete && p.dir && isOSFs(fsys) {
		if protect, err = protectSrc(fsys, p, opts); err != nil {
			return Summary{}, err
		}
	}
	c := &coordinator{
		fs:          fsys,
		plan:        p,
		spawn:       opts.Spawn,
		rep:         opts.Reporter,
		onAction:    opts.OnAction,
		events:      make(chan event, 64),
		quit:        make(chan struct{}),
		splits:      map[*split]bool{},
		workerCount: max(opts.Workers, 1),
		splitSize:   opts.SplitSize,
		set:         settingsOf(opts, linkDest),
		isOS:        isOSFs(fsys),
		filter:      filt,
		euid:        uint32(os.Geteuid()),
		egid:        uint32(os.Getegid()),
		warned:      make(map[string]bool),
		protect:     protect,
		maxDelete:   opts.MaxDelete,
	}
	if c.spawn == nil {
		c.spawn = InProcess(fsys)
	}
	defer c.endWalk()
	listers := 1
	if opts.CountTotals && opts.Reporter != nil {
		listers = 2 // the counting walk runs beside the copy's
	}
	c.dirFds = walk.DirFdBudget(walk.MaxDirFds, c.workerCount, listers)
	if c.rep == nil {
		c.rep = nopReporter{}
	}
	if linkWarning != "" {
		c.warn(linkWarning)
	}
	if opts.CountTotals && opts.Reporter != nil {
		countCtx, stopCount := context.WithCancel(ctx)
		counted := make(chan struct{})
		go func() {
			defer close(counted)
			countTotals(countCtx, fsys, p, opts.Dereference, filt, c.dirFds, opts.Reporter)
		}()
		// Ended before SRC stops being a held root: a walk still going
		// would then read by path.
		defer func() { stopCount(); <-counted }()
	}
	// A dry run is the same run, every write skipped where it would
	// happen (makeDstRoot, makeDir, finishDir, the workers' copies,
	// deleteExtra), so that it decides what to do with each entry as the
	// real run would.
	if err = c.makeDstRoot(); err != nil {
		return Summary{}, err
	}
	err = c.run(ctx, max(opts.Workers, 1))
	c.endFull(err == nil)
	if opts.Delete && p.dir && err == nil {
		if n := int64(len(c.sum.Errors)) + c.sum.NotCopied(); n > 0 {
			c.warn(fmt.Sprintf("--delete: nothing deleted, as %d entries could not be copied", n))
		} else {
			c.deleteExtra(ctx, "", c.set.DryRun)
			c.deleteDone()
			if ctx.Err() != nil {
				err = fmt.Errorf("interrupted: %w", context.Cause(ctx))
			}
		}
	}
	if err == nil && c.set.Fsync && !c.set.DryRun {
		// DST's own name (or the single file's), in the directory holding it.
		if serr := syncDir(fsys, filepath.Dir(p.dstRoot)); serr != nil {
			c.fail("", fmt.Errorf("flush the directory holding the destination: %w", fsutil.UnwrapPath(serr)))
		}
	}
	if c.staleRemoved > 0 {
		c.warn(fmt.Sprintf("removed %d temporary files left by an earlier, interrupted copy", c.staleRemoved))
	}
	c.sum.Duration = time.Since(start)
	sort.SliceStable(c.sum.Errors, func(i, j int) bool { return c.sum.Errors[i].Path < c.sum.Errors[j].Path })
	switch {
	case err == nil && len(c.sum.Full) > 0:
		err = fmt.Errorf("%d failed, %d did not fit: %w", len(c.sum.Errors), c.sum.NotCopied(), ErrIncomplete)
	case err == nil && len(c.sum.Errors) > 0:
		err = fmt.Errorf("%d failed: %w", len(c.sum.Errors), ErrIncomplete)
	}
	return c.sum, err
}

func (c *coordinator) run(ctx context.Context, workers int) error {
	defer close(c.quit)
	for range workers {
		if err := c.startWorker(); err != nil {
			c.abort()
			return err
		}
	}
	if err := c.startWalk(); err != nil {
		c.abort()
		return err
	}
	for {
		if ctx.Err() != nil { // before the select, which picks at random among ready cases
			c.abort()
			return fmt.Errorf("interrupted: %w", context.Cause(ctx))
		}
		c.dispatch()
		if c.walkDone && len(c.retry) == 0 && len(c.parts) == 0 && c.out == 0 {
			break
		}
		// While the walk has more and a worker has room, take what is
		// already there, or wait for the lister too; otherwise wait for
		// a result or a signal.
		var wait <-chan time.Time
		var entries <-chan []walk.Entry
		if !c.walkDone && c.pickWorker() != nil {
			if len(c.chunk) > 0 {
				wait = closedTimeChan
			} else {
				entries = c.entries
			}
		}
		select {
		case ev := <-c.events:
			if err := c.handle(ev); err != nil {
				c.abort()
				return err
			}
		case <-ctx.Done():
			c.abort()
			return fmt.Errorf("interrupted: %w", context.Cause(ctx))
		case chunk, ok := <-entries:
			c.received(chunk, ok)
		case <-wait:
		}
	}
	return c.closeWorkers(ctx)
}

// closedTimeChan is always ready: a select case that never waits.
var closedTimeChan = func() <-chan time.Time {
	ch := make(chan time.Time)
	close(ch)
	return ch
}()

func (c *coordinator) startWorker() error {
	c.lastWorkerID++
	proc, err := c.spawn(c.lastWorkerID)
	if err != nil {
		return err
	}
	w := &workerState{id: c.lastWorkerID, proc: proc, tasks: make(map[uint64]*task),
		conn: wire.NewConn(proc.Stdout(), proc.Stdin())}
	c.workers = append(c.workers, w)
	go c.readLoop(w)
	err = w.conn.WriteHello(wire.Hello{Version: wire.Version, Worker: uint64(w.id),
		SrcRoot: c.plan.srcRoot, DstRoot: c.plan.dstRoot, Settings: c.set})
	if err == nil {
		err = w.conn.Flush()
	}
	if err != nil {
		w.broken = true // its reader reports the death
	}
	return nil
}

// readLoop forwards w's messages to the coordinator until its output ends.
// The messages already buffered travel together (a worker sends a batch's
// results at once): one wakeup of the coordinator each, not one per file.
func (c *coordinator) readLoop(w *workerState) {
	for {
		var msgs []any
		var err error
		for {
			var m any
			if m, err = w.conn.Read(); err != nil {
				break
			}
			msgs = append(msgs, m)
			if len(msgs) == maxEventMsgs || !w.conn.FrameReady() {
				break
			}
		}
		select {
		case c.events <- event{w: w, msgs: msgs, err: err}:
		case <-c.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// dispatch hands out batches while some worker has room and there is work.
func (c *coordinator) dispatch() {
	for {
		w := c.pickWorker()
		if w == nil {
			return
		}
		b := c.fillBatch()
		if b == nil {
			return
		}
		c.send(w, b)
	}
}

// pickWorker returns the usable worker with the fewest batches queued, if
// it has room for another.
func (c *coordinator) pickWorker() *workerState {
	var best *workerState
	for _, w := range c.workers {
		if w.usable() && w.hasRoom() && (best == nil || len(w.batches) < len(best.batches)) {
			best = w
		}
	}
	return best
}

// hasRoom says whether w may take another batch. Nothing is queued behind
// a large amount of data: small files would wait for it while other
// workers idle.
func (w *workerState) hasRoom() bool {
	return len(w.batches) == 0 || (len(w.batches) < maxQueued && w.queued < maxBatchBytes)
}

func (c *coordinator) fillBatch() *batchState {
	var b batchState
	var size int64
	for len(b.tasks) < maxBatchJobs && size < maxBatchBytes {
		t := c.next()
		if t == nil {
			break
		}
		if f := c.fullFsOf(t.dir); f != nil {
			// A retry, a part or a hard link released, for a
			// filesystem found full since it was queued.
			c.notCopied(t, f, nil)
			continue
		}
		if t.alone() && len(b.tasks) > 0 {
			// Isolated jobs and parts of split files travel alone: this
			// one goes first in the next batch.
			c.retry = append([]*task{t}, c.retry...)
			break
		}
		t.batch = &b
		b.tasks = append(b.tasks, t)
		size += t.job.Size
		if t.alone() {
			break
		}
	}
	if len(b.tasks) == 0 {
		return nil
	}
	b.remaining, b.size = len(b.tasks), size
	return &b
}

// next returns the next task to dispatch: a retry, a part of a split
// file, or what the walk finds next; nil when there is none for now.
func (c *coordinator) next() *task {
	if len(c.retry) > 0 {
		t := c.retry[0]
		c.retry = c.retry[1:]
		return t
	}
	if len(c.parts) == 0 && !c.walkDone {
		if t := c.nextTask(); t != nil {
			return t
		}
	}
	if len(c.parts) > 0 {
		t := c.parts[0]
		c.parts = c.parts[1:]
		return t
	}
	return nil
}

func (c *coordinator) send(w *workerState, b *batchState) {
	jobs := make([]wire.Job, len(b.tasks))
	for i, t := range b.tasks {
		jobs[i] = t.job
		w.tasks[t.job.ID] = t
	}
	w.batches = append(w.batches, b)
	w.queued += b.size
	c.out += len(b.tasks)
	if testHookSent != nil {
		testHookSent(c.out, w)
	}
	err := w.conn.WriteBatch(jobs)
	if err == nil {
		err = w.conn.Flush()
	}
	if err != nil {
		// The worker is gone; its reader reports the end, and its tasks,
		// these included, are requeued then.
		w.broken = true
	}
}

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
// file is finished (or, if a part failed, its temporary file removed).
func (c *coordinator) completePart(t *task, n int64, err error) {
	s := t.split
	s.remaining--
	if err != nil {
		c.rep.Bytes(-t.done)
		if s.err == nil {
			s.err = err
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
		warn, err = finishSplit(s, c.set.Owner, &c.xbuf)
		if warn != "" {
			c.warnOnce(s.rel, warn)
		}
	}
	if s.group != nil {
		c.linkCopied(s.group, err == nil)
	}
	var full *fullError
	switch {
	case errors.As(err, &full):
		c.fs.Remove(s.tmp)
		c.rep.Bytes(-s.bytes)
		c.tally(full, s.rel, s.size, s.group) // neither settled nor done: see notCopied
	case err != nil:
		c.fs.Remove(s.tmp)
		c.rep.Bytes(-s.bytes)
		c.rep.Settled(s.size)
		c.fail(s.rel, err)
		c.rep.FileDone(s.rel, err)
	default:
		c.sum.Files++
		c.sum.Bytes += s.size
		c.act(Copied, s.rel, nil)
		c.rep.FileDone(s.rel, nil)
	}
	if s.dir != nil {
		s.dir.pending--
		c.maybeFinishDir(s.dir)
	}
}

func (w *workerState) untrack(t *task) {
	delete(w.tasks, t.job.ID)
	t.batch.remaining--
	if t.batch.remaining == 0 {
		w.queued -= t.batch.size
		for i, b := range w.batches {
			if b == t.batch {
				w.batches = append(w.batches[:i], w.batches[i+1:]...)
				break
			}
		}
	}
}

// workerEnded handles the end of a worker's output: the expected end after
// its queue was closed, or a death, whose jobs go back in the queue.
func (c *coordinator) workerEnded(w *workerState, err error) error {
	if w.ended {
		return nil
	}
	expected := w.closing && len(w.tasks) == 0
	if !expected || err != io.EOF {
		w.proc.Kill() // make sure it is gone before it is waited for
	}
	waitErr := w.proc.Wait()
	w.ended = true
	if expected {
		return nil
	}
	c.removeTemps(w)
	if c.stopping {
		return nil
	}

	reason := w.fatal
	if reason == "" && waitErr != nil {
		reason = waitErr.Error()
	}
	if reason == "" && err != io.EOF {
		reason = err.Error()
	}
	if reason == "" {
		reason = "exited early"
	}
	if !w.greeted {
		c.startFailures++
		if c.startFailures >= maxStartFailures {
			return fmt.Errorf("workers cannot start: %s died: %s", w, reason)
		}
	}
	requeued := c.requeue(w, reason)
	c.warn(fmt.Sprintf("%s died (%s); %d jobs requeued; starting a replacement", w, reason, requeued))
	return c.startWorker()
}

// requeue takes back a dead worker's jobs. Workers go in order and send
// the results of a batch when it ends, so what killed the worker is among
// the unfinished jobs of its oldest batch. If that batch held one job, it is
// to blame: after maxAttempts such deaths it is failed, not retried.
// Otherwise the batch's jobs are retried one per batch, so that a job which
// kills again is found.
func (c *coordinator) requeue(w *workerState, reason string) int {
	var again []*task
	for i, b := range w.batches {
		for _, t := range b.tasks {
			if w.tasks[t.job.ID] != t {
				continue // already finished
			}
			c.rep.Bytes(-t.done)
			t.done = 0
			c.out--
			if i == 0 && len(b.tasks) == 1 {
				t.attempts++
				if t.attempts >= maxAttempts {
					c.complete(t, 0, fmt.Errorf("a worker died each of the %d times it copied this (last: %s)", t.attempts, reason))
					continue
				}
			}
			if i == 0 {
				t.isolate = true
			}
			again = append(again, t)
		}
	}
	w.batches, w.tasks, w.queued = nil, nil, 0
	c.retry = append(again, c.retry...)
	return len(again)
}

// removeTemps removes the temporary file a dead worker may have left. Its
// job in hand was among the unfinished jobs of its oldest batch, so only
// their destination directories are looked at.
func (c *coordinator) removeTemps(w *workerState) {
	if len(w.batches) == 0 {
		return
	}
	prefix := tempname.ForWorker(w.proc.Pid(), w.id)
	seen := map[string]bool{}
	for _, t := range w.batches[0].tasks {
		dir := filepath.Dir(fsutil.Join(c.plan.dstRoot, t.job.Rel))
		if w.tasks[t.job.ID] != t || seen[dir] {
			continue
		}
		seen[dir] = true
		names, _ := readNames(c.fs, dir)
		for _, name := range names {
			if strings.HasPrefix(name, prefix) {
				if err := c.fs.Remove(filepath.Join(dir, name)); err != nil {
					c.warn(fmt.Sprintf("cannot remove %s's temporary file: %v", w, err))
				}
			}
		}
	}
}

// closeWorkers closes every worker's queue and waits for them to exit.
func (c *coordinator) closeWorkers(ctx context.Context) error {
	for _, w := range c.workers {
		if !w.ended {
			w.closing = true
			w.proc.Stdin().Close()
		}
	}
	for c.live() > 0 {
		select {
		case ev := <-c.events:
			if err := c.handle(ev); err != nil {
				c.abort()
				return err
			}
		case <-ctx.Done():
			c.abort() // everything is copied; the workers were only exiting
			return nil
		}
	}
	return nil
}

func (c *coordinator) live() int {
	n := 0
	for _, w := range c.workers {
		if !w.ended {
			n++
		}
	}
	return n
}

// abort stops every worker: SIGTERM first, so each removes the temporary
// file of the job in hand, then SIGKILL for any still there after
// termGrace.
func (c *coordinator) abort() {
	c.stopping = true
	for _, w := range c.workers {
		if !w.ended {
			w.proc.Terminate()
		}
	}
	grace := time.NewTimer(termGrace)
	defer grace.Stop()
	for c.live() > 0 {
		select {
		case ev := <-c.events:
			if ev.err != nil {
				c.workerEnded(ev.w, ev.err)
			}
		case <-grace.C:
			for _, w := range c.workers {
				if !w.ended {
					w.proc.Kill()
				}
			}
		}
	}
	for s := range c.splits {
		c.fs.Remove(s.tmp) // the coordinator's own temporary files
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
		c.onAction(a, rel, err)
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

// protectSrc returns the identities of SRC's root and of every directory
// above it, found with ".." from SRC itself (which sees through bind mounts
// and symlinks in the path as spelled): --delete neither enters nor removes
// any of them. A DST that is one of them is refused now.
func protectSrc(fsys afero.Fs, p *plan, opts Options) (map[fileID]bool, error) {
	dev, ino, above, err := beneath.Identity(p.srcRoot)
	if err != nil {
		return nil, nil // not known here: the checks by path stand alone
	}
	protect := map[fileID]bool{{dev: dev, ino: ino}: true}
	for _, a := range above {
		protect[fileID{dev: a[0], ino: a[1]}] = true
	}
	if dinfo, err := fsys.Stat(p.dstRoot); err == nil {
		if id, _, ok := fileIDOf(dinfo); ok && protect[id] {
			return nil, refused("--delete removes from DST what SRC lacks: choose a DST that does not hold SRC",
				"--delete would delete the source: source %s is inside destination %s", DisplayPath(opts.Src), DisplayPath(opts.Dst))
		}
	}
	return protect, nil
}

// protected says whether --delete must leave the directory info alone:
// SRC's root or a directory above it, reached from DST (a bind mount).
func (c *coordinator) protected(info os.FileInfo) bool {
	id, _, ok := fileIDOf(info)
	return ok && info.IsDir() && c.protect[id]
}

// removeAll removes name and all below it for --delete, never through a
// symlink and never SRC or what holds it (see protectSrc).
func (c *coordinator) removeAll(name string) error {
	if !c.isOS {
		return c.fs.RemoveAll(name)
	}
	return beneath.RemoveAll(name, func(dev, ino uint64) bool { return c.protect[fileID{dev: dev, ino: ino}] })
}

// endWalk waits for the lister, stopped by quit, to end: it must not go on
// reading once SRC is no longer a held root.
func (c *coordinator) endWalk() {
	if c.entries != nil {
		for range c.entries {
		}
	}
}

// holdRoots makes SRC, DST and the --link-dest directory, if any, the roots
// below which every path is reached without following symlinks (SRC by
// path, following them, with --dereference), until the returned function
// is called.
func holdRoots(src, dst, linkDest string, deref bool) (release func()) {
	releases := []func(){beneath.Hold(src, deref), beneath.Hold(dst, false)}
	if linkDest != "" {
		releases = append(releases, beneath.Hold(linkDest, false))
	}
	return func() {
		for _, r := range releases {
			r()
		}
	}
}

// testHookSent, when set by a test, sees the number of jobs out at workers
// and the worker just sent a batch, after each send.
var testHookSent func(out int, w *workerState)

type nopReporter struct{}

func (nopReporter) Totals(files, bytes int64, final bool) {}
func (nopReporter) Bytes(n int64)                         {}
func (nopReporter) Settled(n int64)                       {}
func (nopReporter) FileDone(rel string, err error)        {}
func (nopReporter) Warn(msg string)                       {}
