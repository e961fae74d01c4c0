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
// above it) elsewhere meanwhile, as rm -r, find and fts reach a tree
// through the descriptors they hold: the moved directory is worked in
// where it now is (what is added to it there included) until it is
// evicted. Proving instead that a kept directory is still at its path
// means walking up to the root: the quadratic cost this avoids. This
// reaches nothing its mover could not: moving a directory to another
// parent takes write permission on it and on both parents, so the mover
// can already create, remove and rename entries in it; what pcopy writes
// there has SRC's owners and modes. A symlink in place of a directory
// below a kept one is refused as anywhere; one in place of a directory
// above it is not followed either: the kept one is used where it is.
// Removing or renaming a directory through this package forgets what is
// kept at or below it, in this process (each worker keeps its own; none
// works below a directory another removes). What is being opened to be
// kept while one is forgotten is used once, not kept.
//
// README says this under "Not covered".

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
	m       map[spineKey]*spineEntry
	lru     list.List    // most recently used first
	kept    atomic.Int32 // len(m), read without the lock
	opening atomic.Int32 // spineOf calls opening a directory to keep
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
// root while CountWalked is on, for tests that tell a linear resolution
// from a quadratic one.
var SpineWalked atomic.Int64

var countWalked atomic.Bool

// CountWalked turns SpineWalked's count on or off (off: no shared counter
// written by every operation of every goroutine).
func CountWalked(on bool) { countWalked.Store(on) }

func walked(n int) {
	if countWalked.Load() {
		SpineWalked.Add(int64(n))
	}
}

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
		walked(n)
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
	walked(components(rest))
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
	// A rename or removal (forget) while it is opened, or the root
	// released, and what is opened is used once, not kept: it may be
	// the directory that went.
	gen := r.spineGen
	spines.opening.Add(1)
	spines.Unlock()
	defer spines.opening.Add(-1) // after it is kept: see forgetPath
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
	walked(components(rest))
	fd, err := openBeneath(from, rest, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, symlinkErr(err)
	}
	if spineOpened != nil {
		spineOpened()
	}
	spines.Lock()
	defer spines.Unlock()
	if r.spineGen != gen || r.spineClosed {
		return &spineEntry{fd: fd, refs: 1, dropped: true}, nil
	}
	if e := spines.m[key]; e != nil { // another goroutine kept it meanwhile
		unix.Close(fd)
		e.refs++
		spines.lru.MoveToFront(e.elem)
		return e, nil
	}
	if spines.m == nil {
		spines.m = make(map[spineKey]*spineEntry)
	}
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

// spineOpened, when a test sets it, is called between the opening of a
// directory to keep and its keeping.
var spineOpened func()

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
	r.spineGen++ // and not kept if being opened now
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
	// In this order: spineOf counts itself out of opening only after
	// what it kept is counted in kept.
	if spines.opening.Load() == 0 && spines.kept.Load() == 0 {
		return // nothing kept, nothing being opened that would be
	}
	if r, rel := find(p); r != nil && !r.follow {
		forget(r, rel)
	}
}

// closeSpines stops keeping anything of the root r, which is released.
func closeSpines(r *root) {
	spines.Lock()
	r.spineClosed = true
	spines.Unlock()
	forget(r, "")
}
