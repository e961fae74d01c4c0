package copier

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pcopy/pcopy/internal/mux"
	"github.com/pcopy/pcopy/internal/wire"
)

// A Host is a machine whose agent runs workers for this coordinator, over
// the one connection its launcher (ssh, srun, mpirun, kubectl) made:
// ConnectHost starts it; a copy given it in Options.Hosts runs workers there.
type Host struct {
	Name    string    // as the user named it
	Info    mux.Hello // what its agent said of itself
	Workers int       // how many workers it runs

	cmd     *exec.Cmd
	stdin   io.Closer
	stdout  io.Closer
	w       *mux.Writer
	r       *mux.Reader
	timeout time.Duration

	mu     sync.Mutex
	chans  map[uint64]*remoteWorker
	nextCh uint64
	err    error         // why it is gone
	dead   chan struct{} // closed when it is given up (lost)
	gone   chan struct{} // closed when the connection ended
	proved chan []byte   // the agent's answer to Prove
	heard  atomic.Int64  // when a frame last came, in ns since start
	start  time.Time

	redial   func(stop <-chan struct{}) (*Host, error) // reaches the host again, as ConnectHost did
	previous *Host                                     // the connection this one replaced

	// What the workers send goes through a queue that writeLoop empties:
	// a host that stopped reading holds up no one but itself.
	outMu    sync.Mutex
	outq     []mux.Frame
	outErr   error
	outReady chan struct{}
}

// HostConfig is how a coordinator reaches its hosts.
type HostConfig struct {
	Version string        // this pcopy's version, to compare with the agent's
	Timeout time.Duration // a host silent this long is taken for gone
	Stderr  io.Writer     // where the hosts' messages go, each line naming its host
}

// ConnectHost runs argv (a launcher command that starts `pcopy
// --serve-agent` on the host name) and reads the agent's handshake. What
// the host prints before its agent speaks (a login banner) and on its
// stderr goes to cfg.Stderr, each line prefixed with the host's name.
// workers 0 means as many as the host has CPUs. An agent of another
// version is refused.
func ConnectHost(name string, argv []string, workers int, cfg HostConfig) (*Host, error) {
	return connectHost(name, argv, workers, cfg, nil)
}

// connectHost is ConnectHost, given up when stop closes (the copy ended
// while a host lost was being reached again).
func connectHost(name string, argv []string, workers int, cfg HostConfig, stop <-chan struct{}) (*Host, error) {
	h := &Host{Name: name, timeout: cfg.Timeout, chans: make(map[uint64]*remoteWorker), gone: make(chan struct{}), dead: make(chan struct{}),
		proved: make(chan []byte, 1), start: time.Now()}
	h.cmd = exec.Command(argv[0], argv[1:]...)
	h.cmd.Stderr = &linePrefixer{w: cfg.Stderr, prefix: "pcopy: " + name + ": "}
	setLauncherAttrs(h.cmd)
	// A launcher that leaves a child holding its output (a stopped agent
	// under setsid) must not hold up the end of the connection.
	h.cmd.WaitDelay = 2 * time.Second
	stdin, err := h.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := h.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := h.cmd.Start(); err != nil {
		return nil, fmt.Errorf("host %s: start %s: %w", name, argv[0], err)
	}
	type result struct {
		hello mux.Hello
		noise []byte
		err   error
	}
	br := bufio.NewReaderSize(stdout, 64<<10)
	done := make(chan result, 1)
	go func() {
		var r result
		r.hello, r.noise, r.err = mux.Handshake(br)
		done <- r
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(cfg.Timeout):
		r.err = fmt.Errorf("no answer in %v", cfg.Timeout)
	case <-stop:
		r.err = errors.New("the copy ended")
	}
	if len(r.noise) > 0 {
		p := &linePrefixer{w: cfg.Stderr, prefix: "pcopy: " + name + " says: "}
		p.Write(r.noise)
		p.flush()
	}
	fail := func(err error) (*Host, error) {
		killLauncher(h.cmd)
		h.cmd.Wait()
		return nil, fmt.Errorf("host %s: %w", name, err)
	}
	switch {
	case errors.Is(r.err, io.ErrUnexpectedEOF):
		return fail(h.noAgent())
	case r.err != nil:
		return fail(r.err)
	case r.hello.Mux != mux.Version || r.hello.Wire != wire.Version:
		theirs := r.hello.Pcopy
		if theirs == "" {
			theirs = "another version"
		}
		return fail(fmt.Errorf("runs pcopy %s (agent protocol %d, worker protocol %d), this is pcopy %s (%d, %d): "+
			"install this version there, or name it with --remote-pcopy", theirs, r.hello.Mux, r.hello.Wire, cfg.Version, mux.Version, wire.Version))
	}
	h.Info = r.hello
	h.Workers = workers
	if h.Workers <= 0 {
		h.Workers = max(1, int(r.hello.CPUs))
	}
	h.redial = func(stop <-chan struct{}) (*Host, error) { return connectHost(name, argv, workers, cfg, stop) }
	h.outReady = make(chan struct{}, 1)
	h.w, h.stdin, h.stdout = mux.NewWriter(stdin), stdin, stdout
	h.r = mux.NewReader(br)
	h.heard.Store(int64(time.Since(h.start)))
	go h.readLoop()
	go h.writeLoop()
	go h.heartbeat()
	return h, nil
}

// send queues a frame for the agent; writeLoop writes it. payload is
// copied. The error is the one that ended the connection, if it has.
func (h *Host) send(typ byte, ch uint64, payload []byte) error {
	h.outMu.Lock()
	if h.outErr != nil {
		err := h.outErr
		h.outMu.Unlock()
		return err
	}
	h.outq = append(h.outq, mux.Frame{Type: typ, Ch: ch, Payload: bytes.Clone(payload)})
	h.outMu.Unlock()
	select {
	case h.outReady <- struct{}{}:
	default: // already told
	}
	return nil
}

// writeLoop writes what send queued, all that is queued at once, until
// the connection ends.
func (h *Host) writeLoop() {
	for {
		select {
		case <-h.outReady:
		case <-h.gone:
			h.failSends(errors.New("connection closed"))
			return
		}
		h.outMu.Lock()
		q := h.outq
		h.outq = nil
		h.outMu.Unlock()
		if err := h.w.WriteFrames(q); err != nil {
			h.failSends(err)
			h.lost(err)
			return
		}
	}
}

// failSends makes every send from now on fail with err.
func (h *Host) failSends(err error) {
	h.outMu.Lock()
	defer h.outMu.Unlock()
	if h.outErr == nil {
		h.outErr = fmt.Errorf("host %s: %w", h.Name, err)
	}
	h.outq = nil
}

// noAgent says why the launcher ended before an agent spoke: its last
// words (ssh's "No route to host"), once it is over.
func (h *Host) noAgent() error {
	killLauncher(h.cmd)
	h.cmd.Wait() // and what it printed has been read
	if last := h.cmd.Stderr.(*linePrefixer).lastLine(); last != "" {
		return fmt.Errorf("no pcopy agent answered: %s", last)
	}
	return errors.New("no pcopy agent answered (see the messages above; --remote-pcopy names the pcopy to run there)")
}

// readLoop hands each frame from the agent to its worker's channel until
// the connection ends.
func (h *Host) readLoop() {
	defer h.ended()
	for {
		typ, ch, payload, err := h.r.Read()
		if err != nil {
			if err == io.EOF {
				err = errors.New("connection closed")
			}
			h.lost(err)
			return
		}
		h.heard.Store(int64(time.Since(h.start)))
		switch typ {
		case mux.Pong:
			continue
		case mux.Proved:
			select {
			case h.proved <- payload:
			default: // an answer not asked for
			}
			continue
		}
		h.mu.Lock()
		w := h.chans[ch]
		h.mu.Unlock()
		if w == nil {
			continue
		}
		switch typ {
		case mux.Opened:
			pid, err := mux.Uvarint(payload)
			if err != nil {
				h.lost(err)
				return
			}
			w.pid = int(pid)
			w.openOnce.Do(func() { close(w.opened) }) // a second Opened is ignored
		case mux.Data:
			select {
			case w.out <- payload: // held up until the coordinator reads: flow control
			case <-h.dead:
				return // given up while held up: ended ends every worker
			}
		case mux.Exit:
			h.mu.Lock()
			delete(h.chans, ch)
			h.mu.Unlock()
			w.end(string(payload))
		default:
			h.lost(fmt.Errorf("%w: frame type %d from the agent", mux.ErrProtocol, typ))
			return
		}
	}
}

// heartbeat pings the agent a few times per timeout; a host that says
// nothing for the whole timeout (stopped, cut off) is taken for gone: its
// launcher's process group is killed, which ends the connection.
func (h *Host) heartbeat() {
	tick := time.NewTicker(max(h.timeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-h.gone:
				return
			case <-tick.C:
			}
		}
		if silent := time.Since(h.start) - time.Duration(h.heard.Load()); silent > h.timeout {
			h.lost(fmt.Errorf("no answer for %v", silent.Round(time.Second)))
			return
		}
		// Never behind a write that is blocked on a host that stopped
		// reading: this loop must go on to find the host silent. The
		// ping says when it left and when the agent was last heard: the
		// agent's fence closes when this loop gives the host up, even
		// for an agent reading pings late (it was stopped).
		h.w.Beat(mux.Ping, func() []byte {
			return mux.PutUvarint(uint64(time.Since(h.start)), uint64(h.heard.Load()))
		})
	}
}

// lost ends the connection to h, for err: its launcher's process group
// is killed and its output closed, and readLoop then ends every worker
// there.
func (h *Host) lost(err error) {
	h.mu.Lock()
	first := h.err == nil
	if first {
		h.err = err
	}
	h.mu.Unlock()
	if first {
		close(h.dead)
		killLauncher(h.cmd)
		// And stop reading and writing (a write blocked on a full pipe
		// ends): a process the launcher left behind, out of its process
		// group (an agent under setsid, frozen), may still hold the
		// connection's other ends.
		h.stdout.Close()
		h.stdin.Close()
	}
}

// ended is readLoop's end: every worker on h is over.
func (h *Host) ended() {
	h.mu.Lock()
	chans := h.chans
	h.chans = nil
	err := h.err
	h.mu.Unlock()
	close(h.gone)
	for _, w := range chans {
		w.end(fmt.Sprintf("host %s: %v", h.Name, err))
	}
	h.cmd.Wait()
}

// Close ends the connection: the agent, seeing its input end, stops
// whatever workers it still runs and exits; one that has not within 5 s
// is killed with its launcher.
func (h *Host) Close() {
	h.stdin.Close()
	select {
	case <-h.gone:
	case <-time.After(5 * time.Second):
		h.lost(errors.New("closed"))
		<-h.gone
	}
}

// Err says why h is gone, or nil.
func (h *Host) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// spawn starts worker number id on h, and waits until it runs.
func (h *Host) spawn(id int) (WorkerProcess, error) {
	h.mu.Lock()
	if h.chans == nil || h.err != nil {
		err := h.err
		h.mu.Unlock()
		return nil, fmt.Errorf("%w: %s: %v", errHostGone, h.Name, err)
	}
	h.nextCh++
	w := &remoteWorker{h: h, ch: h.nextCh, out: make(chan []byte, 16), opened: make(chan struct{}), exited: make(chan struct{})}
	h.chans[w.ch] = w
	h.mu.Unlock()
	if err := h.send(mux.Open, w.ch, mux.PutUvarint(uint64(id))); err != nil {
		h.lost(err)
	}
	select {
	case <-w.opened:
		return w, nil
	case <-w.exited:
		return nil, fmt.Errorf("%w: %s: start worker: %s", errHostGone, h.Name, w.why)
	}
}

// remoteWorker is a worker process on a host, as the coordinator sees
// it: the same as a local one.
type remoteWorker struct {
	h        *Host
	ch       uint64
	pid      int
	out      chan []byte
	rest     []byte
	opened   chan struct{}
	openOnce sync.Once
	once     sync.Once
	exited   chan struct{}
	why      string // why it exited, "" if it succeeded
}

// end records that the worker exited, for why ("" if it succeeded).
func (w *remoteWorker) end(why string) {
	w.once.Do(func() {
		w.why = why
		close(w.out)
		close(w.exited)
	})
}

func (w *remoteWorker) Stdin() io.WriteCloser { return remoteStdin{w} }
func (w *remoteWorker) Stdout() io.Reader     { return w }
func (w *remoteWorker) Pid() int              { return w.pid }
func (w *remoteWorker) Terminate() error      { return w.h.send(mux.Signal, w.ch, []byte{mux.SigTerm}) }

// Kill asks the agent to kill the worker; on a host that is gone, the
// worker is over already.
func (w *remoteWorker) Kill() error {
	w.h.send(mux.Signal, w.ch, []byte{mux.SigKill})
	return nil
}

func (w *remoteWorker) Wait() error {
	<-w.exited
	if w.why != "" {
		return errors.New(w.why)
	}
	return nil
}

// Read reads the worker's stdout.
func (w *remoteWorker) Read(p []byte) (int, error) {
	for len(w.rest) == 0 {
		b, ok := <-w.out
		if !ok {
			if w.why != "" && w.h.Err() != nil {
				return 0, errors.New(w.why)
			}
			return 0, io.EOF
		}
		w.rest = b
	}
	n := copy(p, w.rest)
	w.rest = w.rest[n:]
	return n, nil
}

// remoteStdin is a remote worker's stdin.
type remoteStdin struct{ w *remoteWorker }

func (s remoteStdin) Write(p []byte) (int, error) {
	for n := 0; n < len(p); {
		m := min(len(p)-n, mux.MaxPayload)
		if err := s.w.h.send(mux.Data, s.w.ch, p[n:n+m]); err != nil {
			return n, err
		}
		n += m
	}
	return len(p), nil
}

func (s remoteStdin) Close() error { return s.w.h.send(mux.EOF, s.w.ch, nil) }

// linePrefixer writes what a host prints, a line at a time, each line
// prefixed with the host's name.
type linePrefixer struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	line   []byte
	last   string // the last whole line
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.line = append(l.line, p...)
	for {
		i := bytes.IndexByte(l.line, '\n')
		if i < 0 {
			break
		}
		l.last = strings.TrimRight(string(l.line[:i]), "\r")
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.last)
		l.line = l.line[i+1:]
	}
	return len(p), nil
}

func (l *linePrefixer) lastLine() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.line) > 0 {
		return string(l.line)
	}
	return l.last
}

func (l *linePrefixer) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.line) > 0 {
		fmt.Fprintf(l.w, "%s%s\n", l.prefix, l.line)
		l.line = nil
	}
}
