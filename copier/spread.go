package copier

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pcopy/pcopy/internal/hosts"
)

// errNoRoom is a worker that cannot be started anywhere: every place
// that had room for it is a host that is gone.
var errNoRoom = errors.New("no host left to run a worker on")

// maxHostFailures is how many times a host may be lost (its connection
// ended, or it went silent) or fail to come back before it is dropped
// for the rest of the copy.
const maxHostFailures = 3

// hostBackoff is how long a host that was lost is left alone before it
// is reached again; doubled after each failure, never more than the
// host timeout.
var hostBackoff = time.Second

// places spreads a copy's workers over this machine and its hosts, and
// brings back a host that was lost.
type places struct {
	local Spawner
	prove func(*Host) error // proof that a host reached again still sees SRC and DST
	news  chan hostNews     // what became of a host that was lost
	stop  chan struct{}     // closed when the copy ends: reach no host again
	wg    sync.WaitGroup

	mu     sync.Mutex
	list   []*place
	dialed []*Host // the connections made here, to be closed at the end
}

// place is where workers run: this machine, or a host.
type place struct {
	host      *Host // nil: this machine; the current connection otherwise
	limit     int
	live      int
	fails     int
	redialing bool // it is lost and being reached again
	dropped   bool
}

// hostNews is what became of a host that was lost: State "lost" (it is
// being reached again), "ok" (it is back: start its workers), "dropped".
type hostNews struct {
	name   string
	state  string
	reason string
	fails  int
	pause  time.Duration // before it is reached again
}

func newPlaces(local Spawner, nlocal int, hosts []*Host, prove func(*Host) error) (*places, int) {
	ps := &places{local: local, prove: prove, news: make(chan hostNews, 2*len(hosts)+1), stop: make(chan struct{})}
	total := 0
	if nlocal > 0 {
		ps.list = append(ps.list, &place{limit: nlocal})
		total += nlocal
	}
	for _, h := range hosts {
		ps.list = append(ps.list, &place{host: h, limit: h.Workers})
		total += h.Workers
	}
	return ps, total
}

// spawn starts a worker with the first place that has room for one. A
// worker that ends frees its place for the one that replaces it. A host
// that is gone has no place until it is reached again; when no place is
// left the Spawner fails with errNoRoom, which the coordinator takes as
// "go on with the workers left" (and, if a host is being reached again,
// start its workers when it is back).
func (ps *places) spawn(id int) (WorkerProcess, error) {
	var lastErr error
	for _, p := range ps.list {
		ps.mu.Lock()
		host := p.host
		free := p.live < p.limit && (host == nil || host.Err() == nil)
		if free {
			p.live++
		} else {
			ps.maybeRedial(p, host)
		}
		ps.mu.Unlock()
		if !free {
			continue
		}
		var proc WorkerProcess
		var err error
		if host == nil {
			proc, err = ps.local(id)
		} else {
			proc, err = host.spawn(id)
		}
		if err == nil {
			return &placedWorker{WorkerProcess: proc, host: host, release: func() {
				ps.mu.Lock()
				p.live--
				ps.mu.Unlock()
			}}, nil
		}
		ps.mu.Lock()
		p.live--
		ps.maybeRedial(p, host) // lost while the worker was starting
		ps.mu.Unlock()
		if host == nil || !errors.Is(err, errHostGone) {
			return nil, err
		}
		lastErr = err
	}
	if lastErr != nil {
		return nil, fmt.Errorf("%w (%v)", errNoRoom, lastErr)
	}
	return nil, errNoRoom
}

// maybeRedial starts reaching p's host again once it is lost and its
// last worker has been waited for (the connection is over), unless that
// is under way already or the host was dropped. ps.mu is held.
func (ps *places) maybeRedial(p *place, host *Host) {
	if host == nil || host.Err() == nil || p.live > 0 || p.redialing || p.dropped || host.redial == nil {
		return
	}
	p.redialing = true
	ps.wg.Go(func() { ps.redial(p, host.Err()) })
}

// redial reaches p's host again, after it was lost for why: after a
// pause, the same launcher command, then the same proof that it sees SRC
// and DST. A host that fails maxHostFailures times in all is dropped.
func (ps *places) redial(p *place, why error) {
	old := p.host
	for {
		ps.mu.Lock()
		p.fails++
		fails := p.fails
		if fails >= maxHostFailures {
			p.dropped, p.redialing = true, false
		}
		ps.mu.Unlock()
		if fails >= maxHostFailures {
			ps.tell(hostNews{old.Name, "dropped", fmt.Sprintf("lost or unreachable %d times, last: %v", fails, why), fails, 0})
			return
		}
		pause := min(hostBackoff<<(fails-1), max(old.timeout, hostBackoff))
		ps.tell(hostNews{old.Name, "lost", why.Error(), fails, pause})
		select {
		case <-ps.stop:
			return
		case <-time.After(pause):
		}
		h, err := old.redial(ps.stop)
		if err == nil {
			if err = ps.prove(h); err != nil {
				h.Close()
			}
		}
		if err != nil {
			why = errors.New(strings.TrimPrefix(err.Error(), "host "+old.Name+": "))
			continue
		}
		h.previous = old
		ps.mu.Lock()
		ps.dialed = append(ps.dialed, h)
		select {
		case <-ps.stop:
			ps.mu.Unlock()
			return // closed by close
		default:
		}
		p.host, p.redialing = h, false
		ps.mu.Unlock()
		ps.tell(hostNews{old.Name, "ok", "", fails, 0})
		return
	}
}

func (ps *places) tell(n hostNews) {
	select {
	case ps.news <- n:
	case <-ps.stop:
	}
}

// waiting says whether a host is being reached again.
func (ps *places) waiting() bool {
	if ps == nil {
		return false
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range ps.list {
		if p.redialing {
			return true
		}
	}
	return false
}

// close stops reaching hosts again, and closes the connections made
// here; the hosts the copy was given are the caller's to close.
func (ps *places) close() {
	close(ps.stop)
	ps.wg.Wait()
	for _, h := range ps.dialed {
		h.Close()
	}
}

// wire is the control traffic each host's connections carried, in the
// order of the hosts given.
func (ps *places) wire() (out, in []int64) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, p := range ps.list {
		if p.host == nil {
			continue
		}
		var o, i int64
		for h := p.host; h != nil; h = h.previous {
			o, i = o+int64(h.w.Written()), i+int64(h.r.Consumed())
		}
		out, in = append(out, o), append(in, i)
	}
	return out, in
}

// placedWorker is a worker that frees its place when it has been waited
// for.
type placedWorker struct {
	WorkerProcess
	host    *Host // nil: this machine
	once    sync.Once
	release func()
}

func (w *placedWorker) Wait() error {
	err := w.WorkerProcess.Wait()
	w.once.Do(w.release)
	return err
}

// placeOf is the summary of the machine proc runs on, in a copy on many
// hosts; nil otherwise.
func (c *coordinator) placeOf(proc WorkerProcess) *HostSummary {
	p, ok := proc.(*placedWorker)
	if !ok {
		return nil
	}
	if p.host == nil {
		return &c.sum.Hosts[0]
	}
	return c.hostSummary(p.host.Name)
}

func (c *coordinator) hostSummary(name string) *HostSummary {
	for i := range c.sum.Hosts[1:] {
		if c.sum.Hosts[i+1].Name == name {
			return &c.sum.Hosts[i+1]
		}
	}
	return nil
}

// placeWorkers has each of opts.Hosts prove that it sees SRC and DST as
// this machine does, leaves out those that do not (with a warning), and
// spreads the copy's workers over this machine (opts.Workers of them,
// which may be none) and the hosts left.
func (c *coordinator) placeWorkers(opts Options) error {
	dir := c.plan.dstRoot
	if !c.plan.dir {
		dir = filepath.Dir(dir)
	}
	prove := func(h *Host) error { return h.Prove(c.plan.srcRoot, dir, c.set.DryRun) }
	c.sum.Hosts = []HostSummary{{Workers: max(opts.Workers, 0), State: "ok"}}
	for _, h := range opts.Hosts {
		c.sum.Hosts = append(c.sum.Hosts, HostSummary{Name: h.Name, Workers: h.Workers, State: "ok"})
	}
	errs := make([]error, len(opts.Hosts))
	var wg sync.WaitGroup
	for i, h := range opts.Hosts {
		wg.Go(func() { errs[i] = prove(h) })
	}
	wg.Wait()
	var live []*Host
	for i, h := range opts.Hosts {
		if errs[i] != nil {
			c.sum.Hosts[i+1].State, c.sum.Hosts[i+1].Reason = "refused", errs[i].Error()
			c.warn(fmt.Sprintf("host %s refused, its workers did not run: %v", h.Name, errs[i]))
			h.Close()
			continue
		}
		live = append(live, h)
	}
	if len(live) == 0 && opts.Workers <= 0 {
		if c.rootCreated && !c.set.DryRun {
			c.fs.Remove(c.plan.dstRoot) // made just now, empty
		}
		return refused("a host must see SRC and DST at the same paths as this machine (the same filesystems mounted there)",
			"no host could run workers: %v", errors.Join(errs...))
	}
	c.places, c.workerCount = newPlaces(c.spawn, max(opts.Workers, 0), live, prove)
	c.spawn = c.places.spawn
	c.reportHosts()
	return nil
}

// reportHosts tells the Reporter how many hosts run workers.
func (c *coordinator) reportHosts() {
	hr, ok := c.rep.(HostReporter)
	if !ok || len(c.sum.Hosts) < 2 {
		return
	}
	running := 0
	for _, h := range c.sum.Hosts[1:] {
		if h.State == "ok" {
			running++
		}
	}
	hr.Hosts(running, len(c.sum.Hosts)-1)
}

// hostChanged takes in what became of a host that was lost: the summary
// and a warning say it, and a host that is back gets its workers again.
func (c *coordinator) hostChanged(n hostNews) error {
	s := c.hostSummary(n.name)
	s.Failures = n.fails
	switch n.state {
	case "lost":
		s.State, s.Reason = "lost", n.reason
		c.warn(fmt.Sprintf("host %s lost: %s; reaching it again in %v (failure %d of %d)", n.name, n.reason, n.pause, n.fails, maxHostFailures))
	case "dropped":
		s.State, s.Reason = "dropped", n.reason
		c.warn(fmt.Sprintf("host %s dropped, its jobs go to the others: %s", n.name, n.reason))
	case "ok":
		s.State, s.Reason = "ok", ""
		c.warn(fmt.Sprintf("host %s is back (lost %s); its workers start again", n.name, hosts.Times(n.fails)))
		for c.liveWorkers() < c.workerCount {
			if err := c.startWorker(); err != nil {
				if errors.Is(err, errNoRoom) {
					break
				}
				return err
			}
		}
	}
	c.reportHosts()
	if c.liveWorkers() == 0 && !c.places.waiting() {
		return errors.New("no worker left: every host was dropped")
	}
	return nil
}

// newsChan is where what became of lost hosts comes; nil (never ready)
// in a copy on this machine alone.
func (ps *places) newsChan() <-chan hostNews {
	if ps == nil {
		return nil
	}
	return ps.news
}
