package beneath

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/longpath"
)

// Removing a tree as rm -r does, reading a directory's names, and the
// identities --delete protects.

// ErrProtected is what RemoveAll fails with on reaching a directory its
// protect function names (SRC, or a directory that holds it).
var ErrProtected = errors.New("it is SRC or holds it (a bind mount?); not deleted")

// RemoveAll removes p and, if it is a directory, everything below it, as
// rm -r does: each directory is opened without following a symlink and
// emptied through its descriptor, so a directory swapped for a symlink
// meanwhile is never entered. A directory whose device and inode protect
// names is neither entered nor removed (ErrProtected).
func RemoveAll(p string, protect func(dev, ino uint64) bool) error {
	hook(OpUnlink, p)
	dirfd, name, done, err := Dir(p)
	if err != nil {
		return err
	}
	defer done()
	defer forgetPath(p)
	return removeAllAt(dirfd, name, p, protect)
}

func removeAllAt(dirfd int, name, p string, protect func(dev, ino uint64) bool) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR && err != unix.EPERM {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return err
	}
	if protect != nil && protect(st.Dev, st.Ino) {
		unix.Close(fd)
		return ErrProtected
	}
	names, err := ReadNames(fd)
	var first error
	if err != nil {
		first = err
	}
	for _, n := range names {
		np := p + "/" + n
		hook(OpUnlink, np)
		if err := removeAllAt(fd, n, np, protect); err != nil && first == nil {
			first = err
		}
	}
	unix.Close(fd)
	if first != nil {
		return first
	}
	err = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
	if err == unix.ENOENT {
		return nil
	}
	return err
}

// ReadNames reads the names in the open directory fd, but "." and "..",
// in the order the filesystem gives them; when reading fails part way,
// the names read so far come with the error.
func ReadNames(fd int) ([]string, error) {
	var names []string
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return names, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}

// Identity returns the device and inode of the directory p and of each
// directory above it up to the filesystem's root, found with ".." from p's
// descriptor: what a bind mount or a symlink in a path can hide, ".."
// from the directory itself shows.
func Identity(p string) (dev, ino uint64, above [][2]uint64, err error) {
	s, done := longpath.Short(p)
	fd, err := unix.Open(s, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	done()
	if err != nil {
		return 0, 0, nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return 0, 0, nil, err
	}
	dev, ino = st.Dev, st.Ino
	for range 4096 {
		next, err := unix.Openat(fd, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return dev, ino, above, nil
		}
		fd = next
		var pst unix.Stat_t
		if unix.Fstat(fd, &pst) != nil || pst.Dev == st.Dev && pst.Ino == st.Ino {
			break // the root: its ".." is itself
		}
		above = append(above, [2]uint64{pst.Dev, pst.Ino})
		st = pst
	}
	unix.Close(fd)
	return dev, ino, above, nil
}
