package beneath

import (
	"container/list"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Deep trees. Resolving a path from its root walks every component of it,
// so in a chain of directories 20,000 deep each operation near the bottom
// would walk 20,000 components (and past PATH_MAX, make as many system
// calls): the copy would be quadratic in depth. Instead, a directory whose
// depth below its root is a multiple of spineEvery is kept open (an
// O_PATH descriptor, opened beneath its own spine ancestor without
// following symlinks, like any other), and a deeper path is resolved from
// its nearest such ancestor: never more than spineEvery components per
// operation, whatever the depth. Paths less deep than spineEvery are
// resolved from the root as before, and nothing is kept for them.
//
// What this changes: below a kept directory, what is reached is what is
// in that directory, even if another user renames it (or a directory
// above it) elsewhere meanwhile, as rm -r and find reach a tree through
// the descriptors they hold. Nothing is followed that was not in the
// tree when it was opened: a directory can only be renamed where its
// renamer may write, and it holds what it held. Removing or renaming a
// directory through this package forgets what is kept at or below it.

// spineEvery is the depth between two directories kept open.
const spineEvery = 64

// spineKey names a kept directory: its root, and its path below it.
type spineKey struct {
	r   *root
	rel string
}

type spineEntry struct {
	key     spineKey
	fd      int
	refs    int  // users of fd now
	dropped bool // no longer kept: closed when the last user is done
	elem    *list.Element
}

var spines struct {
	sync.Mutex
	m    map[spineKey]*spineEntry
	lru  list.List    // most recently used first
	kept atomic.Int32 // len(m), read without the lock
}

// spineMax is how many directories are kept open at most in this process
// (the least recently used go first); fewer where the limit on open files
// is low. A chain 20,000 deep needs 312.
var spineMax = func() int {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 16
	}
	return int(min(max(lim.Cur/16, 16), 1024))
}()

// SpineWalked counts the components resolved from a kept directory or a
// root since the process started, for tests that tell a linear resolution
// from a quadratic one.
var SpineWalked atomic.Int64

// components counts the components of a slash-separated relative path.
func components(rel string) int {
	if rel == "" {
		return 0
	}
	return strings.Count(rel, "/") + 1
}

// dropLast returns rel without its last k components (k less than it
// has), looking only at those: in a deep path they are near its end.
func dropLast(rel string, k int) string {
	for ; k > 0; k-- {
		rel = rel[:strings.LastIndexByte(rel, '/')]
	}
	return rel
}

// base returns a descriptor to resolve the directory dir (relative to the
// root r, whose descriptor is rootfd) from, and dir's path below it
// ("" when it is dir itself); release is called once the descriptor is
// used.
func base(r *root, rootfd int, dir string) (fd int, rest string, release func(), err error) {
	n := components(dir)
	if n < spineEvery {
		SpineWalked.Add(int64(n))
		return rootfd, dir, noop, nil
	}
	keep := dropLast(dir, n%spineEvery)
	e, err := spineOf(r, rootfd, keep, n-n%spineEvery)
	if err != nil {
		return -1, "", noop, err
	}
	if len(keep) < len(dir) {
		rest = dir[len(keep)+1:]
	}
	SpineWalked.Add(int64(components(rest)))
	return e.fd, rest, func() { releaseSpine(e) }, nil
}

// spineOf returns the kept directory rel (n components deep, a multiple of
// spineEvery), opening it from the one above it if it is not kept. The
// caller releases it.
func spineOf(r *root, rootfd int, rel string, n int) (*spineEntry, error) {
	key := spineKey{r, rel}
	spines.Lock()
	if e := spines.m[key]; e != nil {
		e.refs++
		spines.lru.MoveToFront(e.elem)
		spines.Unlock()
		return e, nil
	}
	spines.Unlock()
	from, rest := rootfd, rel
	var above *spineEntry
	if n > spineEvery {
		up := dropLast(rel, spineEvery)
		var err error
		if above, err = spineOf(r, rootfd, up, n-spineEvery); err != nil {
			return nil, err
		}
		defer releaseSpine(above)
		from, rest = above.fd, rel[len(up)+1:]
	}
	SpineWalked.Add(int64(components(rest)))
	fd, err := openBeneath(from, rest, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, symlinkErr(err)
	}
	spines.Lock()
	defer spines.Unlock()
	if e := spines.m[key]; e != nil { // another goroutine kept it meanwhile
		unix.Close(fd)
		e.refs++
		spines.lru.MoveToFront(e.elem)
		return e, nil
	}
	if spines.m == nil {
		spines.m = make(map[spineKey]*spineEntry)
	}
	key.rel = rel
	if above != nil { // in a chain, kept paths share their bytes
		key.rel = r.spinePaths.Join(above.key.rel, rest)
	} else {
		key.rel = strings.Clone(rel) // not the whole path it was cut from
	}
	e := &spineEntry{key: key, fd: fd, refs: 1}
	e.elem = spines.lru.PushFront(e)
	spines.m[key] = e
	spines.kept.Add(1)
	for len(spines.m) > spineMax {
		dropSpineLocked(spines.lru.Back().Value.(*spineEntry))
	}
	return e, nil
}

func releaseSpine(e *spineEntry) {
	spines.Lock()
	defer spines.Unlock()
	e.refs--
	if e.dropped && e.refs == 0 {
		unix.Close(e.fd)
	}
}

// dropSpineLocked stops keeping e; its descriptor is closed once unused.
func dropSpineLocked(e *spineEntry) {
	delete(spines.m, e.key)
	spines.kept.Add(-1)
	spines.lru.Remove(e.elem)
	e.dropped = true
	if e.refs == 0 {
		unix.Close(e.fd)
	}
}

// forget stops keeping the directories of root r at rel and below it: rel
// was removed or renamed.
func forget(r *root, rel string) {
	spines.Lock()
	defer spines.Unlock()
	if len(spines.m) == 0 {
		return
	}
	for el := spines.lru.Front(); el != nil; {
		e := el.Value.(*spineEntry)
		el = el.Next()
		if e.key.r == r && (rel == "" || e.key.rel == rel || strings.HasPrefix(e.key.rel, rel) && e.key.rel[len(rel)] == '/') {
			dropSpineLocked(e)
		}
	}
}

// forgetPath is forget for the full path p, if it is below a held root.
func forgetPath(p string) {
	if spines.kept.Load() == 0 {
		return
	}
	if r, rel := find(p); r != nil && !r.follow {
		forget(r, rel)
	}
}
