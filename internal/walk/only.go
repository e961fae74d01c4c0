package walk

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Only is the set of paths a walk lists (--files-from): each path listed,
// and the directories above them, which it enters to reach them. A
// directory listed is listed itself, not what it holds (unless that is
// listed too).
type Only struct {
	listed map[string]bool // relative, clean
	above  map[string]bool // directories with something listed below them
}

// ErrNotInSrc is a path listed that SRC does not have.
var ErrNotInSrc = errors.New("listed in --files-from but not in SRC")

// NewOnly makes the set of paths, each relative to the root ("./a/b",
// "a/b" and "/a/b" are one path). A path that climbs out of the root
// ("../x", "a/../../x") is refused, with an error naming it.
func NewOnly(paths []string) (*Only, error) {
	o := &Only{listed: make(map[string]bool, len(paths)), above: make(map[string]bool)}
	for _, p := range paths {
		if p == "" {
			continue
		}
		if escapes(p) {
			return nil, fmt.Errorf("%q climbs out of SRC", p)
		}
		rel := path.Clean("/" + p)[1:] // "" for the root
		if rel == "" {
			continue // the root: always listed
		}
		o.listed[rel] = true
		for d := path.Dir(rel); d != "." && !o.above[d]; d = path.Dir(d) {
			o.above[d] = true
		}
	}
	return o, nil
}

// escapes says whether p, cleaned as a relative path, climbs above its root.
func escapes(p string) bool {
	c := path.Clean(strings.TrimLeft(p, "/"))
	return c == ".." || strings.HasPrefix(c, "../")
}

// wanted says whether the walk looks at rel at all.
func (o *Only) wanted(rel string) bool { return o == nil || o.listed[rel] || o.above[rel] }

// enters says whether the walk lists what directory rel holds.
func (o *Only) enters(rel string) bool { return o == nil || rel == "" || o.above[rel] }

// missing returns the paths listed that are not in seen and not below a
// directory in cut (one left out, or not entered), sorted.
func (o *Only) missing(seen, cut map[string]bool) []string {
	var out []string
	for rel := range o.listed {
		if seen[rel] || below(rel, cut) {
			continue
		}
		out = append(out, rel)
	}
	sort.Strings(out)
	return out
}

func below(rel string, dirs map[string]bool) bool {
	for d := path.Dir(rel); d != "."; d = path.Dir(d) {
		if dirs[d] {
			return true
		}
	}
	return false
}
