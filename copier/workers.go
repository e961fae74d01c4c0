package copier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
)

// The workers' life cycle: starting them, reading what they send,
// taking back the jobs of one that dies, stopping them.

type workerState struct {
	id      int
	pid     int
	proc    WorkerProcess
	conn    *wire.Conn
	batches []*batchState // outstanding, oldest first; a worker works in order
	queued  int64         // bytes in batches
	tasks   map[uint64]*task
	greeted bool         // its hello arrived
	fatal   string       // the reason it gave for stopping, if any
	broken  bool         // a write to it failed: dispatch nothing more
	closing bool         // its queue is closed: it should now exit cleanly
	ended   bool         // its output ended and it was waited for
	place   *HostSummary // the machine it runs on, in a copy on many hosts
}

func (w *workerState) String() string {
	where := ""
	if w.place != nil && w.place.Name != "" {
		where = " on " + w.place.Name
	}
	if w.pid == 0 {
		return fmt.Sprintf("worker %d%s", w.id, where)
	}
	return fmt.Sprintf("worker %d (pid %d%s)", w.id, w.pid, where)
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

func (c *coordinator) startWorker() error {
	c.lastWorkerID++
	proc, err := c.spawn(c.lastWorkerID)
	if err != nil {
		return err
	}
	w := &workerState{id: c.lastWorkerID, proc: proc, tasks: make(map[uint64]*task),
		conn: wire.NewConn(proc.Stdout(), proc.Stdin()), place: c.placeOf(proc)}
	c.workers = append(c.workers, w)
	go c.readLoop(w)
	err = w.conn.WriteHello(wire.Hello{Version: wire.Version, Worker: uint64(w.id),
		SrcRoot: c.plan.srcRoot, DstRoot: c.plan.dstRoot, Settings: c.settingsFor(w)})
	if err == nil {
		err = w.conn.Flush()
	}
	if err != nil {
		w.broken = true // its reader reports the death
	}
	return nil
}

// settingsFor is the settings w is given: the copy's, with its share of
// a bandwidth limit. The workers of a machine share one word (bwlimit)
// and its share of the limit: the whole of it in a copy on this machine
// alone; with hosts, each machine the share its workers are of all. A
// worker of this machine with no word to share (the operating system's
// filesystem, where none could be made) keeps to its own share alone.
func (c *coordinator) settingsFor(w *workerState) wire.Settings {
	set := c.set
	if set.BwLimit <= 0 {
		return set
	}
	total := int64(max(c.workerCount, 1))
	here := total // workers on w's machine
	if w.place != nil {
		here = int64(max(w.place.Workers, 1))
		set.BwLimit = max(set.BwLimit*here/total, 1)
	}
	switch {
	case w.place != nil && w.place.Name != "":
		set.BwWord = "" // its agent gives it the host's word
	case set.BwWord == "" && c.isOS:
		set.BwLimit = max(set.BwLimit/here, 1)
	}
	return set
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
	if w.place != nil && w.place.Name != "" && w.place.State == "ok" {
		if h := w.proc.(*placedWorker).host; h.Err() != nil {
			w.place.State, w.place.Reason = "lost", h.Err().Error()
			c.reportHosts()
		}
	}
	err = c.startWorker()
	if errors.Is(err, errNoRoom) {
		// Its host is gone: the workers left take its jobs.
		c.warn(fmt.Sprintf("%s died (%s); %d jobs requeued to the workers left", w, reason, requeued))
		if c.liveWorkers() == 0 && !c.places.waiting() {
			return fmt.Errorf("no worker left: %w", err)
		}
		return nil
	}
	c.warn(fmt.Sprintf("%s died (%s); %d jobs requeued; starting a replacement", w, reason, requeued))
	return err
}

// liveWorkers counts the workers that have not ended.
func (c *coordinator) liveWorkers() int {
	n := 0
	for _, w := range c.workers {
		if !w.ended {
			n++
		}
	}
	return n
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
		s.Remove() // the coordinator's own temporary files
	}
}
