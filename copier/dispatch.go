package copier

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pcopy/pcopy/internal/fastcopy"
	"github.com/pcopy/pcopy/internal/walk"
	"github.com/pcopy/pcopy/internal/wire"
)

// The coordinator's loop and batching: taking tasks from the walk, retries
// and parts, and sending them in batches to workers with room.

// Flow control. A worker holds at most maxQueued batches (one in hand, one
// waiting), so the walk never runs more than workers*maxQueued*maxBatchJobs
// entries ahead of the copying and the coordinator's memory stays flat
// however large the tree. A worker on another host holds up to
// maxQueuedRemote, so that the round trip to it is hidden behind work in
// hand (with 2 ms more round trip it keeps 89 % of its throughput with 2,
// 94 % with 6: bench/hosts.py).
const (
	maxBatchJobs    = 128
	maxBatchBytes   = 8 << 20 // a file this large travels alone
	maxQueued       = 2
	maxQueuedRemote = 6

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
	*fastcopy.Parts
	rel       string
	dir       *dirState
	group     *linkGroup // its hard links, if it has some
	remaining int        // parts not yet done
	bytes     int64      // bytes of the parts done
	err       error      // the first part's failure
	changed   bool       // a part found that the source changed since it was listed
	relisted  bool       // its source changed while copied before and was looked at again
}

type batchState struct {
	tasks     []*task
	remaining int
	size      int64 // bytes of its files
}

func (c *coordinator) run(ctx context.Context, workers int) error {
	defer close(c.quit)
	for range workers {
		err := c.startWorker()
		if errors.Is(err, errNoRoom) && (c.liveWorkers() > 0 || c.places.waiting()) {
			break // a host went away as the copy started: go on without it
		}
		if err != nil {
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
		case n := <-c.places.newsChan():
			if err := c.hostChanged(n); err != nil {
				c.abort()
				return err
			}
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
	limit := maxQueued
	if w.place != nil && w.place.Name != "" {
		limit = maxQueuedRemote
	}
	return len(w.batches) == 0 || (len(w.batches) < limit && w.queued < maxBatchBytes)
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

// dropParts takes the parts of s that no worker holds out of the queues,
// once one of its parts failed: the file is not finished from them (it
// fails, or is queued again as it is now). A part a worker holds still
// comes back, and counts in s.remaining until it does.
func (c *coordinator) dropParts(s *split) {
	drop := func(q []*task) []*task {
		kept := q[:0]
		for _, t := range q {
			if t.split == s {
				s.remaining--
				continue
			}
			kept = append(kept, t)
		}
		clear(q[len(kept):])
		return kept
	}
	c.parts = drop(c.parts)
	c.retry = drop(c.retry)
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

// testHookSent, when set by a test, sees the number of jobs out at workers
// and the worker just sent a batch, after each send.
var testHookSent func(out int, w *workerState)
