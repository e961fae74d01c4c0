package copier

import (
	"fmt"
	"io/fs"
	"time"

	"github.com/spf13/afero"
)

// dirState follows one directory from the moment the walk enters it until
// everything in it is copied. Only then are its mode and times set: setting
// the mtime earlier would be undone by the entries renamed into it, and a
// read-only mode would stop them being written.
type dirState struct {
	rel    string
	parent *dirState
	mode   fs.FileMode
	mtime  time.Time
	atime  time.Time
	uid    uint32 // owner and group, or noOwner
	gid    uint32

	pending  int  // entries started but not finished: tasks out, subdirectories open
	walked   bool // every entry has been listed
	failed   bool // could not be created; no metadata to set
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
	name := joinRel(c.plan.dstRoot, d.rel)
	if c.owner {
		if err := c.setOwner(d, name); err != nil {
			return err
		}
	}
	// A directory made in one with a default ACL inherited it; one that
	// was there may have ACLs of its own. Either way SRC's are what count.
	var inherited []string
	if !d.created || d.acl {
		inherited = []string{accessACL, defaultACL}
	}
	if w := c.copyXattrs(joinRel(c.plan.srcRoot, d.rel), name, inherited); w != "" {
		c.warnOnce(d.rel, w)
	}
	if !d.modeSet {
		if err := c.fs.Chmod(name, d.mode&modeBits); err != nil {
			return fmt.Errorf("set directory mode: %w", unwrapPath(err))
		}
	}
	if err := c.fs.Chtimes(name, d.atime, d.mtime); err != nil {
		return fmt.Errorf("set directory times: %w", unwrapPath(err))
	}
	if c.fsync {
		// Its entries' names, and those of its subdirectories, which
		// were finished before it.
		if err := syncDir(c.fs, name); err != nil {
			return fmt.Errorf("flush directory: %w", unwrapPath(err))
		}
	}
	return nil
}

// setOwner gives the directory name d's owner and group, as far as this
// process may (see ownerChange).
func (c *coordinator) setOwner(d *dirState, name string) error {
	info, err := lstat(c.fs, name)
	if err != nil {
		return fmt.Errorf("set directory owner: %w", unwrapPath(err))
	}
	curUid, curGid := ownerOf(info)
	uid, gid, ok := ownerChange(d.uid, d.gid, curUid, curGid)
	if !ok {
		return nil
	}
	if err := lchown(c.fs, name, uid, gid); err != nil {
		if w := ownerWarning(err); w != "" {
			c.warnOnce(d.rel, w)
		}
	}
	return nil
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
