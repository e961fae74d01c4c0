package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/hosts"
	"github.com/pcopy/pcopy/progress"
)

// A copy on many hosts: workers started through the launchers a site
// already has (ssh, srun, mpirun, kubectl), one agent per host driving
// that host's workers over the one connection (see copier.Host).

// hostFlags are the options of a copy on many hosts.
func hostFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "hosts", Usage: "also run workers on the hosts in `LIST` ([user@]host[:workers], " +
			"comma-separated; workers default to the host's CPUs); they must see SRC and DST at the same paths"},
		&cli.StringFlag{Name: "hostfile", Usage: "read hosts from `FILE`, one a line ([user@]host[:workers], or " +
			"host slots=N; # comments)"},
		&cli.StringFlag{Name: "hosts-from", Usage: "take the hosts from `SOURCE`: slurm (the job's nodes, " +
			"SLURM_JOB_NODELIST)"},
		&cli.IntFlag{Name: "local-workers", Value: -1, Usage: "with hosts, run `N` workers on this machine too " +
			"(0: it only coordinates)", DefaultText: "as --workers"},
		&cli.StringFlag{Name: "rsh", Value: hosts.DefaultRsh, Usage: "how a host's agent is started: a command " +
			"`TEMPLATE` split into words by pcopy (never by a shell) with {host}, and {cmd} (the remote command " +
			"as one word, for ssh) or {argv} (as separate words, for srun, mpirun, kubectl)"},
		&cli.StringFlag{Name: "remote-pcopy", Value: "pcopy", Usage: "the pcopy to run on the hosts: `PATH` " +
			"(the same version as this one)"},
		&cli.DurationFlag{Name: "host-timeout", Value: 60 * time.Second, Usage: "a host silent for `DURATION` " +
			"is taken for gone: its jobs go to the others"},
		&cli.BoolFlag{Name: "check-hosts", Usage: "only check that each host can run workers for this copy " +
			"(reached, same version, sees SRC and DST as this machine does) and print a table"},
	}
}

// hostRequest is the part of the command line about hosts.
type hostRequest struct {
	check            bool // --check-hosts
	list, file, from string
	local            int
	rsh, remote      string
	timeout          time.Duration
}

func readHostRequest(c *cli.Context) hostRequest {
	return hostRequest{check: c.Bool("check-hosts"), list: c.String("hosts"), file: c.String("hostfile"), from: c.String("hosts-from"),
		local: c.Int("local-workers"), rsh: c.String("rsh"), remote: c.String("remote-pcopy"),
		timeout: c.Duration("host-timeout")}
}

// any says whether hosts were asked for.
func (h hostRequest) any() bool { return h.list != "" || h.file != "" || h.from != "" }

// specs returns the hosts asked for.
func (h hostRequest) specs() ([]hosts.Host, error) {
	var all []hosts.Host
	if h.list != "" {
		hs, err := hosts.Parse(h.list)
		if err != nil {
			return nil, fmt.Errorf("--hosts: %w", err)
		}
		all = append(all, hs...)
	}
	if h.file != "" {
		f, err := os.Open(h.file)
		if err != nil {
			return nil, fmt.Errorf("--hostfile: %w", err)
		}
		hs, err := hosts.ParseFile(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--hostfile %s: %w", h.file, err)
		}
		all = append(all, hs...)
	}
	switch h.from {
	case "":
	case "slurm":
		hs, err := hosts.FromSlurm(os.Getenv)
		if err != nil {
			return nil, fmt.Errorf("--hosts-from slurm: %w", err)
		}
		all = append(all, hs...)
	default:
		return nil, fmt.Errorf("--hosts-from %q: the one source known is slurm", h.from)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no hosts listed")
	}
	seen := make(map[string]bool)
	for _, h := range all {
		if seen[h.Target()] {
			return nil, fmt.Errorf("host %s is listed twice (--hosts, --hostfile, --hosts-from)", h.Target())
		}
		seen[h.Target()] = true
	}
	return all, nil
}

// connect starts the agents of the hosts asked for, all at once, and
// returns them in order, with why each that could not be reached was
// not (a nil host then).
func (h hostRequest) connect(specs []hosts.Host, stderr io.Writer) ([]*copier.Host, []error, error) {
	argv := []string{h.remote, "--serve-agent", "--host-timeout", h.timeout.String()}
	cmds := make([][]string, len(specs))
	for i, s := range specs {
		words, err := hosts.Render(h.rsh, s, argv)
		if err != nil {
			return nil, nil, fmt.Errorf("--rsh: %w", err)
		}
		cmds[i] = words
	}
	cfg := copier.HostConfig{Version: version(), Timeout: h.timeout, Stderr: stderr}
	got := make([]*copier.Host, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Go(func() {
			got[i], errs[i] = copier.ConnectHost(s.Target(), cmds[i], s.Workers, cfg)
		})
	}
	wg.Wait()
	return got, errs, nil
}

// checkHosts is --check-hosts: each host is reached and asked to prove
// that it sees SRC and DST (or, before the first copy, the directory DST
// will be made in) as this machine does; a table on stdout says how each
// did. The exit code is 1 if any could not be used.
func checkHosts(specs []hosts.Host, got []*copier.Host, errs []error, src, dst string, stdout io.Writer) int {
	src, _ = filepath.Abs(src)
	dir, _ := filepath.Abs(dst)
	for {
		if info, err := os.Stat(dir); err == nil && info.IsDir() {
			break
		}
		if dir == filepath.Dir(dir) {
			break
		}
		dir = filepath.Dir(dir)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSTATE\tWORKERS\tCPUS\tUID\tPCOPY\tWHY")
	code := exitOK
	for i, h := range got {
		if errs[i] != nil {
			name := specs[i].Target()
			fmt.Fprintf(tw, "%s\tunreachable\t-\t-\t-\t-\t%s\n", name, strings.TrimPrefix(errs[i].Error(), "host "+name+": "))
			code = exitFailed
			continue
		}
		state, why := "ok", ""
		if err := h.Prove(src, dir, false); err != nil {
			state, why, code = "refused", err.Error(), exitFailed
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", h.Name, state, h.Workers, h.Info.CPUs, h.Info.Uid, h.Info.Pcopy, why)
		h.Close()
	}
	tw.Flush()
	return code
}

// serveAgent is `pcopy --serve-agent [--host-timeout D] [--allow-root
// DIR]...`, what a coordinator's launcher runs on a host: the host's
// agent, on stdin and stdout. It returns the exit code.
func serveAgent(args []string) int {
	timeout := 60 * time.Second
	var allow []string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--allow-root" && i+1 < len(args):
			if !filepath.IsAbs(args[i+1]) {
				fmt.Fprintf(os.Stderr, "pcopy: error: --serve-agent: --allow-root %q is not an absolute path\n", args[i+1])
				return exitUsage
			}
			allow = append(allow, args[i+1])
			i++
		case args[i] == "--host-timeout" && i+1 < len(args):
			d, err := time.ParseDuration(args[i+1])
			if err != nil || d <= 0 {
				fmt.Fprintf(os.Stderr, "pcopy: error: --serve-agent: bad --host-timeout %q\n", args[i+1])
				return exitUsage
			}
			timeout = d
			i++
		default:
			fmt.Fprintf(os.Stderr, "pcopy: error: --serve-agent: unknown argument %q\n", args[i])
			return exitUsage
		}
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pcopy: error: --serve-agent: cannot find the pcopy binary: %v\n", err)
		return exitFailed
	}
	// The coordinator decides what a Ctrl-C or a closed terminal means;
	// SIGTERM (or the connection ending) stops the agent and its workers.
	signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE)
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	err = copier.ServeAgent(ctx, os.Stdin, os.Stdout, copier.AgentConfig{
		Exe: exe, Version: version(), Timeout: timeout, AllowRoots: allow})
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "pcopy: agent: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// describeHosts is the line that says where the workers run.
func describeHosts(local int, hs []*copier.Host) string {
	var parts []string
	if local > 0 {
		parts = append(parts, fmt.Sprintf("%d here", local))
	}
	for _, h := range hs {
		parts = append(parts, fmt.Sprintf("%d on %s", h.Workers, h.Name))
	}
	return "workers: " + strings.Join(parts, ", ")
}

// hostLine says what one machine did, after the summary line.
func hostLine(h copier.HostSummary) string {
	name := h.Name
	if name == "" {
		name = "here"
	}
	workers := "workers"
	if h.Workers == 1 {
		workers = "worker"
	}
	line := fmt.Sprintf("  %s: %d %s, %d done, %d failed, %s", name, h.Workers, workers, h.Done, h.Failed, progress.HumanBytes(h.Bytes))
	if h.State == "ok" && h.Failures > 0 {
		line += fmt.Sprintf("; lost %s, reached again", hosts.Times(h.Failures))
	}
	switch h.State {
	case "lost":
		line += "; lost (" + h.Reason + "), its jobs went to the others"
	case "dropped":
		line += "; dropped (" + h.Reason + "), its jobs went to the others"
	case "refused":
		line += "; refused"
	}
	return line
}
