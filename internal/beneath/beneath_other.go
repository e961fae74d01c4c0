//go:build !linux

package beneath

import (
	"errors"

	"os"
	"path/filepath"
	"strings"
)

func closeRoot(r *root) {}

// Check says whether p can be used by path: no component of it below a
// held root (its own name excluded) is a symlink. The check and the use
// are not atomic here, unlike on Linux, where the directory is reached
// through descriptors.
func Check(op Op, p string) error {
	hook(op, p)
	r, rel := find(p)
	if r == nil || r.follow {
		return nil
	}
	dir, _ := splitRel(rel)
	cur := r.path
	for _, c := range strings.Split(dir, "/") {
		if c == "" {
			continue
		}
		cur = filepath.Join(cur, c)
		info, err := os.Lstat(cur)
		if err != nil {
			return err
		}
		if !info.IsDir() {
			return ErrSymlink
		}
	}
	return nil
}

// ErrProtected is what RemoveAll fails with on reaching a directory its
// protect function names.
// Identity is not known here: directories are told apart by path only.
func Identity(p string) (dev, ino uint64, above [][2]uint64, err error) {
	return 0, 0, nil, errors.ErrUnsupported
}

var ErrProtected = errors.New("it is the source or holds it; not deleted")

// RemoveAll removes p and everything below it (protect is not consulted
// here: directories have no inode numbers to compare on every system).
func RemoveAll(p string, protect func(dev, ino uint64) bool) error {
	if err := Check(OpUnlink, p); err != nil {
		return err
	}
	return os.RemoveAll(p)
}
