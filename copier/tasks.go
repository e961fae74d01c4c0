package copier

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/osfs"
	"github.com/pcopy/pcopy/internal/walk"
	"github.com/pcopy/pcopy/internal/wire"
)

// privateDir is the mode a directory pcopy makes has until it is finished.
const privateDir = 0o700

// readNames returns the sorted entry names of dir.
func readNames(fsys afero.Fs, dir string) ([]string, error) {
	return walk.ReadNames(fsys, dir, osfs.Is(fsys), false)
}

// readNamesFollow is readNames of a directory that may be reached through
// a symlink.
func readNamesFollow(fsys afero.Fs, dir string) ([]string, error) {
	return walk.ReadNames(fsys, dir, osfs.Is(fsys), true)
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
	c.entries = walk.Start(c.fs, walk.Spec{Root: p.srcRoot, RootInfo: p.srcInfo, Dst: dstInfo, Deref: c.set.Deref, Filter: c.filter,
		MinSize: c.minSize, MaxSize: c.maxSize, OneFilesystem: c.oneFS, Only: c.only,
		MaxFds: c.dirFds, OS: c.isOS}, c.quit)
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
		c.chunk[0] = walk.Entry{}
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
func (c *coordinator) received(chunk []walk.Entry, ok bool) bool {
	if !ok {
		c.walkDone = true
		return false
	}
	c.chunk = chunk
	return len(chunk) > 0
}

// take acts on one entry of the walk and returns the task it makes, if any.
func (c *coordinator) take(e walk.Entry) *task {
	if c.skip > 0 {
		// Inside a directory that could not be created: nothing in it
		// can be copied, and its entries are not listed as failures.
		switch e.Kind {
		case walk.Dir:
			c.skip++
		case walk.End:
			c.skip--
		}
		return nil
	}
	var parent *dirState
	if len(c.dirs) > 0 {
		parent = c.dirs[len(c.dirs)-1]
	}
	switch e.Kind {
	case walk.Excluded:
		c.sum.Excluded++
		c.act(Excluded, e.Rel, nil)
		return nil
	case walk.Refused:
		c.warn(fmt.Sprintf("%s: %v", DisplayPath(e.Rel), e.Err))
		return nil
	case walk.Dir:
		c.enterDir(parent, e)
		return nil
	case walk.End:
		c.dirs = c.dirs[:len(c.dirs)-1]
		parent.walked = true
		c.maybeFinishDir(parent)
		return nil
	}
	if e.Err != nil {
		err := e.Err
		if errors.Is(err, fs.ErrNotExist) {
			err = errors.New("vanished before it could be copied")
			c.sum.Vanished++
		}
		c.fail(e.Rel, fsutil.UnwrapPath(err))
		return nil
	}
	switch mode := e.Info.Mode(); {
	case mode.IsRegular():
		var g *linkGroup
		if id, nlink, ok := fileIDOf(e.Info); ok && c.isOS {
			var first bool
			if g, first = c.linkGroupOf(e.Rel, nlink, id); g != nil && !first {
				t := c.newTask(parent, e.Rel, wire.KindFile, e.Info)
				t.group = g
				return c.linkLater(g, t)
			}
		}
		if !c.set.DryRun && c.fullFsOf(parent) == nil && c.trySplit(parent, e.Rel, e.Info, g) {
			return nil // its parts are queued
		}
		t := c.newTask(parent, e.Rel, wire.KindFile, e.Info)
		t.group = g
		return t
	case mode&fs.ModeSymlink != 0:
		return c.newTask(parent, e.Rel, wire.KindSymlink, e.Info)
	case c.isOS && specialFiles:
		return c.newTask(parent, e.Rel, wire.KindSpecial, e.Info)
	default:
		c.warn(fmt.Sprintf("%s: skipped: %s (not copied on this platform)", DisplayPath(e.Rel), fsutil.TypeName(mode)))
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
	uid, gid := meta.OwnerOf(info)
	fid, _, _ := fileIDOf(info)
	return wire.Job{
		Dev:    fid.dev,
		Ino:    fid.ino,
		Ctime:  meta.CtimeOf(info),
		Uid:    uid,
		Gid:    gid,
		ID:     id,
		Kind:   kind,
		Rel:    rel,
		Size:   info.Size(),
		Mode:   uint32(info.Mode()),
		Mtime:  info.ModTime().UnixNano(),
		Atime:  meta.AtimeOf(info).UnixNano(),
		Sparse: kind == wire.KindFile && meta.SparseOf(info),
		Rdev:   meta.RdevOf(info),
		Fresh:  fresh,
	}
}

// enterDir creates the destination directory of the directory entry e,
// below parent, and makes it the one the next entries are in. A directory
// that cannot be created or listed is reported; the rest of the tree goes
// on. One not made because its filesystem is full is entered all the
// same, to count what it holds.
func (c *coordinator) enterDir(parent *dirState, e walk.Entry) {
	rel, info := e.Rel, e.Info
	d := &dirState{rel: rel, dst: c.dstDirPath(parent, rel), parent: parent, mode: info.Mode(), mtime: info.ModTime(), atime: meta.AtimeOf(info)}
	d.uid, d.gid = meta.OwnerOf(info)
	d.noXattrs = e.NoXattrs
	if parent != nil {
		parent.pending++
	}
	created, existing, err := c.makeDir(parent, rel, d.dst)
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
		c.skip = 1 // until its walk.End
		return
	}
	// A directory made inside one with a default ACL inherits it; a
	// directory that was there may have one of its own.
	parentACL := false
	if parent != nil {
		parentACL = parent.acl
	} else {
		parentACL = meta.HasDefaultACL(filepath.Dir(d.dst))
	}
	d.acl, d.created = parentACL, created
	c.noteDstOwner(d, existing)
	if !created {
		d.acl = meta.HasDefaultACL(d.dst)
		// A directory a run finished has SRC's mtime; one a run left
		// temporary files in was changed after (they were made in it)
		// and not finished. Only such a one is read for them: a re-run
		// of an unchanged tree reads no directory of DST.
		if existing == nil || !existing.ModTime().Equal(info.ModTime()) {
			c.removeStaleTemps(d.dst)
		}
	}
	// A directory made private whose mode is that already needs no chmod
	// when finished: not where a default ACL, rather than the umask,
	// shaped it, nor where it inherited set-group-ID from its parent.
	d.modeSet = created && !parentACL && d.sgid < 0 && info.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == 0 &&
		info.Mode().Perm() == privateDir && privateDir&meta.ProcessUmask() == 0
	c.pushDir(d, e)
}

// pushDir makes d, the directory of entry e, the one the next entries are
// in; a failure to list it in SRC is reported.
func (c *coordinator) pushDir(d *dirState, e walk.Entry) {
	if e.Err != nil {
		c.fail(e.Rel, fmt.Errorf("list directory: %w", fsutil.UnwrapPath(e.Err)))
	}
	c.dirs = append(c.dirs, d)
}

// makeDir makes sure DST/rel (name), below parent, is a directory pcopy can write
// into, and says whether it created it. One it creates is private (0700)
// until it is finished, when it gets its exact mode, as cp -a does: while
// the copy fills it, no other user can add to it, rename it away (which
// needs write permission on it) or replace it. It never follows a symlink
// below DST: a link where SRC has a directory is refused, so nothing is
// ever written outside DST through it. On a full filesystem it makes
// nothing: the error is then a *fullError.
func (c *coordinator) makeDir(parent *dirState, rel, name string) (created bool, existing os.FileInfo, err error) {
	if rel == "" && c.rootCreated {
		return true, nil, nil // by startWalk
	}
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
		return nil, fmt.Errorf("destination exists and is a %s, not a directory; not replaced", fsutil.TypeName(info.Mode()))
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
