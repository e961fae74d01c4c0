package osfs

import (
	"os"
	"path/filepath"
	"strings"
	"time"
	"unsafe"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/longpath"
)

func pathError(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &os.PathError{Op: op, Path: name, Err: err}
}

func (fs osFS) Create(name string) (afero.File, error) {
	return fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (osFS) Mkdir(name string, perm os.FileMode) error {
	return pathError("mkdir", name, beneath.Mkdir(name, fsutil.UnixPerm(perm)))
}

func (fs osFS) Open(name string) (afero.File, error) {
	return fs.OpenFile(name, os.O_RDONLY, 0)
}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	fd, err := beneath.Open(name, flag, fsutil.UnixPerm(perm))
	if err != nil {
		return nil, pathError("open", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func (osFS) Remove(name string) error {
	return pathError("remove", name, beneath.Remove(name))
}

func (osFS) RemoveAll(name string) error {
	return pathError("remove", name, beneath.RemoveAll(name, nil))
}

func (osFS) Rename(oldname, newname string) error {
	if err := beneath.Rename(oldname, newname); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return nil
}

func (osFS) Stat(name string) (os.FileInfo, error) {
	fi := &fsutil.StatInfo{Base: baseName(name)}
	if err := beneath.Stat(name, (*unix.Stat_t)(unsafe.Pointer(&fi.St))); err != nil {
		return nil, pathError("stat", name, err)
	}
	return fi, nil
}

func (osFS) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	fi := &fsutil.StatInfo{Base: baseName(name)}
	if err := beneath.Lstat(name, (*unix.Stat_t)(unsafe.Pointer(&fi.St))); err != nil {
		return nil, true, pathError("lstat", name, err)
	}
	return fi, true, nil
}

// Chmod never follows a symlink at name below a root.
func (osFS) Chmod(name string, mode os.FileMode) error {
	return pathError("chmod", name, beneath.Chmod(name, fsutil.UnixPerm(mode)))
}

// Chown follows a symlink at name only where it is a root (the user's
// choice); below a root it changes the entry itself.
func (osFS) Chown(name string, uid, gid int) error {
	if beneath.Below(name) {
		return pathError("lchown", name, beneath.Lchown(name, uid, gid))
	}
	p, done := longpath.Short(name)
	defer done()
	return os.Chown(p, uid, gid)
}

// Chtimes, like Chown, follows a symlink only at a root.
func (osFS) Chtimes(name string, atime, mtime time.Time) error {
	if beneath.Below(name) {
		return pathError("lutimes", name, beneath.Lutimes(name, atime.UnixNano(), mtime.UnixNano()))
	}
	p, done := longpath.Short(name)
	defer done()
	return os.Chtimes(p, atime, mtime)
}

func (osFS) SymlinkIfPossible(oldname, newname string) error {
	if err := beneath.Symlink(oldname, newname); err != nil {
		return &os.LinkError{Op: "symlink", Old: oldname, New: newname, Err: err}
	}
	return nil
}

func (osFS) ReadlinkIfPossible(name string) (string, error) {
	s, err := beneath.Readlink(name)
	return s, pathError("readlink", name, err)
}

// Lchown changes the owner of name itself, never through a symlink.
func Lchown(name string, uid, gid int) error {
	return pathError("lchown", name, beneath.Lchown(name, uid, gid))
}

// baseName is the last element of name, as os.Lstat names what it
// describes: a copy, so that the FileInfo does not hold the whole path
// (in a chain of directories 20,000 deep, 40 KB for each).
func baseName(name string) string {
	return strings.Clone(filepath.Base(name))
}
