//go:build !linux

package osfs

import (
	"os"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/beneath"
)

// Here the operating system's filesystem is used by path, after
// beneath.Check has found no symlink below the root in the path (not
// atomic with the use, as on Linux: see README).

func (fs osFS) Create(name string) (afero.File, error) {
	return fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (osFS) Mkdir(name string, perm os.FileMode) error {
	if err := beneath.Check(beneath.OpMkdir, name); err != nil {
		return err
	}
	return os.Mkdir(name, perm)
}

func (fs osFS) Open(name string) (afero.File, error) { return fs.OpenFile(name, os.O_RDONLY, 0) }

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if err := beneath.Check(beneath.OpOpen, name); err != nil {
		return nil, err
	}
	return os.OpenFile(name, flag, perm)
}

func (osFS) Remove(name string) error {
	if err := beneath.Check(beneath.OpUnlink, name); err != nil {
		return err
	}
	return os.Remove(name)
}

func (osFS) RemoveAll(name string) error { return beneath.RemoveAll(name, nil) }

func (osFS) Rename(oldname, newname string) error {
	if err := beneath.Check(beneath.OpRename, oldname); err != nil {
		return err
	}
	if err := beneath.Check(beneath.OpRename, newname); err != nil {
		return err
	}
	return os.Rename(oldname, newname)
}

func (osFS) Stat(name string) (os.FileInfo, error) {
	if err := beneath.Check(beneath.OpStat, name); err != nil {
		return nil, err
	}
	return os.Stat(name)
}

func (osFS) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	if err := beneath.Check(beneath.OpStat, name); err != nil {
		return nil, true, err
	}
	fi, err := os.Lstat(name)
	return fi, true, err
}

func (osFS) Chmod(name string, mode os.FileMode) error {
	if err := beneath.Check(beneath.OpChmod, name); err != nil {
		return err
	}
	if fi, err := os.Lstat(name); err == nil && fi.Mode()&os.ModeSymlink != 0 && beneath.Below(name) {
		return &os.PathError{Op: "chmod", Path: name, Err: beneath.ErrSymlink}
	}
	return os.Chmod(name, mode)
}

func (osFS) Chown(name string, uid, gid int) error {
	if err := beneath.Check(beneath.OpChown, name); err != nil {
		return err
	}
	if beneath.Below(name) {
		return os.Lchown(name, uid, gid)
	}
	return os.Chown(name, uid, gid)
}

func (osFS) Chtimes(name string, atime, mtime time.Time) error {
	if err := beneath.Check(beneath.OpTimes, name); err != nil {
		return err
	}
	if fi, err := os.Lstat(name); err == nil && fi.Mode()&os.ModeSymlink != 0 && beneath.Below(name) {
		return &os.PathError{Op: "chtimes", Path: name, Err: beneath.ErrSymlink}
	}
	return os.Chtimes(name, atime, mtime)
}

func (osFS) SymlinkIfPossible(oldname, newname string) error {
	if err := beneath.Check(beneath.OpCreate, newname); err != nil {
		return err
	}
	return os.Symlink(oldname, newname)
}

func (osFS) ReadlinkIfPossible(name string) (string, error) {
	if err := beneath.Check(beneath.OpOpen, name); err != nil {
		return "", err
	}
	return os.Readlink(name)
}

// Lchown changes the owner of name itself.
func Lchown(name string, uid, gid int) error { return osFS{}.Chown(name, uid, gid) }
