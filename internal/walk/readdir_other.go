//go:build !linux

package walk

import (
	"errors"
	"os"
	"syscall"

	"github.com/spf13/afero"
)

// dirFds is false: here the walk lists and stats each entry by its path.
const dirFds = false

const atFdcwd = -100

func namesOS(dir string, follow bool) ([]string, More, error) {
	names, err := readNamesOS(dir, follow)
	return names, nil, err
}

// FoldsCase cannot tell here: it says it may.
func FoldsCase(dir string, follow bool) bool { return true }

// readNamesOS lists a directory through the os package on this platform.
func readNamesOS(dir string, follow bool) ([]string, error) { return readNamesFs(afero.NewOsFs(), dir) }

func listDirAt(dirfd int, name string, follow bool) (int, []string, bool, error) {
	return -1, nil, false, errors.ErrUnsupported
}

func listDirBeneath(p string) (int, []string, bool, error) {
	return -1, nil, false, errors.ErrUnsupported
}

func readDirBatch(fd, limit int) ([]string, bool, error) { return nil, true, errors.ErrUnsupported }

func eachNameOS(dir string, fn func(name string)) error {
	names, err := readNamesOS(dir, false)
	for _, n := range names {
		fn(n)
	}
	return err
}

func closeDirFd(fd int) {}

func DirFdBudget(limit, workers, listers int) int { return limit }

func fdHasXattrs(fd int) bool { return true }

func lstatAt(dirfd int, name string) (os.FileInfo, error) { return nil, errors.ErrUnsupported }
func statAt(dirfd int, name string) (os.FileInfo, error)  { return nil, errors.ErrUnsupported }

// errLoop is what following a symlink loop fails with.
var errLoop = syscall.ELOOP

// sameFile says whether a and b describe one file.
func sameFile(a, b os.FileInfo) bool { return os.SameFile(a, b) }

// mountOf is never asked here: OneFilesystem is Linux's.
func mountOf(dirfd int, name, p string, follow bool) (uint64, error) { return 0, errors.ErrUnsupported }

// OneFilesystemWorks says whether the walk can tell mounts apart here.
const OneFilesystemWorks = false
