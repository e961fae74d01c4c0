// Package beneath reaches entries below a root directory (SRC or DST)
// without following a symlink in any component of the path below the root,
// so that a directory swapped for a symlink while a copy runs cannot lead an
// operation outside the root. (In deep trees, directories 64, 128 ...
// levels down are kept open and deeper paths resolved from them: one of
// them renamed elsewhere meanwhile is worked in where it is; see
// spine_linux.go.)
//
// A root is held with [Hold] for as long as paths below it are used. Every
// function here takes a full path: below a held root, the directory holding
// the entry is opened from the root's descriptor with openat2 and
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS (Linux 5.6 and
// later), or component by component with O_NOFOLLOW|O_DIRECTORY on older
// kernels, and the operation acts on the last component relative to that
// descriptor without following it (the *at system calls with
// AT_SYMLINK_NOFOLLOW, or O_NOFOLLOW). A path outside every held root (the
// directory holding DST, say) is used as it is: the user named it.
//
// The root itself is the user's choice, resolved when the copy was planned;
// a root held with follow set (the source of a copy that follows symlinks,
// as cp -L) is reached by path, following symlinks, as asked.
//
// On systems other than Linux the same functions work by path, after
// checking with lstat that no component below the root is a symlink: that
// check and the use are not atomic, which README says.
package beneath

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pcopy/pcopy/internal/sharedpath"
)

// ErrSymlink is what an operation fails with when a component of the path
// below its root is a symlink (or, on Linux, not a directory any more):
// the tree changed since it was listed and the path is not followed.
var ErrSymlink = errors.New("a directory on its path was replaced (by a symlink or a file); not followed")

// Op names an operation, for the test hook.
type Op string

const (
	OpOpenDir Op = "opendir" // open a directory (to list it, or to set its metadata through its descriptor)
	OpOpen    Op = "open"    // open a file
	OpCreate  Op = "create"  // create a file, FIFO, device node or symlink
	OpMkdir   Op = "mkdir"
	OpChmod   Op = "chmod"
	OpChown   Op = "chown"
	OpTimes   Op = "times"
	OpRename  Op = "rename"
	OpUnlink  Op = "unlink"
	OpStat    Op = "stat"
	OpXattr   Op = "xattr"
)

// TestHook, when set (by a test, before any copy starts), is called before
// each operation on a path below a held root, with the operation and the
// full path: the moment a hostile user would swap a directory for a
// symlink.
var TestHook func(op Op, path string)

// Hook calls TestHook, for an operation on p done through a descriptor
// its caller holds rather than through this package.
func Hook(op Op, p string) { hook(op, p) }

func hook(op Op, p string) {
	if TestHook != nil {
		TestHook(op, p)
	}
}

// root is a held root directory.
type root struct {
	path   string // clean, absolute
	follow bool
	refs   int

	mu sync.Mutex   // held while the root is opened
	fd atomic.Int64 // opened on first use (DST may not exist when it is held); -1 before

	// Under spines' lock (Linux): the paths of its kept directories, how
	// many times a path below it was forgotten, and whether it was
	// released.
	spinePaths  sharedpath.Builder
	spineGen    uint64
	spineClosed bool
}

var held struct {
	sync.RWMutex
	roots []*root
}

// Hold makes path (absolute, clean) a root below which paths are resolved
// without following symlinks (or, with follow, by path as they are) until
// the returned function is called. Holding a root already held adds a
// reference.
func Hold(path string, follow bool) (release func()) {
	path = filepath.Clean(path)
	held.Lock()
	defer held.Unlock()
	for _, r := range held.roots {
		if r.path == path && r.follow == follow {
			r.refs++
			return func() { drop(r) }
		}
	}
	r := &root{path: path, follow: follow, refs: 1}
	r.fd.Store(-1)
	held.roots = append(held.roots, r)
	return func() { drop(r) }
}

// HoldRoots holds a copy's roots, SRC, DST and the --link-dest directory
// if any (see Hold): below them every path is reached without following
// symlinks (SRC by path, following them, with deref), until the returned
// function is called.
func HoldRoots(src, dst, linkDest string, deref bool) (release func()) {
	releases := []func(){Hold(src, deref), Hold(dst, false)}
	if linkDest != "" {
		releases = append(releases, Hold(linkDest, false))
	}
	return func() {
		for _, r := range releases {
			r()
		}
	}
}

func drop(r *root) {
	held.Lock()
	defer held.Unlock()
	r.refs--
	if r.refs > 0 {
		return
	}
	for i, x := range held.roots {
		if x == r {
			held.roots = append(held.roots[:i], held.roots[i+1:]...)
			break
		}
	}
	closeRoot(r)
}

// find returns the innermost held root that p is strictly below, and p's
// slash-separated path relative to it.
func find(p string) (*root, string) {
	held.RLock()
	defer held.RUnlock()
	var best *root
	var rel string
	for _, r := range held.roots {
		rest, ok := strings.CutPrefix(p, r.path)
		if !ok || rest == "" {
			continue
		}
		if !strings.HasSuffix(r.path, string(filepath.Separator)) { // "/", `C:\` end with one
			if rest[0] != filepath.Separator {
				continue
			}
			rest = rest[1:]
		}
		if rest == "" {
			continue
		}
		if best == nil || len(r.path) > len(best.path) {
			best, rel = r, filepath.ToSlash(rest)
		}
	}
	return best, rel
}

// Below says whether p is strictly below a held root that is not followed:
// where this package, not the path, decides what is reached.
func Below(p string) bool {
	r, _ := find(p)
	return r != nil && !r.follow
}

// splitRel splits a slash-separated relative path into its directory ("" for
// the root) and last element.
func splitRel(rel string) (dir, name string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}
