// Package treecheck compares two directory trees the way pcopy promises to
// reproduce them: the same entries (names as raw bytes), types, permission
// bits, file contents, symlink targets, and modification times to the
// nanosecond, directories included; on Linux also owners, device numbers,
// extended attributes (ACLs included) and hard-link groups. Tests use it
// to check real copies.
package treecheck

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pcopy/pcopy/internal/longpath"
)

// Options relax the comparison.
type Options struct {
	// IgnoreRootTimes skips the mtime of the roots themselves, for copies
	// whose destination root is not the source's copy (a single file, or
	// a DST that was set up by hand).
	IgnoreRootTimes bool
	// IgnoreDirTimes skips the mtimes of all directories, for a check
	// after something may have added and removed an entry in them.
	IgnoreDirTimes bool
	// Atime compares access times too (reading a file can change its
	// own, so only where nothing read the source since it was copied).
	Atime bool
}

// Compare returns the differences between the trees at src and dst, one
// line each, sorted; none means dst reproduces src.
func Compare(src, dst string, opts Options) ([]string, error) {
	a, err := list(src)
	if err != nil {
		return nil, err
	}
	b, err := list(dst)
	if err != nil {
		return nil, err
	}
	var diffs []string
	for rel, sa := range a {
		sb, ok := b[rel]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%q: missing in destination", rel))
			continue
		}
		diffs = append(diffs, compareEntry(rel, filepath.Join(src, rel), filepath.Join(dst, rel), sa, sb, opts)...)
	}
	for rel := range b {
		if _, ok := a[rel]; !ok {
			diffs = append(diffs, fmt.Sprintf("%q: extra in destination", rel))
		}
	}
	if ga, gb := linkGroups(a), linkGroups(b); ga != gb {
		diffs = append(diffs, fmt.Sprintf("hard-link groups:\n%s\nwant:\n%s", gb, ga))
	}
	sort.Strings(diffs)
	return diffs, nil
}

func compareEntry(rel, pa, pb string, a, b os.FileInfo, opts Options) []string {
	var d []string
	if a.Mode().Type() != b.Mode().Type() {
		return []string{fmt.Sprintf("%q: type %v, want %v", rel, b.Mode().Type(), a.Mode().Type())}
	}
	if a.Mode()&fs.ModeSymlink == 0 && a.Mode() != b.Mode() {
		d = append(d, fmt.Sprintf("%q: mode %v, want %v", rel, b.Mode(), a.Mode()))
	}
	skipTimes := rel == "." && opts.IgnoreRootTimes || a.IsDir() && opts.IgnoreDirTimes
	if !skipTimes && !a.ModTime().Equal(b.ModTime()) {
		d = append(d, fmt.Sprintf("%q: mtime %s, want %s", rel,
			b.ModTime().Format("2006-01-02T15:04:05.000000000"), a.ModTime().Format("2006-01-02T15:04:05.000000000")))
	}
	if opts.Atime && !(rel == "." && opts.IgnoreRootTimes) {
		if ta, tb := atime(a), atime(b); !ta.Equal(tb) {
			d = append(d, fmt.Sprintf("%q: atime %s, want %s", rel,
				tb.Format("2006-01-02T15:04:05.000000000"), ta.Format("2006-01-02T15:04:05.000000000")))
		}
	}
	d = append(d, sysDiffs(rel, pa, pb, a, b)...)
	switch {
	case a.Mode().IsRegular():
		ca, err1 := readFile(pa)
		cb, err2 := readFile(pb)
		if err1 != nil || err2 != nil {
			d = append(d, fmt.Sprintf("%q: cannot read: %v %v", rel, err1, err2))
		} else if !bytes.Equal(ca, cb) {
			d = append(d, fmt.Sprintf("%q: content differs (%d bytes, want %d)", rel, len(cb), len(ca)))
		}
	case a.Mode()&fs.ModeSymlink != 0:
		ta, _ := readlink(pa)
		tb, _ := readlink(pb)
		if ta != tb {
			d = append(d, fmt.Sprintf("%q: link target %q, want %q", rel, tb, ta))
		}
	}
	return d
}

// list maps each entry's path relative to root ("." for root) to its Lstat.
// Root itself is followed if it is a symlink. Paths of any length work.
func list(root string) (map[string]os.FileInfo, error) {
	out := map[string]os.FileInfo{}
	info, err := stat(root)
	if err != nil {
		return nil, err
	}
	out["."] = info
	if !info.IsDir() {
		return out, nil
	}
	return out, walk(root, "", func(rel string, fi os.FileInfo) { out[rel] = fi })
}

// walk calls fn with the path below root and the Lstat of each entry in
// the directory root/rel, depth first.
func walk(root, rel string, fn func(rel string, fi os.FileInfo)) error {
	names, err := readDirNames(filepath.Join(root, rel))
	if err != nil {
		return err
	}
	for _, name := range names {
		r := filepath.Join(rel, name)
		fi, err := lstat(filepath.Join(root, r))
		if err != nil {
			return err
		}
		fn(r, fi)
		if fi.IsDir() {
			if err := walk(root, r, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func readDirNames(p string) ([]string, error) {
	p, done := longpath.Short(p)
	defer done()
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

func lstat(p string) (os.FileInfo, error) {
	p, done := longpath.Short(p)
	defer done()
	return os.Lstat(p)
}

func stat(p string) (os.FileInfo, error) {
	p, done := longpath.Short(p)
	defer done()
	return os.Stat(p)
}

func readFile(p string) ([]byte, error) {
	p, done := longpath.Short(p)
	defer done()
	return os.ReadFile(p)
}

func readlink(p string) (string, error) {
	p, done := longpath.Short(p)
	defer done()
	return os.Readlink(p)
}

// TempFiles returns the pcopy temporary files left anywhere below root.
func TempFiles(root, prefix string) []string {
	var left []string
	walk(root, "", func(rel string, fi os.FileInfo) {
		if strings.HasPrefix(fi.Name(), prefix) {
			left = append(left, filepath.Join(root, rel))
		}
	})
	return left
}
