package copier

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
)

// errNoRoom is a worker that cannot be started anywhere: every place
// that had room for it is a host that is gone.
var errNoRoom = errors.New("no host left to run a worker on")

// spread returns a Spawner that starts workers with local, up to nlocal at
// once, and on hosts, up to each one's Workers at once, and how many
// workers it has room for. A worker that ends frees its place for the one
// that replaces it; a host that is gone has no place any more, and when
// no place is left the Spawner fails with an error the coordinator takes
// as "go on with the workers left".
func spread(local Spawner, nlocal int, hosts []*Host) (Spawner, int) {
	type place struct {
		host  *Host // nil: this machine
		limit int
		live  int
	}
	var places []*place
	total := 0
	if nlocal > 0 {
		places = append(places, &place{limit: nlocal})
		total += nlocal
	}
	for _, h := range hosts {
		places = append(places, &place{host: h, limit: h.Workers})
		total += h.Workers
	}
	var mu sync.Mutex
	return func(id int) (WorkerProcess, error) {
		var lastErr error
		for _, p := range places {
			mu.Lock()
			free := p.live < p.limit && (p.host == nil || p.host.Err() == nil)
			if free {
				p.live++
			}
			mu.Unlock()
			if !free {
				continue
			}
			var proc WorkerProcess
			var err error
			if p.host == nil {
				proc, err = local(id)
			} else {
				proc, err = p.host.spawn(id)
			}
			if err == nil {
				return &placedWorker{WorkerProcess: proc, host: p.host, release: func() {
					mu.Lock()
					p.live--
					mu.Unlock()
				}}, nil
			}
			mu.Lock()
			p.live--
			mu.Unlock()
			if p.host == nil || !errors.Is(err, errHostGone) {
				return nil, err
			}
			lastErr = err
		}
		if lastErr != nil {
			return nil, fmt.Errorf("%w (%v)", errNoRoom, lastErr)
		}
		return nil, errNoRoom
	}, total
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
	for i := range c.sum.Hosts {
		if c.sum.Hosts[i].Name == p.host.Name {
			return &c.sum.Hosts[i]
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
	c.sum.Hosts = []HostSummary{{Workers: max(opts.Workers, 0), State: "ok"}}
	for _, h := range opts.Hosts {
		c.sum.Hosts = append(c.sum.Hosts, HostSummary{Name: h.Name, Workers: h.Workers, State: "ok"})
	}
	errs := make([]error, len(opts.Hosts))
	var wg sync.WaitGroup
	for i, h := range opts.Hosts {
		wg.Go(func() { errs[i] = h.Prove(c.plan.srcRoot, dir, c.set.DryRun) })
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
	c.spawn, c.workerCount = spread(c.spawn, max(opts.Workers, 0), live)
	return nil
}
