package copier

import (
	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/beneath"
)

// hasDefaultACL reports whether the directory at path has a default ACL.
func hasDefaultACL(path string) bool { return hasXattr(path, defaultACL) }

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

// fdHasDefaultACL reports whether the directory open as fd has one.
func fdHasDefaultACL(fd int) bool {
	_, err := unix.Fgetxattr(fd, defaultACL, nil)
	return err == nil
}
