package copier

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/filter"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/wire"
)

// The walk has two halves. A lister goroutine reads the source depth first
// (each directory's names, an lstat of each entry: reading only, no state
// shared) and hands the entries over in order, in chunks, through a bounded
// channel. The coordinator takes them one at a time as the dispatcher asks
// for work, creating destination directories and making tasks. So the
// source is read on one core while the coordinator creates directories
// and talks to workers on another (on a tree of empty files and
// directories, one thread doing both was what every worker waited for),
// and memory stays flat: the lister runs at most chunksAhead chunks ahead,
// and holds the names of the directories it is in, not of the tree.

type entryKind uint8

const (
	entryOther    entryKind = iota // not a directory, or lstat failed: info or err says
	entryDir                       // a directory begins: its entries follow, then an entryEnd
	entryEnd                       // the innermost directory begun has no more entries
	entryExcluded                  // left out by the filter (a directory: not entered)
	entryRefused                   // a directory not entered, err says why (it is DST): a warning
)

// privateDir is the mode a directory pcopy makes has until it is finished.
const privateDir = 0o700

// errIsDst is why the walk does not enter a directory of SRC that is DST
// itself, reached through a bind mount: the copy would copy itself.
var errIsDst = errors.New("is DST itself (a bind mount?); not copied into itself")

// srcEntry is one step of the walk of the source.
type srcEntry struct {
	kind entryKind
	rel  string
	info os.FileInfo // nil for entryEnd
	err  error       // entryOther: lstat failed; entryDir: listing it failed
	// entryDir: the lister saw that the directory has no extended
	// attributes (false: it has some, or the lister could not tell).
	noXattrs bool
}

const (
	chunkEntries = 256 // entries per handover, when the lister is ahead
	chunksAhead  = 8
)

// maxDirFds is how deep a lister keeps directories open to work relative
// to them, at most; deeper, it reaches them from SRC's root (see package
// beneath). Where the limit on open files (RLIMIT_NOFILE, ulimit -n) leaves
// less room beside the workers' pipes, fewer (see dirFdBudget).
const maxDirFds = 64

// listSpec is what a lister walks and how.
type listSpec struct {
	root     string
	rootInfo os.FileInfo
	dst      os.FileInfo // DST's root, never entered (nil: none yet)
	deref    bool        // follow symlinks (Options.Dereference)
	filter   *filter.Filter
	maxFds   int // directories it may keep open (0: one)
}

// lister walks the source and sends its entries to the coordinator.
type lister struct {
	fs     afero.Fs
	root   string
	useFds bool // list and lstat relative to open directories
	deref  bool // follow symlinks (Options.Dereference)
	filter *filter.Filter
	dst    os.FileInfo // DST's root, never entered (nil: none yet)
	maxFds int
	out    chan<- []srcEntry
	quit   <-chan struct{}
	chunk  []srcEntry
}

// listFrame is a directory the lister is in.
type listFrame struct {
	rel   string
	fd    int         // open directory, or -1: work by path
	info  os.FileInfo // for telling a symlink loop
	depth int
	names []string // sorted
	next  int
}

// startLister starts the walk that s describes; it stops early when quit
// closes.
func startLister(fsys afero.Fs, s listSpec, quit <-chan struct{}) <-chan []srcEntry {
	out := make(chan []srcEntry, chunksAhead)
	l := &lister{fs: fsys, root: s.root, useFds: dirFds && isOSFs(fsys), deref: s.deref, filter: s.filter, dst: s.dst,
		maxFds: max(s.maxFds, 1), out: out, quit: quit}
	go l.run(s.rootInfo)
	return out
}

// run walks the tree, then closes out; it stops early when quit closes.
func (l *lister) run(rootInfo os.FileInfo) {
	defer close(l.out)
	var stack []*listFrame
	defer func() {
		for _, f := range stack {
			f.close()
		}
	}()
	enter := func(parent *listFrame, rel string, info os.FileInfo, follow bool) bool {
		f, err := l.list(parent, rel, follow)
		f.info = info
		stack = append(stack, f)
		noXattrs := f.fd >= 0 && !fdHasXattrs(f.fd)
		return l.emit(srcEntry{kind: entryDir, rel: rel, info: info, err: err, noXattrs: noXattrs})
	}
	if !enter(nil, "", rootInfo, false) {
		return
	}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		if top.next == len(top.names) {
			top.close()
			stack = stack[:len(stack)-1]
			if !l.emit(srcEntry{kind: entryEnd, rel: top.rel}) {
				return
			}
			continue
		}
		name := top.names[top.next]
		top.next++
		rel := path.Join(top.rel, name)
		var info os.FileInfo
		var err error
		if top.fd >= 0 {
			info, err = lstatAt(top.fd, name)
		} else {
			info, err = fsutil.Lstat(l.fs, fsutil.Join(l.root, rel))
		}
		followed := false
		if err == nil && l.deref && info.Mode()&fs.ModeSymlink != 0 {
			info, err = l.follow(top, rel, name)
			followed = true
		}
		if l.filter.Excluded(rel, err == nil && info.IsDir()) {
			if !l.emit(srcEntry{kind: entryExcluded, rel: rel}) {
				return
			}
			continue
		}
		if err == nil && info.IsDir() && l.dst != nil && sameFile(info, l.dst) {
			if !l.emit(srcEntry{kind: entryRefused, rel: rel, err: errIsDst}) {
				return
			}
			continue
		}
		if err == nil && info.IsDir() {
			if followed && inStack(stack, info) {
				err = errors.New("symlink to a directory that holds it (a loop); not followed")
			} else if !enter(top, rel, info, followed) {
				return
			} else {
				continue
			}
		}
		if !l.emit(srcEntry{kind: entryOther, rel: rel, info: info, err: err}) {
			return
		}
	}
	if len(l.chunk) > 0 {
		l.send()
	}
}

// list reads the names of directory rel, below parent; follow: rel is a
// symlink to it (--dereference).
func (l *lister) list(parent *listFrame, rel string, follow bool) (*listFrame, error) {
	f := &listFrame{rel: rel, fd: -1}
	var err error
	switch {
	case parent == nil && l.useFds:
		f.fd, f.names, err = listDirAt(atFdcwd, l.root, false)
	case parent != nil && parent.fd >= 0 && parent.depth+1 < l.maxFds:
		f.depth = parent.depth + 1
		f.fd, f.names, err = listDirAt(parent.fd, path.Base(rel), follow)
	case follow:
		f.names, err = readNamesFollow(l.fs, fsutil.Join(l.root, rel))
	default:
		f.names, err = readNames(l.fs, fsutil.Join(l.root, rel))
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

func (f *listFrame) close() {
	if f.fd >= 0 {
		closeDirFd(f.fd)
		f.fd = -1
	}
}

// emit queues e for the coordinator. A chunk goes when full, or at once
// when the coordinator has nothing else to go on with. It returns false
// when the coordinator is gone.
func (l *lister) emit(e srcEntry) bool {
	if l.chunk == nil && len(l.out) > 0 {
		l.chunk = make([]srcEntry, 0, chunkEntries) // it will fill
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

// readNamesFollow is readNames of a directory that may be reached through
// a symlink.
func readNamesFollow(fsys afero.Fs, dir string) ([]string, error) {
	if isOSFs(fsys) {
		return readNamesOS(dir, true)
	}
	return readNamesFs(fsys, dir)
}

// readNames returns the sorted entry names of dir.
func readNames(fsys afero.Fs, dir string) ([]string, error) {
	if isOSFs(fsys) {
		return readNamesOS(dir, false)
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

// startWalk sets up the walk of the plan's source. For a single file it
// queues the one job; for a directory it starts the lister, whose first
// entry is the root.
func (c *coordinator) startWalk() error {
	p := c.plan
	if !p.dir {
		if c.set.DryRun || !c.trySplit(nil, "", p.srcInfo, nil) {
			c.retry = append(c.retry, c.newTask(nil, "", wire.KindFile, p.srcInfo))
		}
		c.walkDone = true
		return nil
	}
	dstInfo, _ := c.fs.Stat(p.dstRoot)
	c.entries = startLister(c.fs, listSpec{root: p.srcRoot, rootInfo: p.srcInfo, dst: dstInfo, deref: c.set.Deref, filter: c.filter,
		maxFds: c.dirFds}, c.quit)
	return nil
}

// makeDstRoot makes the directories DST goes in, and DST itself when SRC is
// a directory, before any worker starts: DST's root is made before the walk,
// so that the walk knows it by identity and never enters it (through a bind
// mount in SRC). A DST that cannot be made is a refusal, naming the
// directory that could not be: nothing else is written.
func (c *coordinator) makeDstRoot() error {
	p := c.plan
	if c.set.DryRun {
		// Nothing is made: a DST that is not there would be, empty.
		if _, err := c.fs.Stat(p.dstRoot); p.dir && errors.Is(err, fs.ErrNotExist) {
			c.rootCreated = true
		}
		return nil
	}
	parent := filepath.Dir(filepath.Clean(p.dstRoot))
	err := c.fs.MkdirAll(parent, 0o777)
	if err == nil && p.dir {
		if err = c.fs.Mkdir(p.dstRoot, privateDir); err == nil {
			c.rootCreated = true
		} else if errors.Is(err, fs.ErrExist) {
			err = nil // makeDir sees what is there
		}
	}
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return refused("", "%s: create directory: %v", DisplayPath(pe.Path), pe.Err)
	}
	return refused("", "%s: create directory: %v", DisplayPath(p.dstRoot), err)
}

// walkBudget is how many entries nextTask takes before it returns empty
// handed, so that in a tree of empty directories the coordinator still
// hears of signals and results promptly.
const walkBudget = 256

// nextTask takes the lister's entries until it finds the next file or
// symlink to copy, creating directories on the way. It returns nil when
// the walk is over (walkDone is then set), when the lister has nothing
// ready, or when it used up its budget.
func (c *coordinator) nextTask() *task {
	for range walkBudget {
		if len(c.chunk) == 0 {
			select {
			case chunk, ok := <-c.entries:
				if !c.received(chunk, ok) {
					return nil
				}
			default:
				return nil
			}
		}
		e := c.chunk[0]
		c.chunk[0] = srcEntry{}
		c.chunk = c.chunk[1:]
		if t := c.take(e); t != nil {
			if f := c.fullFsOf(t.dir); f != nil {
				c.notCopied(t, f, nil) // counted, within the budget
				continue
			}
			return t
		}
	}
	return nil
}

// received takes a chunk from the lister, or notes that the walk is over
// (ok false); it says whether there are entries to take.
func (c *coordinator) received(chunk []srcEntry, ok bool) bool {
	if !ok {
		c.walkDone = true
		return false
	}
	c.chunk = chunk
	return len(chunk) > 0
}

// take acts on one entry of the walk and returns the task it makes, if any.
func (c *coordinator) take(e srcEntry) *task {
	if c.skip > 0 {
		// Inside a directory that could not be created: nothing in it
		// can be copied, and its entries are not listed as failures.
		switch e.kind {
		case entryDir:
			c.skip++
		case entryEnd:
			c.skip--
		}
		return nil
	}
	var parent *dirState
	if len(c.dirs) > 0 {
		parent = c.dirs[len(c.dirs)-1]
	}
	switch e.kind {
	case entryExcluded:
		c.sum.Excluded++
		c.act(Excluded, e.rel, nil)
		return nil
	case entryRefused:
		c.warn(fmt.Sprintf("%s: %v", DisplayPath(e.rel), e.err))
		return nil
	case entryDir:
		c.enterDir(parent, e)
		return nil
	case entryEnd:
		c.dirs = c.dirs[:len(c.dirs)-1]
		parent.walked = true
		c.maybeFinishDir(parent)
		return nil
	}
	if e.err != nil {
		err := e.err
		if errors.Is(err, fs.ErrNotExist) {
			err = errors.New("vanished before it could be copied")
			c.sum.Vanished++
		}
		c.fail(e.rel, fsutil.UnwrapPath(err))
		return nil
	}
	switch mode := e.info.Mode(); {
	case mode.IsRegular():
		var g *linkGroup
		if id, nlink, ok := fileIDOf(e.info); ok && c.isOS {
			var first bool
			if g, first = c.linkGroupOf(e.rel, nlink, id); g != nil && !first {
				t := c.newTask(parent, e.rel, wire.KindFile, e.info)
				t.group = g
				return c.linkLater(g, t)
			}
		}
		if !c.set.DryRun && c.fullFsOf(parent) == nil && c.trySplit(parent, e.rel, e.info, g) {
			return nil // its parts are queued
		}
		t := c.newTask(parent, e.rel, wire.KindFile, e.info)
		t.group = g
		return t
	case mode&fs.ModeSymlink != 0:
		return c.newTask(parent, e.rel, wire.KindSymlink, e.info)
	case c.isOS && specialFiles:
		return c.newTask(parent, e.rel, wire.KindSpecial, e.info)
	default:
		c.warn(fmt.Sprintf("%s: skipped: %s (not copied on this platform)", DisplayPath(e.rel), typeName(mode)))
	}
	return nil
}

func (c *coordinator) newTask(dir *dirState, rel string, kind wire.Kind, info os.FileInfo) *task {
	c.nextID++
	if dir != nil {
		dir.pending++
	}
	return &task{dir: dir, job: listedJob(c.nextID, kind, rel, info, dir != nil && dir.created)}
}

// listedJob is the job for rel as info describes it.
func listedJob(id uint64, kind wire.Kind, rel string, info os.FileInfo, fresh bool) wire.Job {
	uid, gid := ownerOf(info)
	fid, _, _ := fileIDOf(info)
	return wire.Job{
		Dev:    fid.dev,
		Ino:    fid.ino,
		Ctime:  ctimeOf(info),
		Uid:    uid,
		Gid:    gid,
		ID:     id,
		Kind:   kind,
		Rel:    rel,
		Size:   info.Size(),
		Mode:   uint32(info.Mode()),
		Mtime:  info.ModTime().UnixNano(),
		Atime:  atimeOf(info).UnixNano(),
		Sparse: kind == wire.KindFile && sparseOf(info),
		Rdev:   rdevOf(info),
		Fresh:  fresh,
	}
}

// enterDir creates the destination directory of the directory entry e,
// below parent, and makes it the one the next entries are in. A directory
// that cannot be created or listed is reported; the rest of the tree goes
// on. One not made because its filesystem is full is entered all the
// same, to count what it holds.
func (c *coordinator) enterDir(parent *dirState, e srcEntry) {
	rel, info := e.rel, e.info
	d := &dirState{rel: rel, parent: parent, mode: info.Mode(), mtime: info.ModTime(), atime: atimeOf(info)}
	d.uid, d.gid = ownerOf(info)
	d.noXattrs = e.noXattrs
	if parent != nil {
		parent.pending++
	}
	created, existing, err := c.makeDir(parent, rel)
	var full *fullError
	if errors.As(err, &full) {
		d.failed, d.dev = true, full.fs.dev
		c.act(Failed, rel, full)
		c.pushDir(d, e)
		return
	}
	if err != nil {
		d.failed = true
		d.walked = true
		c.fail(rel, err)
		c.maybeFinishDir(d)
		c.skip = 1 // until its entryEnd
		return
	}
	// A directory made inside one with a default ACL inherits it; a
	// directory that was there may have one of its own.
	parentACL := false
	if parent != nil {
		parentACL = parent.acl
	} else {
		parentACL = hasDefaultACL(filepath.Dir(fsutil.Join(c.plan.dstRoot, rel)))
	}
	d.acl, d.created = parentACL, created
	c.noteDstOwner(d, existing)
	if !created {
		d.acl = hasDefaultACL(fsutil.Join(c.plan.dstRoot, rel))
		c.removeStaleTemps(fsutil.Join(c.plan.dstRoot, rel))
	}
	// A directory made private whose mode is that already needs no chmod
	// when finished: not where a default ACL, rather than the umask,
	// shaped it, nor where it inherited set-group-ID from its parent.
	d.modeSet = created && !parentACL && d.sgid < 0 && info.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == 0 &&
		info.Mode().Perm() == privateDir && privateDir&processUmask() == 0
	c.pushDir(d, e)
}

// pushDir makes d, the directory of entry e, the one the next entries are
// in; a failure to list it in SRC is reported.
func (c *coordinator) pushDir(d *dirState, e srcEntry) {
	if e.err != nil {
		c.fail(e.rel, fmt.Errorf("list directory: %w", fsutil.UnwrapPath(e.err)))
	}
	c.dirs = append(c.dirs, d)
}

// makeDir makes sure DST/rel, below parent, is a directory pcopy can write
// into, and says whether it created it. One it creates is private (0700)
// until it is finished, when it gets its exact mode, as cp -a does: while
// the copy fills it, no other user can add to it, rename it away (which
// needs write permission on it) or replace it. It never follows a symlink
// below DST: a link where SRC has a directory is refused, so nothing is
// ever written outside DST through it. On a full filesystem it makes
// nothing: the error is then a *fullError.
func (c *coordinator) makeDir(parent *dirState, rel string) (created bool, existing os.FileInfo, err error) {
	if rel == "" && c.rootCreated {
		return true, nil, nil // by startWalk
	}
	name := fsutil.Join(c.plan.dstRoot, rel)
	if f := c.fullFsOf(parent); parent != nil && f != nil {
		// Nothing new is made on a full filesystem, but a directory
		// already there is used: another filesystem may be mounted on
		// it. Below one not made, there is none.
		if !parent.failed {
			existing, err = c.reuseDir(rel, name, fs.ErrExist)
		}
		if parent.failed || errors.Is(err, fs.ErrNotExist) {
			return false, nil, &fullError{fs: f}
		}
		return false, existing, err
	}
	err = c.mkdir(name)
	if err == nil {
		return true, nil, nil
	}
	if kind := fullKindOf(err); kind != notFull {
		return false, nil, &fullError{fs: c.markFull(parent, kind), err: fmt.Errorf("create directory: %w", fsutil.UnwrapPath(err))}
	}
	existing, err = c.reuseDir(rel, name, err)
	return false, existing, err
}

// mkdir makes the directory name, private; in a dry run it makes nothing
// and says whether it would: fs.ErrExist when something is there.
func (c *coordinator) mkdir(name string) error {
	if !c.set.DryRun {
		return c.fs.Mkdir(name, privateDir)
	}
	_, err := fsutil.Lstat(c.fs, name)
	switch {
	case err == nil:
		return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrExist}
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return err
}

// reuseDir checks that an existing DST/rel (mkdir failed with err) is a
// directory pcopy can write into.
func (c *coordinator) reuseDir(rel, name string, err error) (os.FileInfo, error) {
	if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create directory: %w", fsutil.UnwrapPath(err))
	}
	var info os.FileInfo
	if rel == "" {
		info, err = c.fs.Stat(name) // DST itself may be a link the user chose
	} else {
		info, err = fsutil.Lstat(c.fs, name)
	}
	if err != nil {
		return nil, fmt.Errorf("create directory: %w", fsutil.UnwrapPath(err))
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("destination exists and is a %s, not a directory; not replaced", typeName(info.Mode()))
	}
	// An existing directory may be read-only (copied from a read-only
	// source before); its final mode is set again when it is finished.
	if info.Mode().Perm()&0o700 != 0o700 && !c.set.DryRun {
		if err := c.fs.Chmod(name, info.Mode().Perm()|0o700); err != nil {
			return nil, fmt.Errorf("make directory writable: %w", fsutil.UnwrapPath(err))
		}
	}
	return info, nil
}
