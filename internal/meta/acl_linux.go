package meta

import (
	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/beneath"
)

// HasDefaultACL reports whether the directory at path has a default ACL.
func HasDefaultACL(path string) bool { return hasXattr(path, DefaultACL) }

// hasXattr says whether the entry at path (not followed, if a symlink)
// has the extended attribute name.
func hasXattr(path, name string) bool {
	p, done, err := beneath.XattrPath(path)
	if err != nil {
		return false
	}
	defer done()
	_, err = unix.Lgetxattr(p, name, nil)
	return err == nil
}

// FdHasDefaultACL reports whether the directory open as fd has one.
func FdHasDefaultACL(fd int) bool {
	_, err := unix.Fgetxattr(fd, DefaultACL, nil)
	return err == nil
}
