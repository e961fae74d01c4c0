package copier

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/osfs"
)

// dirState follows one directory from the moment the walk enters it until
// everything in it is copied. Only then are its mode and times set: setting
// the mtime earlier would be undone by the entries renamed into it, and a
// read-only mode would stop them being written.
type dirState struct {
	rel    string
	dst    string // its path in DST (in a chain, sharing its bytes with its parent's: see dstDirPath)
	parent *dirState
	mode   fs.FileMode
	mtime  time.Time
	atime  time.Time
	uid    uint32 // owner and group, or noOwner
	gid    uint32

	noXattrs bool // in SRC, it has no extended attributes
	// In DST: its owner and group now, and the group a set-group-ID
	// directory gives what is made in it (-1: it is not one).
	curUid, curGid uint32
	sgid           int64
	dev            uint64 // the filesystem it is on (0 where not known)

	pending  int  // entries started but not finished: tasks out, subdirectories open
	walked   bool // every entry has been listed
	failed   bool // not made (an error, or its filesystem was full); no metadata to set
	created  bool // made by this copy: holds nothing a job must compare with
	modeSet  bool // created with its exact mode: no chmod needed
	acl      bool // in DST, it has a default ACL
	finished bool
}

// maybeFinishDir sets d's metadata once it is complete, then tells its
// parent, which may complete in turn.
func (c *coordinator) maybeFinishDir(d *dirState) {
	for d != nil && d.walked && d.pending == 0 && !d.finished {
		d.finished = true
		if !d.failed {
			if err := c.finishDir(d); err != nil {
				c.fail(d.rel, err)
			} else {
				c.sum.Dirs++
			}
		}
		d = d.parent
		if d != nil {
			d.pending--
		}
	}
}

func (c *coordinator) finishDir(d *dirState) error {
	if c.set.DryRun {
		return nil
	}
	if c.isOS {
		return c.finishDirAt(d)
	}
	return c.finishDirByPath(d)
}

// inheritedACLs names the ACLs the DST directory of d may have that SRC's
// replace: a directory made in one with a default ACL inherited it; one
// that was there may have ACLs of its own. Either way SRC's are what count.
func inheritedACLs(d *dirState) []string {
	if !d.created || d.acl {
		return []string{meta.AccessACL, meta.DefaultACL}
	}
	return nil
}

// finishDirByPath sets d's owner, xattrs, mode and times through its path
// (never following a symlink at it, below DST's root).
func (c *coordinator) finishDirByPath(d *dirState) error {
	name := d.dst
	if c.set.Owner {
		if err := c.setOwner(d, name); err != nil {
			return err
		}
	}
	inherited := inheritedACLs(d)
	if !d.noXattrs || inherited != nil {
		w, err := c.copyXattrs(c.srcDirPath(d), name, d.rel == "", inherited)
		if err != nil {
			return err
		}
		if w != "" {
			c.warnOnce(d.rel, w)
		}
	}
	if !d.modeSet {
		if err := c.fs.Chmod(name, d.mode&meta.ModeBits); err != nil {
			return fmt.Errorf("set directory mode: %w", fsutil.UnwrapPath(err))
		}
	}
	if err := c.fs.Chtimes(name, d.atime, d.mtime); err != nil {
		return fmt.Errorf("set directory times: %w", fsutil.UnwrapPath(err))
	}
	if c.set.Fsync {
		// Its entries' names, and those of its subdirectories, which
		// were finished before it.
		if err := syncDir(c.fs, name); err != nil {
			return fmt.Errorf("flush directory: %w", fsutil.UnwrapPath(err))
		}
	}
	return nil
}

// setOwner gives the directory name d's owner and group, as far as this
// process may (see ownerChange).
func (c *coordinator) setOwner(d *dirState, name string) error {
	uid, gid, ok := meta.OwnerChange(d.uid, d.gid, d.curUid, d.curGid)
	if !ok {
		return nil
	}
	chown := func() error { return lchown(c.fs, name, uid, gid) }
	if d.rel == "" {
		chown = func() error { return c.fs.Chown(name, uid, gid) } // DST may be a link the user chose
	}
	if err := chown(); err != nil {
		if w := meta.OwnerWarning(err); w != "" {
			c.warnOnce(d.rel, w)
		}
	}
	return nil
}

// noteDstOwner records who owns d in DST, and on which filesystem it is,
// without a stat for each directory made: existing is its Lstat when it
// was there already; one this copy made belongs to this process, in the
// group of its parent if that is set-group-ID (it then is too), on its
// parent's filesystem. DST's root is looked at, and so is a directory made
// in one of another group, which it may have taken (a filesystem mounted
// grpid).
func (c *coordinator) noteDstOwner(d *dirState, existing os.FileInfo) {
	if existing == nil && (d.parent == nil || d.parent.sgid < 0 && d.parent.curGid != c.egid) {
		existing, _ = fsutil.Lstat(c.fs, d.dst)
	}
	if existing != nil {
		id, _, _ := fileIDOf(existing)
		d.dev = id.dev
		d.curUid, d.curGid = meta.OwnerOf(existing)
		d.sgid = -1
		if existing.Mode()&fs.ModeSetgid != 0 {
			d.sgid = int64(d.curGid)
		}
		return
	}
	// What a directory made here gets; DST's root only in a dry run, where
	// it is not made.
	d.curUid, d.curGid, d.sgid = c.euid, c.egid, -1
	if d.parent != nil {
		d.sgid, d.dev = d.parent.sgid, d.parent.dev
	}
	if d.sgid >= 0 {
		d.curGid = uint32(d.sgid)
	}
}

// taskDone records that a task's entry is finished, successfully or not.
func (c *coordinator) taskDone(t *task) {
	if t.dir != nil {
		t.dir.pending--
		c.maybeFinishDir(t.dir)
	}
}

// syncDir flushes the directory name to disk.
func syncDir(fsys afero.Fs, name string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// lchown changes the owner of name, never through a symlink where the
// filesystem has them.
func lchown(fsys afero.Fs, name string, uid, gid int) error {
	if osfs.Is(fsys) {
		return osfs.Lchown(name, uid, gid)
	}
	return fsys.Chown(name, uid, gid)
}

// dstDirPath returns the path in DST of the directory rel, below parent.
// A directory's path extends its parent's, so in a chain of directories
// they share their bytes (package sharedpath), as the walk's do: the
// coordinator holds the path of every directory not yet finished.
func (c *coordinator) dstDirPath(parent *dirState, rel string) string {
	if parent == nil || parent.parent == nil || filepath.Separator != '/' {
		return fsutil.Join(c.plan.dstRoot, rel)
	}
	return c.dstPaths.Join(parent.dst, rel[strings.LastIndexByte(rel, '/')+1:])
}

// srcDirPath returns the path in SRC of the directory d, as it is
// finished. Directories are finished from the bottom up: the path of the
// parent of the one finished last is the start of that one's.
func (c *coordinator) srcDirPath(d *dirState) string {
	var p string
	if last := c.lastFinished; last.dir != nil && last.dir.parent == d && d.parent != nil {
		p = last.src[:len(last.src)-(len(last.dir.rel)-len(d.rel))]
	} else {
		p = fsutil.Join(c.plan.srcRoot, d.rel)
	}
	c.lastFinished.dir, c.lastFinished.src = d, p
	return p
}
