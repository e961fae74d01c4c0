// Package walk lists a source tree for a copy: depth first, in name order,
// an lstat of each entry, directories announced before their entries and
// ended after them, handed over in chunks through a bounded channel so
// that memory stays flat however large the tree. On Linux it works
// relative to open directory descriptors, as many as the file limit
// allows, and reaches deeper ones from the root through package beneath.
package walk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/filter"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/sharedpath"
)

// The walk has two halves. A lister goroutine (this package) reads the
// source depth first (each directory's names, an lstat of each entry:
// reading only, no state shared) and hands the entries over in order, in
// chunks, through a bounded channel. The copier's coordinator takes them
// one at a time as the dispatcher asks for work, creating destination
// directories and making tasks. So the
// source is read on one core while the coordinator creates directories
// and talks to workers on another (on a tree of empty files and
// directories, one thread doing both was what every worker waited for),
// and memory stays flat: the lister runs at most chunksAhead chunks ahead,
// and holds the names of the directories it is in, not of the tree.

// Kind says what an Entry is.
type Kind uint8

const (
	Other    Kind = iota // not a directory, or lstat failed: info or err says
	Dir                  // a directory begins: its entries follow, then an entryEnd
	End                  // the innermost directory begun has no more entries
	Excluded             // left out by the filter (a directory: not entered)
	Refused              // a directory not entered, err says why (it is DST): a warning
)

// ErrIsDst is why the walk does not enter a directory of SRC that is DST
// itself, reached through a bind mount: the copy would copy itself.
var ErrIsDst = errors.New("is DST itself (a bind mount?); not copied into itself")

// Entry is one step of the walk of the source.
type Entry struct {
	Kind Kind
	Rel  string
	Info os.FileInfo // nil for End
	Err  error       // Other: lstat failed; Dir: listing it failed
	// Dir: the lister saw that the directory has no extended
	// attributes (false: it has some, or the lister could not tell).
	NoXattrs bool
}

const (
	chunkEntries = 256 // entries per handover, when the lister is ahead
	chunksAhead  = 8
)

// MaxDirFds is how deep a lister keeps directories open to work relative
// to them, at most; deeper, it reaches them from SRC's root (see package
// beneath). Where the limit on open files (RLIMIT_NOFILE, ulimit -n) leaves
// less room beside the workers' pipes, fewer (see DirFdBudget).
const MaxDirFds = 64

// Spec is what a lister walks and how.
type Spec struct {
	Root     string
	RootInfo os.FileInfo
	Dst      os.FileInfo // DST's root, never entered (nil: none yet)
	Deref    bool        // follow symlinks (--dereference)
	Filter   *filter.Filter
	// MinSize and MaxSize, when positive, leave out (Excluded) regular
	// files smaller or larger than that.
	MinSize, MaxSize int64
	// OneFilesystem: a directory on another mount than Root (another
	// filesystem, or a bind mount) is listed with no entries, as rsync
	// -x and find -xdev do (Linux; see OneFilesystemWorks).
	OneFilesystem bool
	// Only, if set, is what the walk lists (--files-from); a path listed
	// that is not there is an entry with ErrNotInSrc, at the end.
	Only   *Only
	MaxFds int  // directories it may keep open (0: one)
	OS     bool // the filesystem is the operating system's: work relative to open directories
}

// readBatch is how many names of a huge directory are read at a time.
const readBatch = 4096

// lister walks the source and sends its entries to the coordinator.
type lister struct {
	fs               afero.Fs
	root             string
	useFds           bool // list and lstat relative to open directories
	os               bool // fs is the operating system's
	deref            bool // follow symlinks (Options.Dereference)
	filter           *filter.Filter
	minSize, maxSize int64
	oneFS            bool            // Spec.OneFilesystem
	only             *Only           // Spec.Only
	seen             map[string]bool // with only: the paths listed that were met
	cut              map[string]bool // with only: directories left out or not entered
	rootMount        uint64          // with oneFS: the mount Root is on
	dst              os.FileInfo     // DST's root, never entered (nil: none yet)
	maxFds           int
	openFds          int // frames of stack with a descriptor open
	closeFrom        int // frames of stack below it have had theirs closed, but where more
	out              chan<- []Entry
	quit             <-chan struct{}
	chunk            []Entry
	stack            []*listFrame       // the directories it is in, innermost last
	dirPaths         sharedpath.Builder // makes their paths: in a chain, one buffer
}

// listFrame is a directory the lister is in.
type listFrame struct {
	rel   string
	fd    int         // open directory, or -1: work by path
	info  os.FileInfo // for telling a symlink loop (when following symlinks)
	names []string    // sorted, unless more
	next  int
	more  bool // names is a batch; the rest is read from fd as the walk goes
}

// Start starts the walk that s describes; it stops early when quit
// closes. The channel closes at the end.
func Start(fsys afero.Fs, s Spec, quit <-chan struct{}) <-chan []Entry {
	out := make(chan []Entry, chunksAhead)
	l := &lister{fs: fsys, root: s.Root, useFds: dirFds && s.OS, os: s.OS, deref: s.Deref, filter: s.Filter, dst: s.Dst,
		minSize: s.MinSize, maxSize: s.MaxSize, oneFS: s.OneFilesystem, only: s.Only, maxFds: max(s.MaxFds, 1), out: out, quit: quit}
	if s.Only != nil {
		l.seen, l.cut = make(map[string]bool), make(map[string]bool)
	}
	go l.run(s.RootInfo)
	return out
}

// run walks the tree, then closes out; it stops early when quit closes.
func (l *lister) run(rootInfo os.FileInfo) {
	defer close(l.out)
	defer func() {
		for _, f := range l.stack {
			f.close()
		}
	}()
	if l.oneFS {
		var err error
		if l.rootMount, err = mountOf(-1, "", l.root, true); err != nil {
			l.emit(Entry{Kind: Dir, Rel: "", Info: rootInfo, Err: err})
			l.emit(Entry{Kind: End, Rel: ""})
			return
		}
	}
	if !l.enter(nil, "", rootInfo, false) {
		return
	}
	for len(l.stack) > 0 {
		top := l.stack[len(l.stack)-1]
		if top.next == len(top.names) && top.more {
			// A huge directory: its next batch of names.
			names, eof, err := readDirBatch(top.fd, readBatch)
			top.names, top.next, top.more = names, 0, !eof && err == nil
			if err != nil && !l.emit(Entry{Kind: Other, Rel: top.rel, Err: err}) {
				return
			}
			continue
		}
		if top.next == len(top.names) {
			l.pop()
			if !l.emit(Entry{Kind: End, Rel: top.rel}) {
				return
			}
			continue
		}
		name := top.names[top.next]
		top.next++
		if top.next == len(top.names) && !top.more {
			// Its last entry: nothing of its names is held while the
			// walk is below it (in a chain 20,000 deep, 20,000 lists).
			top.names, top.next = nil, 0
		}
		if !l.visit(top, name) {
			return
		}
	}
	if l.only != nil {
		for _, rel := range l.only.missing(l.seen, l.cut) {
			if !l.emit(Entry{Kind: Other, Rel: rel, Err: ErrNotInSrc}) {
				return
			}
		}
	}
	if len(l.chunk) > 0 {
		l.send()
	}
}

// enter lists directory rel (below parent) and sends its entry: with no
// entries when it is on another mount (-x) or listed alone (--files-from).
func (l *lister) enter(parent *listFrame, rel string, info os.FileInfo, follow bool) bool {
	var f *listFrame
	var err error
	switch {
	case l.oneFS && parent != nil && l.elsewhere(parent, rel, follow):
		f = &listFrame{rel: rel, fd: -1} // the mount point, empty
		l.mark(rel, true)
	case !l.only.enters(rel):
		f = &listFrame{rel: rel, fd: -1} // listed itself, not what it holds
		l.mark(rel, false)
	default:
		f, err = l.list(parent, rel, follow)
	}
	if l.deref {
		f.info = info // kept to tell a symlink loop, only where symlinks are followed
	}
	l.push(f)
	noXattrs := f.fd >= 0 && !fdHasXattrs(f.fd)
	return l.emit(Entry{Kind: Dir, Rel: rel, Info: info, Err: err, NoXattrs: noXattrs})
}

// visit looks at the entry name of directory top and sends what it is,
// or enters it; false when the walk is to stop.
func (l *lister) visit(top *listFrame, name string) bool {
	var info os.FileInfo
	var err error
	var rel string
	if top.fd >= 0 && l.only == nil {
		// Its path made once it is known whether it is a directory's.
		info, err = lstatAt(top.fd, name)
		rel = l.relOf(top, name, err == nil && info.IsDir())
	} else {
		rel = l.relOf(top, name, false)
		if !l.only.wanted(rel) {
			return true
		}
		l.mark(rel, false)
		if top.fd >= 0 {
			info, err = lstatAt(top.fd, name)
		} else {
			info, err = fsutil.Lstat(l.fs, fsutil.Join(l.root, rel))
		}
	}
	followed := false
	if err == nil && l.deref && info.Mode()&fs.ModeSymlink != 0 {
		info, err = l.follow(top, rel, name)
		followed = true
	}
	isDir := err == nil && info.IsDir()
	switch {
	case l.filter.Excluded(rel, isDir) || err == nil && l.outOfSize(info):
		l.mark(rel, isDir)
		return l.emit(Entry{Kind: Excluded, Rel: rel})
	case isDir && l.dst != nil && sameFile(info, l.dst):
		return l.emit(Entry{Kind: Refused, Rel: rel, Err: ErrIsDst})
	case isDir && followed && inStack(l.stack, info):
		err = errors.New("symlink to a directory that holds it (a loop); not followed")
	case isDir:
		return l.enter(top, rel, info, followed)
	}
	return l.emit(Entry{Kind: Other, Rel: rel, Info: info, Err: err})
}

// relOf returns the path of name, in directory top. A directory's extends
// its parent's (package sharedpath): the walk, and the coordinator after
// it, hold the path of each directory they are in, which in a chain 20,000
// deep would otherwise be 400 MB. Names listed are plain: no path.Join,
// which would clean the whole path again.
func (l *lister) relOf(top *listFrame, name string, dir bool) string {
	switch {
	case dir:
		return l.dirPaths.Join(top.rel, name)
	case top.rel == "":
		return name
	}
	return top.rel + "/" + name
}

// mark records, with --files-from, that the walk met rel; cut: it is a
// directory the walk does not enter.
func (l *lister) mark(rel string, cut bool) {
	if l.only == nil {
		return
	}
	l.seen[rel] = true
	if cut {
		l.cut[rel] = true
	}
}

// elsewhere says whether directory rel, in parent, is on another mount
// than the root (one it cannot tell is taken to be).
func (l *lister) elsewhere(parent *listFrame, rel string, follow bool) bool {
	id, err := mountOf(parent.fd, path.Base(rel), fsutil.Join(l.root, rel), follow)
	return err != nil || id != l.rootMount
}

// outOfSize says whether info is a regular file outside the sizes asked for.
func (l *lister) outOfSize(info os.FileInfo) bool {
	if !info.Mode().IsRegular() {
		return false
	}
	return l.minSize > 0 && info.Size() < l.minSize || l.maxSize > 0 && info.Size() > l.maxSize
}

// list reads the names of directory rel, below parent; follow: rel is a
// symlink to it (--dereference).
func (l *lister) list(parent *listFrame, rel string, follow bool) (*listFrame, error) {
	f := &listFrame{rel: rel, fd: -1}
	var err error
	switch {
	case parent == nil && l.useFds:
		f.fd, f.names, f.more, err = listDirAt(atFdcwd, l.root, false)
	case parent != nil && parent.fd >= 0:
		f.fd, f.names, f.more, err = listDirAt(parent.fd, path.Base(rel), follow)
	case l.useFds && !follow:
		// Below a directory whose descriptor was closed (see
		// push): from SRC's root, through package beneath.
		f.fd, f.names, f.more, err = listDirBeneath(fsutil.Join(l.root, rel))
	case follow:
		f.names, err = ReadNames(l.fs, fsutil.Join(l.root, rel), l.os, true)
	default:
		f.names, err = ReadNames(l.fs, fsutil.Join(l.root, rel), l.os, false)
	}
	return f, err
}

// follow returns what the symlink rel (name in directory top) points to,
// or why it cannot be followed.
func (l *lister) follow(top *listFrame, rel, name string) (os.FileInfo, error) {
	var info os.FileInfo
	var err error
	if top.fd >= 0 {
		info, err = statAt(top.fd, name)
	} else {
		info, err = l.fs.Stat(fsutil.Join(l.root, rel))
	}
	switch {
	case err == nil:
		return info, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, errors.New("symlink to nothing (its target does not exist); not copied")
	case errors.Is(err, errLoop):
		return nil, errors.New("symlink loop; not followed")
	}
	return nil, fmt.Errorf("follow symlink: %w", fsutil.UnwrapPath(err))
}

// inStack says whether the directory info is one the lister is in.
func inStack(stack []*listFrame, info os.FileInfo) bool {
	for _, f := range stack {
		if sameFile(f.info, info) {
			return true
		}
	}
	return false
}

// push makes f the innermost directory of the walk. Past maxFds
// directories open, the outermost one open is closed: the walk keeps the
// innermost maxFds open, however deep it goes, and lists and stats the
// rest of a closed one's entries by path. A directory read in batches
// keeps its own (each holds more than 65,536 entries: few are nested).
func (l *lister) push(f *listFrame) {
	l.stack = append(l.stack, f)
	if f.fd >= 0 {
		l.openFds++
	}
	for l.openFds > l.maxFds && l.closeFrom < len(l.stack)-1 {
		g := l.stack[l.closeFrom]
		l.closeFrom++
		if g.fd >= 0 && !g.more {
			g.close()
			l.openFds--
		}
	}
	if pushed != nil {
		pushed()
	}
}

// pushed, when a test sets it, is called each time the walk enters a
// directory.
var pushed func()

// pop leaves the innermost directory.
func (l *lister) pop() {
	top := l.stack[len(l.stack)-1]
	if top.fd >= 0 {
		top.close()
		l.openFds--
	}
	l.stack = l.stack[:len(l.stack)-1]
	l.closeFrom = min(l.closeFrom, len(l.stack))
}

func (f *listFrame) close() {
	if f.fd >= 0 {
		closeDirFd(f.fd)
		f.fd = -1
	}
}

// emit queues e for the coordinator. A chunk goes when full, or at once
// when the coordinator has nothing else to go on with. It returns false
// when the coordinator is gone.
func (l *lister) emit(e Entry) bool {
	if l.chunk == nil && len(l.out) > 0 {
		l.chunk = make([]Entry, 0, chunkEntries) // it will fill
	}
	l.chunk = append(l.chunk, e)
	if len(l.chunk) < chunkEntries && len(l.out) > 0 {
		return true
	}
	return l.send()
}

func (l *lister) send() bool {
	select {
	case l.out <- l.chunk:
		l.chunk = nil
		return true
	case <-l.quit:
		return false
	}
}

// ReadNames returns the sorted entry names of dir; follow: dir may be
// reached through a symlink. os says fsys is the operating system's.
// EachName calls fn with each entry name of dir, in no order, reading a
// batch at a time on the operating system's filesystem (os): a directory
// of millions of entries is never held whole.
func EachName(fsys afero.Fs, dir string, os bool, fn func(name string)) error {
	if os {
		return eachNameOS(dir, fn)
	}
	names, err := readNamesFs(fsys, dir)
	for _, n := range names {
		fn(n)
	}
	return err
}

func ReadNames(fsys afero.Fs, dir string, os, follow bool) ([]string, error) {
	if os {
		return readNamesOS(dir, follow)
	}
	return readNamesFs(fsys, dir)
}

func readNamesFs(fsys afero.Fs, dir string) ([]string, error) {
	f, err := fsys.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}
