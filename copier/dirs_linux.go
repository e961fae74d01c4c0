package copier

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/fastcopy"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
)

// finishDirAt sets d's owner, xattrs, mode and times through a descriptor
// of the directory itself, opened without following a symlink: whatever
// another user puts at its name meanwhile (a symlink, a file of their own
// to be chowned and made set-group-ID), only this directory is changed,
// and anything else there is an error. One open and close for all of it.
// A directory this process may not open for reading (it belongs to
// another user and is not readable to us) is done by path.
func (c *coordinator) finishDirAt(d *dirState) error {
	fd, err := beneath.OpenDir(d.dst)
	if err == unix.EACCES {
		return c.finishDirByPath(d)
	}
	if err != nil {
		return fmt.Errorf("set directory metadata: open: %w", err)
	}
	defer unix.Close(fd)
	if c.set.Owner {
		if uid, gid, ok := meta.OwnerChange(d.uid, d.gid, d.curUid, d.curGid); ok {
			if err := unix.Fchown(fd, uid, gid); err != nil {
				if w := meta.OwnerWarning(err); w != "" {
					c.warnOnce(d.rel, w)
				}
			}
		}
	}
	inherited := inheritedACLs(d)
	if !d.noXattrs || inherited != nil {
		w, err := c.copyDirXattrs(c.srcDirPath(d), meta.FdXattrs(fd), inherited)
		if err != nil {
			return err
		}
		if w != "" {
			c.warnOnce(d.rel, w)
		}
	}
	if !d.modeSet {
		if err := unix.Fchmod(fd, fsutil.UnixPerm(d.mode&meta.ModeBits)); err != nil {
			return fmt.Errorf("set directory mode: fchmod: %w", err)
		}
	}
	if err := fastcopy.Futimens(fd, d.atime.UnixNano(), d.mtime.UnixNano()); err != nil {
		return fmt.Errorf("set directory times: futimens: %w", err)
	}
	if c.set.Fsync {
		// Its entries' names, and those of its subdirectories, which
		// were finished before it.
		if err := unix.Fsync(fd); err != nil {
			return fmt.Errorf("flush directory: fsync: %w", err)
		}
	}
	return nil
}
