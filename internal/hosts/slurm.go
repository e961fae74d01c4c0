package hosts

import (
	"fmt"
	"strconv"
	"strings"
)

// maxExpand is the most host names ExpandSlurm makes from one hostlist.
const maxExpand = 65536

// ExpandSlurm expands a Slurm hostlist into host names, as `scontrol show
// hostnames` does: "node[01-03,07],gpu[1-2]-ib,login" is node01, node02,
// node03, node07, gpu1-ib, gpu2-ib and login. Numbers are padded with
// zeros to the width of a range's lower bound; a name with several
// bracketed groups has every combination, the last group varying fastest.
func ExpandSlurm(nodelist string) ([]string, error) {
	items, err := splitHostlist(strings.TrimSpace(nodelist))
	if err != nil {
		return nil, fmt.Errorf("hostlist %q: %w", nodelist, err)
	}
	parsed := make([][]segment, len(items))
	total := 0
	for i, item := range items {
		segs, n, err := parseHostlistItem(item)
		if err != nil {
			return nil, fmt.Errorf("hostlist %q: %q: %w", nodelist, item, err)
		}
		if total += n; total > maxExpand {
			return nil, fmt.Errorf("hostlist %q: more than %d host names", nodelist, maxExpand)
		}
		parsed[i] = segs
	}
	names := make([]string, 0, total)
	for _, segs := range parsed {
		names = expandSegments(names, "", segs)
	}
	return names, nil
}

// FromSlurm returns the nodes of the Slurm job it runs in, from its
// environment (read with getenv): SLURM_JOB_NODELIST, or SLURM_NODELIST.
// Each runs as many workers as SLURM_CPUS_ON_NODE says, when it is set,
// or else as many as it has CPUs.
func FromSlurm(getenv func(string) string) ([]Host, error) {
	name := "SLURM_JOB_NODELIST"
	list := getenv(name)
	if list == "" {
		name = "SLURM_NODELIST"
		list = getenv(name)
	}
	if list == "" {
		return nil, fmt.Errorf("not inside a Slurm job: SLURM_JOB_NODELIST is not set")
	}
	names, err := ExpandSlurm(list)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	workers := 0
	if n, err := strconv.Atoi(strings.TrimSpace(getenv("SLURM_CPUS_ON_NODE"))); err == nil && n > 0 {
		workers = min(n, MaxWorkers)
	}
	hosts := make([]Host, 0, len(names))
	seen := make(map[string]bool)
	for _, n := range names {
		if err := checkName("host name", n); err != nil {
			return nil, fmt.Errorf("%s: host %q: %w", name, n, err)
		}
		if seen[n] {
			return nil, fmt.Errorf("%s: host %q listed twice", name, n)
		}
		seen[n] = true
		hosts = append(hosts, Host{Name: n, Workers: workers})
	}
	return hosts, nil
}

// A segment is a piece of a hostlist item: literal text, or (when ranges
// is not nil) a bracketed group of numbers.
type segment struct {
	text   string
	ranges []numRange
}

// A numRange is "lo-hi" (or "lo") in a bracketed group, its numbers
// padded with zeros to width digits.
type numRange struct {
	lo, hi uint64
	width  int
}

// splitHostlist splits a hostlist at the commas outside brackets.
func splitHostlist(list string) ([]string, error) {
	var items []string
	depth, start := 0, 0
	for i := 0; i < len(list); i++ {
		switch list[i] {
		case '[':
			if depth > 0 {
				return nil, fmt.Errorf("brackets within brackets")
			}
			depth++
		case ']':
			if depth == 0 {
				return nil, fmt.Errorf("\"]\" without \"[\"")
			}
			depth--
		case ',':
			if depth == 0 {
				items = append(items, list[start:i])
				start = i + 1
			}
		}
	}
	if depth > 0 {
		return nil, fmt.Errorf("\"[\" without \"]\"")
	}
	items = append(items, list[start:])
	for _, item := range items {
		if item == "" {
			return nil, fmt.Errorf("empty host name")
		}
	}
	return items, nil
}

// parseHostlistItem parses one item of a hostlist (brackets balanced,
// not nested), returning its segments and how many names it makes, or
// an error if that is more than maxExpand.
func parseHostlistItem(item string) ([]segment, int, error) {
	var segs []segment
	count := 1
	for item != "" {
		open := strings.IndexByte(item, '[')
		if open < 0 {
			segs = append(segs, segment{text: item})
			break
		}
		if open > 0 {
			segs = append(segs, segment{text: item[:open]})
		}
		end := strings.IndexByte(item, ']')
		group := item[open+1 : end]
		item = item[end+1:]
		if group == "" {
			return nil, 0, fmt.Errorf("empty brackets")
		}
		seg := segment{}
		n := 0
		for r := range strings.SplitSeq(group, ",") {
			nr, err := parseNumRange(r)
			if err != nil {
				return nil, 0, err
			}
			if nr.hi-nr.lo >= maxExpand {
				return nil, 0, fmt.Errorf("more than %d host names", maxExpand)
			}
			if n += int(nr.hi-nr.lo) + 1; n > maxExpand {
				return nil, 0, fmt.Errorf("more than %d host names", maxExpand)
			}
			seg.ranges = append(seg.ranges, nr)
		}
		if count *= n; count > maxExpand {
			return nil, 0, fmt.Errorf("more than %d host names", maxExpand)
		}
		segs = append(segs, seg)
	}
	return segs, count, nil
}

// parseNumRange parses "lo-hi" or "lo" from a bracketed group.
func parseNumRange(r string) (numRange, error) {
	loText, hiText, isRange := strings.Cut(r, "-")
	if !isRange {
		hiText = loText
	}
	lo, err := parseDigits(loText)
	if err != nil {
		return numRange{}, fmt.Errorf("range %q: %w", r, err)
	}
	hi, err := parseDigits(hiText)
	if err != nil {
		return numRange{}, fmt.Errorf("range %q: %w", r, err)
	}
	if hi < lo {
		return numRange{}, fmt.Errorf("range %q runs backwards", r)
	}
	return numRange{lo: lo, hi: hi, width: len(loText)}, nil
}

// parseDigits parses a number of decimal digits only.
func parseDigits(s string) (uint64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("number %q too large", s)
	}
	return n, nil
}

// expandSegments appends to names every name that starts with prefix and
// goes on as segs says.
func expandSegments(names []string, prefix string, segs []segment) []string {
	if len(segs) == 0 {
		return append(names, prefix)
	}
	seg := segs[0]
	if seg.ranges == nil {
		return expandSegments(names, prefix+seg.text, segs[1:])
	}
	for _, r := range seg.ranges {
		for n := r.lo; ; n++ {
			names = expandSegments(names, fmt.Sprintf("%s%0*d", prefix, r.width, n), segs[1:])
			if n == r.hi {
				break
			}
		}
	}
	return names
}
