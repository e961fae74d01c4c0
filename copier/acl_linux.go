package copier

import "golang.org/x/sys/unix"

// hasDefaultACL reports whether the directory at path has a default ACL.
func hasDefaultACL(path string) bool {
	path, done := shortPath(path)
	defer done()
	_, err := unix.Getxattr(path, defaultACL, nil)
	return err == nil
}

// fdHasDefaultACL reports whether the directory open as fd has one.
func fdHasDefaultACL(fd int) bool {
	_, err := unix.Fgetxattr(fd, defaultACL, nil)
	return err == nil
}
