package copier

import (
	"io"

	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// MaxOut is the most jobs the coordinator lets out at once.
func MaxOut(workers int) int { return workers * maxQueued * maxBatchJobs }

// MaxBatchBytes is the size of a batch that travels alone.
const MaxBatchBytes = maxBatchBytes

// WalkBudget is how many entries the walk visits between looks at signals.
const WalkBudget = walkBudget

// Sent describes one batch send: the jobs out at all workers after it, and
// the sizes of the batches the worker already held before it.
type Sent struct {
	Out    int
	Before []int64
	Worker int // the worker's number
	Parts  int // jobs in the batch that are parts of a split file
}

// SetSentHook installs testHookSent for the duration of a test.
func SetSentHook(cleanup func(func()), hook func(Sent)) {
	testHookSent = func(out int, w *workerState) {
		var before []int64
		for _, b := range w.batches[:len(w.batches)-1] {
			before = append(before, b.size)
		}
		parts := 0
		for _, t := range w.batches[len(w.batches)-1].tasks {
			if t.job.Kind == wire.KindPart {
				parts++
			}
		}
		hook(Sent{Out: out, Before: before, Worker: w.id, Parts: parts})
	}
	cleanup(func() { testHookSent = nil })
}

// Handshake exchanges hellos with a freshly started worker.
func Handshake(w WorkerProcess, src, dst string) error {
	c := wire.NewConn(w.Stdout(), w.Stdin())
	if err := c.WriteHello(wire.Hello{Version: wire.Version, Worker: 1, SrcRoot: src, DstRoot: dst}); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	_, err := c.ReadHello()
	return err
}

// FakeWorker is a worker that answers the coordinator's hello with a hello
// of the given protocol version, then ignores everything it is sent.
func FakeWorker(version uint64) Spawner {
	return func(id int) (WorkerProcess, error) {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		w := &inProcWorker{stdin: inW, stdout: outR, inR: inR, outW: outW, cancel: func() {}, done: make(chan struct{})}
		go func() {
			defer close(w.done)
			c := wire.NewConn(inR, outW)
			c.ReadHello()
			c.WriteHello(wire.Hello{Version: version, Pid: 1})
			c.Flush()
			io.Copy(io.Discard, inR)
			outW.Close()
		}()
		return w, nil
	}
}

// SetCopyHook has workers in this process call hook with each job's path
// before copying it. A test binary serving as a worker process installs it
// at start, so it may also kill the worker.
func SetCopyHook(hook func(rel string)) {
	worker.TestHook = func(j *wire.Job) { hook(j.Rel) }
}
