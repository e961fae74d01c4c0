// Package hosts reads the hosts a copy runs workers on (from --hosts, a
// hostfile, or a Slurm job's node list) and makes the command lines that
// start pcopy there through a launcher the user already has (ssh, srun,
// mpirun, kubectl). It only computes: nothing here runs anything.
package hosts

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// MaxWorkers is the most workers a host may be given.
const MaxWorkers = 1024

// A Host is a machine to run workers on, as the user named it.
type Host struct {
	Name    string // its host name or address (an IPv6 address without brackets)
	User    string // who to log in as; "" for the launcher's default
	Workers int    // how many workers it runs; 0 for as many as it has CPUs
}

// Target is what a launcher is given to reach the host: "user@name", or
// "name" when there is no user.
func (h Host) Target() string {
	if h.User == "" {
		return h.Name
	}
	return h.User + "@" + h.Name
}

// String is the host as it would be listed: "alice@node3:16", with an
// IPv6 address in brackets ("[::1]:4").
func (h Host) String() string {
	name := h.Name
	if strings.Contains(name, ":") {
		name = "[" + name + "]"
	}
	if h.User != "" {
		name = h.User + "@" + name
	}
	if h.Workers > 0 {
		name += ":" + strconv.Itoa(h.Workers)
	}
	return name
}

// Parse reads a comma-separated list of hosts, each "[user@]host[:workers]"
// ("node1,node2:16,alice@node3", "[::1]:4" for an IPv6 address), and
// returns them in order. A host may be listed only once.
func Parse(list string) ([]Host, error) {
	var hosts []Host
	seen := make(map[Host]bool)
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Errorf("empty host name in the list")
		}
		h, err := parseSpec(item)
		if err != nil {
			return nil, err
		}
		key := Host{Name: h.Name, User: h.User}
		if seen[key] {
			return nil, fmt.Errorf("host %q listed twice", key.Target())
		}
		seen[key] = true
		hosts = append(hosts, h)
	}
	return hosts, nil
}

// ParseFile reads a hostfile: a host a line, as "[user@]host[:workers]" or
// as "host slots=N" (an MPI hostfile's form, N workers). A "#" starts a
// comment; blank lines are skipped. A host may be listed only once.
func ParseFile(r io.Reader) ([]Host, error) {
	var hosts []Host
	seen := make(map[Host]int)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		h, err := parseSpec(fields[0])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		for _, f := range fields[1:] {
			value, ok := strings.CutPrefix(f, "slots=")
			if !ok {
				return nil, fmt.Errorf("line %d: %q: want [user@]host[:workers] or host slots=N", n, f)
			}
			if h.Workers != 0 {
				return nil, fmt.Errorf("line %d: the number of workers is given twice", n)
			}
			if h.Workers, err = parseWorkers(value); err != nil {
				return nil, fmt.Errorf("line %d: %q: %w", n, f, err)
			}
		}
		key := Host{Name: h.Name, User: h.User}
		if first, ok := seen[key]; ok {
			return nil, fmt.Errorf("line %d: host %q listed twice (first on line %d)", n, key.Target(), first)
		}
		seen[key] = n
		hosts = append(hosts, h)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("no hosts in the file")
	}
	return hosts, nil
}

// parseSpec reads one "[user@]host[:workers]".
func parseSpec(spec string) (Host, error) {
	var h Host
	rest := spec
	if user, after, ok := strings.Cut(spec, "@"); ok {
		if err := checkName("user", user); err != nil {
			return Host{}, fmt.Errorf("host %q: %w", spec, err)
		}
		h.User, rest = user, after
	}
	workers := ""
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return Host{}, fmt.Errorf("host %q: no closing bracket", spec)
		}
		h.Name = rest[1:end]
		switch after := rest[end+1:]; {
		case after == "":
		case after == ":":
			return Host{}, fmt.Errorf("host %q: no number of workers after the colon", spec)
		case after[0] == ':':
			workers = after[1:]
		default:
			return Host{}, fmt.Errorf("host %q: %q after the bracketed address", spec, after)
		}
		if h.Name == "" {
			return Host{}, fmt.Errorf("host %q: empty host name", spec)
		}
	} else {
		var ok bool
		h.Name, workers, ok = strings.Cut(rest, ":")
		if ok && strings.Contains(workers, ":") {
			return Host{}, fmt.Errorf("host %q: an IPv6 address goes in brackets, as in [::1]:4", spec)
		}
		if ok && workers == "" {
			return Host{}, fmt.Errorf("host %q: no number of workers after the colon", spec)
		}
	}
	if strings.ContainsAny(h.Name, "[]") {
		return Host{}, fmt.Errorf("host %q: brackets go around a whole IPv6 address, as in [::1]:4", spec)
	}
	if err := checkName("host name", h.Name); err != nil {
		return Host{}, fmt.Errorf("host %q: %w", spec, err)
	}
	if workers != "" {
		n, err := parseWorkers(workers)
		if err != nil {
			return Host{}, fmt.Errorf("host %q: %w", spec, err)
		}
		h.Workers = n
	}
	return h, nil
}

// parseWorkers reads a number of workers: a whole number from 1 to
// MaxWorkers.
func parseWorkers(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxWorkers || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("the number of workers must be a whole number from 1 to %d", MaxWorkers)
	}
	return n, nil
}

// checkName says what is wrong with a host name or user name (what says
// which), if anything.
func checkName(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s", what)
	case strings.HasPrefix(s, "-"):
		return fmt.Errorf("a %s must not start with \"-\" (ssh would take it for an option)", what)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		return fmt.Errorf("a %s must not contain spaces or control characters", what)
	case strings.ContainsAny(s, "/@,"):
		return fmt.Errorf("a %s must not contain \"/\", \"@\" or \",\"", what)
	}
	return nil
}

// Times is "once", "twice", "3 times": how often a host was lost.
func Times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}
