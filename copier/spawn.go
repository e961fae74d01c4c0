package copier

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/spf13/afero"
)

// WorkerEnv is set in a worker process's environment. A program that can
// act as a worker checks it first thing in main and calls RunWorkerProcess.
// An environment variable rather than a subcommand keeps every argument
// free for the user: `pcopy worker dst` still copies a directory named
// "worker".
const WorkerEnv = "_PCOPY_WORKER"

// A WorkerProcess is a running worker: the two ends of its queue and a way
// to stop it.
type WorkerProcess interface {
	Stdin() io.WriteCloser // jobs go in; closing it asks the worker to finish
	Stdout() io.Reader     // results come out
	Pid() int
	Terminate() error // ask to stop now (SIGTERM): the job in hand is abandoned cleanly
	Kill() error      // stop at once (SIGKILL)
	Wait() error      // call after Stdout has ended
}

// A Spawner starts worker number id.
type Spawner func(id int) (WorkerProcess, error)

// Exec returns a Spawner that runs the program at path as a worker, with
// arg0 as its argv[0] and "worker N" after it, so ps shows "pcopy worker 3".
// Each worker is told to die with the coordinator (on Linux, a parent-death
// signal), and its stderr is the coordinator's.
func Exec(path, arg0 string) Spawner { return execWith(path, arg0, nil, nil) }

// execWith is Exec, with files for the worker from fd 3 on and more
// environment variables.
func execWith(path, arg0 string, extra []*os.File, env []string) Spawner {
	return func(id int) (WorkerProcess, error) {
		cmd := &exec.Cmd{
			Path:       path,
			Args:       []string{arg0, "worker", strconv.Itoa(id)},
			Env:        append(append(os.Environ(), WorkerEnv+"=1"), env...),
			Stderr:     os.Stderr,
			ExtraFiles: extra,
		}
		setWorkerAttrs(cmd)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := startWorker(cmd); err != nil {
			return nil, fmt.Errorf("start worker: %w", err)
		}
		running.Lock()
		running.m[cmd.Process] = struct{}{}
		running.Unlock()
		return &execWorker{cmd: cmd, stdin: stdin, stdout: stdout}, nil
	}
}

// running is the worker processes Exec started that have not been waited
// for.
var running = struct {
	sync.Mutex
	m map[*os.Process]struct{}
}{m: make(map[*os.Process]struct{})}

// KillWorkers sends SIGKILL to every worker process Exec started that has
// not yet been waited for. A program that must exit without waiting for a
// copy to stop (a second Ctrl-C) calls it first: a worker that ignores
// SIGTERM, or hangs in the kernel, would otherwise outlive it, since its
// parent-death signal is SIGTERM too. What such workers leave behind are
// temporary files, which the next run into the same destination removes.
func KillWorkers() {
	running.Lock()
	defer running.Unlock()
	for p := range running.m {
		p.Kill()
	}
}

type execWorker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.Reader
}

func (w *execWorker) Stdin() io.WriteCloser { return w.stdin }
func (w *execWorker) Stdout() io.Reader     { return w.stdout }
func (w *execWorker) Pid() int              { return w.cmd.Process.Pid }
func (w *execWorker) Kill() error           { return w.cmd.Process.Kill() }
func (w *execWorker) Wait() error {
	err := w.cmd.Wait()
	running.Lock()
	delete(running.m, w.cmd.Process)
	running.Unlock()
	return err
}
func (w *execWorker) Terminate() error {
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return w.cmd.Process.Kill() // no SIGTERM on Windows
	}
	return nil
}

// RunWorkerProcess is the main function of a worker process started by
// Exec: it serves the protocol on stdin and stdout against the operating
// system's filesystem until stdin ends.
//
// SIGINT and SIGHUP are ignored: Ctrl-C at a terminal, and the terminal
// closing, reach the whole process group, and the coordinator, which also
// gets them, decides what the workers do.
// SIGTERM (from the coordinator, or the parent-death signal) and a closed
// stdout abandon the job in hand, remove its temporary file and exit.
func RunWorkerProcess() error {
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP)
	// When the coordinator dies, the next write to stdout fails. By default
	// that raises SIGPIPE, which kills a Go program before it can remove
	// its temporary file; ignored, the write returns EPIPE and the job is
	// abandoned cleanly.
	signal.Ignore(syscall.SIGPIPE)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	if len(os.Args) >= 3 && os.Args[1] == "worker" {
		setProcessName("pcopy worker " + os.Args[2])
	}
	if timeout := os.Getenv(fenceEnv); timeout != "" {
		if err := useFence(3, timeout); err != nil {
			return err
		}
	}
	go watchParent(ctx, cancel)
	err := ServeWorker(ctx, afero.NewOsFs(), os.Stdin, os.Stdout)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// InProcess returns a Spawner whose workers are goroutines running
// ServeWorker on fsys over io.Pipe: the same protocol and coordinator
// logic as worker processes, for tests and for library use on filesystems
// other than the operating system's.
func InProcess(fsys afero.Fs) Spawner { return inProcess(fsys, false) }

// inProcess is InProcess; with namedTemps its workers give every file a
// temporary name, as where O_TMPFILE cannot be used (a test's seam).
func inProcess(fsys afero.Fs, namedTemps bool) Spawner {
	return func(id int) (WorkerProcess, error) {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		w := &inProcWorker{stdin: inW, stdout: outR, cancel: cancel, done: make(chan struct{}),
			inR: inR, outW: outW}
		go func() {
			defer close(w.done)
			w.err = serveWorker(ctx, fsys, inR, outW, namedTemps)
			if errors.Is(w.err, context.Canceled) {
				w.err = nil
			}
			inR.Close()
			outW.Close()
		}()
		return w, nil
	}
}

type inProcWorker struct {
	stdin  *io.PipeWriter
	stdout *io.PipeReader
	inR    *io.PipeReader
	outW   *io.PipeWriter
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func (w *inProcWorker) Stdin() io.WriteCloser { return w.stdin }
func (w *inProcWorker) Stdout() io.Reader     { return w.stdout }
func (w *inProcWorker) Pid() int              { return os.Getpid() }
func (w *inProcWorker) Terminate() error      { w.cancel(); return nil }
func (w *inProcWorker) Kill() error {
	w.cancel()
	w.inR.CloseWithError(errors.New("worker killed"))
	w.outW.CloseWithError(errors.New("worker killed"))
	return nil
}
func (w *inProcWorker) Wait() error {
	<-w.done
	return w.err
}
