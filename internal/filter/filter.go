// Package filter decides which entries of a tree a copy leaves out, from
// rsync-like exclude and include patterns.
package filter

import (
	"fmt"
	"path"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Filter patterns (Options.Exclude, Options.Include) are rsync's and
// gitignore's globs: "*" and "?" within a name, "[a-z]" classes, "**"
// across directories. A pattern without a slash matches an entry's name at
// any depth ("*.o"); one with a slash matches its path from SRC ("build/
// *.o", "/top-only", "docs/**/*.tmp"); a trailing slash matches only
// directories ("cache/"). An entry is left out when an exclude pattern
// matches it and no include pattern does; a directory left out is not
// entered. So to copy only Go files: include "*/" and "*.go", exclude "*".

type rule struct {
	pattern  string
	anchored bool // matched against the whole path, not the name
	dirOnly  bool
}

// A Filter decides which entries of SRC are copied. A nil *Filter leaves
// nothing out.
type Filter struct {
	exclude, include []rule
}

// Hint says what the patterns may be, for a user whose pattern New refused.
const Hint = `globs: * ? [a-z] within a name, ** across directories; a slash anchors to SRC`

// New compiles the patterns; nil when there are none. Its error names the
// option and the pattern: --exclude "[": not a valid pattern.
func New(exclude, include []string) (*Filter, error) {
	if len(exclude) == 0 {
		return nil, nil // includes only ever take back what is excluded
	}
	f := &Filter{}
	for _, set := range []struct {
		patterns []string
		rules    *[]rule
		flag     string
	}{{exclude, &f.exclude, "exclude"}, {include, &f.include, "include"}} {
		for _, p := range set.patterns {
			r, err := compileRule(p)
			if err != nil {
				return nil, fmt.Errorf("--%s %q: %v", set.flag, p, err)
			}
			*set.rules = append(*set.rules, r)
		}
	}
	return f, nil
}

func compileRule(p string) (rule, error) {
	var r rule
	if strings.HasSuffix(p, "/") {
		r.dirOnly = true
		p = strings.TrimRight(p, "/")
	}
	if strings.Contains(p, "/") {
		r.anchored = true
		p = strings.TrimPrefix(p, "/")
	}
	if p == "" {
		return r, fmt.Errorf("empty pattern")
	}
	if !doublestar.ValidatePattern(p) {
		return r, fmt.Errorf("not a valid pattern")
	}
	r.pattern = p
	return r, nil
}

func (r rule) matches(rel string, isDir bool) bool {
	if r.dirOnly && !isDir {
		return false
	}
	name := rel
	if !r.anchored {
		name = path.Base(rel)
	}
	ok, _ := doublestar.Match(r.pattern, name)
	return ok
}

// Excluded says whether the entry rel (slash-separated, below SRC) is left
// out of the copy.
func (f *Filter) Excluded(rel string, isDir bool) bool {
	if f == nil || rel == "" {
		return false
	}
	hit := false
	for _, r := range f.exclude {
		if r.matches(rel, isDir) {
			hit = true
			break
		}
	}
	if !hit {
		return false
	}
	for _, r := range f.include {
		if r.matches(rel, isDir) {
			return false
		}
	}
	return true
}
