package copier

import (
	"os"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/longpath"
)

// shortPath returns a path the kernel takes for p, however long, and a
// function to call once it is used (see longpath.Short).
func shortPath(p string) (string, func()) { return longpath.Short(p) }

// longPathFs is the operating system's filesystem where paths may be
// longer than the kernel takes (PATH_MAX, 4096 bytes on Linux): each call
// on such a path goes through a descriptor of its directory (see
// shortPath). The walk and the workers work relative to open directories
// anyway; this serves the calls made by path.
type longPathFs struct{ *afero.OsFs }

// osFsOf returns fsys, made to take long paths if it is the operating
// system's filesystem.
func osFsOf(fsys afero.Fs) afero.Fs {
	if os, ok := fsys.(*afero.OsFs); ok {
		return longPathFs{os}
	}
	return fsys
}

// isOSFs says whether fsys is the operating system's filesystem, where
// the fast paths and the metadata afero does not carry are used.
func isOSFs(fsys afero.Fs) bool {
	switch fsys.(type) {
	case *afero.OsFs, longPathFs:
		return true
	}
	return false
}

func (longPathFs) Name() string { return "OsFs (long paths)" }

func (fs longPathFs) Create(name string) (afero.File, error) {
	return fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (longPathFs) Mkdir(name string, perm os.FileMode) error {
	p, done := shortPath(name)
	defer done()
	return os.Mkdir(p, perm)
}

func (longPathFs) Open(name string) (afero.File, error) {
	p, done := shortPath(name)
	defer done()
	return os.Open(p)
}

func (longPathFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	p, done := shortPath(name)
	defer done()
	return os.OpenFile(p, flag, perm)
}

func (longPathFs) Remove(name string) error {
	p, done := shortPath(name)
	defer done()
	return os.Remove(p)
}

func (longPathFs) RemoveAll(name string) error {
	p, done := shortPath(name)
	defer done()
	return os.RemoveAll(p)
}

func (longPathFs) Rename(oldname, newname string) error {
	p, done := shortPath(oldname)
	defer done()
	q, done2 := shortPath(newname)
	defer done2()
	return os.Rename(p, q)
}

func (longPathFs) Stat(name string) (os.FileInfo, error) {
	p, done := shortPath(name)
	defer done()
	return os.Stat(p)
}

func (longPathFs) LstatIfPossible(name string) (os.FileInfo, bool, error) {
	p, done := shortPath(name)
	defer done()
	fi, err := os.Lstat(p)
	return fi, true, err
}

func (longPathFs) Chmod(name string, mode os.FileMode) error {
	p, done := shortPath(name)
	defer done()
	return os.Chmod(p, mode)
}

func (longPathFs) Chown(name string, uid, gid int) error {
	p, done := shortPath(name)
	defer done()
	return os.Chown(p, uid, gid)
}

func (longPathFs) Chtimes(name string, atime, mtime time.Time) error {
	p, done := shortPath(name)
	defer done()
	return os.Chtimes(p, atime, mtime)
}

func (longPathFs) SymlinkIfPossible(oldname, newname string) error {
	p, done := shortPath(newname)
	defer done()
	return os.Symlink(oldname, p)
}

func (longPathFs) ReadlinkIfPossible(name string) (string, error) {
	p, done := shortPath(name)
	defer done()
	return os.Readlink(p)
}
