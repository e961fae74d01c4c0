package copier

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pcopy/pcopy/internal/mux"
	"github.com/pcopy/pcopy/internal/wire"
)

// An agent runs one host's workers for a coordinator on another machine,
// over the one connection that started it (see package mux): it starts a
// worker process per channel the coordinator opens, relays each worker's
// stdin and stdout, passes on signals, and answers heartbeats. A worker is
// the same process, with the same protocol, names and death handling, as
// a local one: the agent only carries its bytes.

// AgentConfig is how an agent runs.
type AgentConfig struct {
	// Exe is this program, which the agent runs as its workers, each
	// given the agent's fence (see fence_linux.go); or, if Exe is "",
	// Spawn starts them (without a fence).
	Exe     string
	Spawn   Spawner
	Version string        // pcopy's version, said in the hello
	Timeout time.Duration // with no frame from the coordinator for this long, stop
	// AllowRoots, if any, are the only trees the agent's workers may copy
	// from or into: SRC, DST and --link-dest must each be one of them or
	// below one (symlinks resolved), as in an ssh forced command
	// (command="pcopy --serve-agent --allow-root /gpfs/src ...").
	AllowRoots []string
}

// ServeAgent is a host's agent, reading the coordinator's frames from in
// and writing its own to out until in ends, the coordinator is silent for
// cfg.Timeout, or ctx ends. Then it stops its workers as the coordinator
// would (SIGTERM, SIGKILL after 2 s): they remove their temporary files,
// so a host that comes back after its jobs went elsewhere writes nothing
// more.
func ServeAgent(ctx context.Context, in io.Reader, out io.Writer, cfg AgentConfig) error {
	host, _ := os.Hostname()
	hello := mux.Hello{Mux: mux.Version, Wire: wire.Version, Pcopy: cfg.Version, Hostname: host,
		CPUs: uint64(runtime.NumCPU()), Uid: uint64(os.Getuid())}
	if err := mux.WriteHello(out, hello); err != nil {
		return err
	}
	a := &agent{w: mux.NewWriter(out), spawn: cfg.Spawn, workers: make(map[uint64]*agentWorker),
		exited: make(chan uint64), done: make(chan struct{}), allow: cfg.AllowRoots, heard: func(int64) {},
		clock: newPingClock(monotonicNow())}
	if cfg.Exe != "" {
		a.spawn = Exec(cfg.Exe, "pcopy")
		if fence, heard, err := newFence(); err == nil {
			defer fence.Close()
			a.heard = heard
			a.spawn = execWith(cfg.Exe, "pcopy", []*os.File{fence}, []string{fmt.Sprintf("%s=%d", fenceEnv, cfg.Timeout.Nanoseconds())})
		}
	}
	defer a.stopAll()

	type frame struct {
		typ     byte
		ch      uint64
		payload []byte
		err     error
	}
	frames := make(chan frame)
	go func() {
		r := mux.NewReader(bufio.NewReader(in))
		for {
			var f frame
			f.typ, f.ch, f.payload, f.err = r.Read()
			select {
			case frames <- f:
			case <-a.done:
				return
			}
			if f.err != nil {
				return
			}
		}
	}()
	silence := time.NewTimer(cfg.Timeout)
	defer silence.Stop()
	for {
		select {
		case f := <-frames:
			if f.err == io.EOF {
				return nil // the coordinator is done, or gone
			}
			if f.err != nil {
				return f.err
			}
			if f.typ == mux.Ping {
				// Only a ping says when the coordinator last heard from
				// this agent, which it gives up a timeout after: anything
				// read may have waited in a pipe while this host was
				// stopped.
				if heard, ok := a.clock.heard(f.payload, monotonicNow()); ok {
					a.heard(heard)
					silence.Reset(cfg.Timeout - time.Duration(monotonicNow()-heard))
				}
			}
			if err := a.handle(f.typ, f.ch, f.payload); err != nil {
				return err
			}
		case ch := <-a.exited:
			if w := a.workers[ch]; w != nil {
				w.closeStdin()
				delete(a.workers, ch)
			}
		case <-silence.C:
			return fmt.Errorf("no word from the coordinator for %v: stopping", cfg.Timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// agent is an agent's state, owned by ServeAgent's goroutine; each
// worker's two relaying goroutines touch only their own ends.
type agent struct {
	w       *mux.Writer
	spawn   Spawner
	workers map[uint64]*agentWorker // by channel
	exited  chan uint64             // a worker's channel, once its exit is sent
	done    chan struct{}           // closed when the agent stops
	relays  sync.WaitGroup          // the stdout relays still running
	allow   []string                // AgentConfig.AllowRoots
	heard   func(at int64)          // records in the fence when the coordinator last heard from this agent
	clock   pingClock
}

// pingClock tells, from a ping, when by this host's monotonic clock the
// coordinator last heard from this agent. The smallest difference seen so
// far between the ping's sending time (the coordinator's clock, counted
// from before the agent was launched) and its arrival (this host's) is
// taken for the offset between the clocks (with the quickest passage of a
// ping in it). A ping read late, having waited in a pipe while this host
// was stopped, so tells nothing new.
type pingClock struct {
	offset int64
}

// newPingClock is the clock of an agent started at start (its monotonic
// time): the coordinator's clock started before the agent was launched,
// so its offset from this host's is no more than start, however late the
// first ping is read.
func newPingClock(start int64) pingClock { return pingClock{offset: start} }

// heard returns when the coordinator last heard from this agent, by the
// ping with payload read at now.
func (c *pingClock) heard(payload []byte, now int64) (int64, bool) {
	v, err := mux.Uvarints(payload, 2)
	if err != nil || v[0] > math.MaxInt64 || v[1] > v[0] {
		return 0, false
	}
	c.offset = min(c.offset, now-int64(v[0]))
	return int64(v[1]) + c.offset, true
}

// agentWorker is one worker the agent runs. Its stdin is fed by its own
// goroutine from a queue, so that a worker slow to read holds up no other.
type agentWorker struct {
	proc    WorkerProcess
	stdin   chan []byte
	eof     bool   // stdin is closed
	checked bool   // its hello's roots were allowed (or none are set)
	hello   []byte // the start of its stdin, until its hello is whole
}

func (w *agentWorker) closeStdin() {
	if !w.eof {
		w.eof = true
		close(w.stdin)
	}
}

func (a *agent) handle(typ byte, ch uint64, payload []byte) error {
	w := a.workers[ch]
	switch typ {
	case mux.Ping:
		return a.w.TryWrite(mux.Pong, 0, payload) // a write under way says as much
	case mux.Prove:
		return a.prove(payload)
	case mux.Open:
		id, err := mux.Uvarint(payload)
		if err != nil || w != nil || ch == 0 {
			return fmt.Errorf("%w: bad open of channel %d", mux.ErrProtocol, ch)
		}
		return a.open(ch, int(id))
	case mux.Data, mux.EOF, mux.Signal:
	default:
		return fmt.Errorf("%w: frame type %d from the coordinator", mux.ErrProtocol, typ)
	}
	if w == nil {
		return nil // a worker that has exited: what was on its way is moot
	}
	switch typ {
	case mux.Data:
		if !w.checked {
			var err error
			if payload, err = a.checkHello(w, payload); err != nil {
				a.w.Write(mux.Exit, ch, []byte(err.Error()))
				w.proc.Kill()
				w.closeStdin()
				return nil
			}
		}
		if !w.eof && len(payload) > 0 {
			w.stdin <- payload
		}
	case mux.EOF:
		w.closeStdin()
	case mux.Signal:
		if len(payload) == 1 && payload[0] == mux.SigKill {
			w.proc.Kill()
		} else {
			w.proc.Terminate()
		}
	}
	return nil
}

// open starts worker number id on channel ch, and the goroutines that
// feed its stdin and carry its stdout back.
func (a *agent) open(ch uint64, id int) error {
	proc, err := a.spawn(id)
	if err != nil {
		return a.w.Write(mux.Exit, ch, []byte(err.Error()))
	}
	w := &agentWorker{proc: proc, stdin: make(chan []byte, 64), checked: len(a.allow) == 0}
	a.workers[ch] = w
	if err := a.w.Write(mux.Opened, ch, mux.PutUvarint(uint64(proc.Pid()))); err != nil {
		return err
	}
	go func() {
		in := proc.Stdin()
		for b := range w.stdin {
			if _, err := in.Write(b); err != nil {
				break // the worker is gone: its exit says why
			}
		}
		in.Close()
		for range w.stdin { // until the agent closes it
		}
	}()
	a.relays.Add(1)
	go func() {
		defer a.relays.Done()
		buf := make([]byte, 64<<10)
		out := proc.Stdout()
		for {
			n, err := out.Read(buf)
			if n > 0 && a.w.Write(mux.Data, ch, buf[:n]) != nil {
				proc.Kill() // the coordinator is gone
			}
			if err != nil {
				break
			}
		}
		why := ""
		if err := proc.Wait(); err != nil {
			why = err.Error()
		}
		a.w.Write(mux.Exit, ch, []byte(why))
		select {
		case a.exited <- ch:
		case <-a.done:
		}
	}()
	return nil
}

// stopAll stops every worker still running: SIGTERM, then SIGKILL after
// 2 s, and waits for them.
func (a *agent) stopAll() {
	close(a.done)
	for _, w := range a.workers {
		w.closeStdin()
		w.proc.Terminate()
	}
	stopped := make(chan struct{})
	go func() {
		a.relays.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
		return
	case <-time.After(2 * time.Second):
	}
	for _, w := range a.workers {
		w.proc.Kill()
	}
	<-stopped
}

// fenceEnv tells a worker process that fd 3 is its agent's fence (see
// fence_linux.go), and the timeout, in ns.
const fenceEnv = "_PCOPY_FENCE"

// errHostGone is a host whose connection ended or who stopped answering.
var errHostGone = errors.New("host gone")

// checkHello holds back the start of w's stdin until the coordinator's
// hello to it is whole, and lets it through only if the roots it names
// are allowed. It returns what may go on to the worker now.
func (a *agent) checkHello(w *agentWorker, payload []byte) ([]byte, error) {
	w.hello = append(w.hello, payload...)
	if len(w.hello) < 4 {
		return nil, nil
	}
	n := int(binary.BigEndian.Uint32(w.hello))
	if n > 1<<20 {
		return nil, fmt.Errorf("%w: a hello of %d bytes", mux.ErrProtocol, n)
	}
	if len(w.hello) < 4+n {
		return nil, nil
	}
	h, err := wire.NewConn(bytes.NewReader(w.hello), io.Discard).ReadHello()
	if err != nil {
		return nil, err
	}
	for _, root := range []string{h.SrcRoot, h.DstRoot, h.Settings.LinkDest} {
		if root != "" {
			if err := allowed(root, a.allow); err != nil {
				return nil, err
			}
		}
	}
	w.checked = true
	rest := w.hello
	w.hello = nil
	return rest, nil
}

// allowed says whether path is one of roots or below one, symlinks in
// both resolved, and why not.
func allowed(path string, roots []string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("%s is not allowed here: %v", DisplayPath(path), err)
	}
	for _, root := range roots {
		r, err := filepath.EvalSymlinks(root)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(r, real); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel) {
			return nil
		}
	}
	return fmt.Errorf("%s is not allowed here: it is below no --allow-root of this host's agent (%s)", DisplayPath(path), strings.Join(roots, ", "))
}
