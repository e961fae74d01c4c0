//go:build !linux

package copier

import (
	"errors"
	"os"

	"github.com/spf13/afero"
)

// dirFds is false: here the walk lists and stats each entry by its path.
const dirFds = false

const atFdcwd = -100

// readNamesOS lists a directory through the os package on this platform.
func readNamesOS(dir string) ([]string, error) { return readNamesFs(afero.NewOsFs(), dir) }

func listDirAt(dirfd int, name string) (int, []string, error) {
	return -1, nil, errors.ErrUnsupported
}

func closeDirFd(fd int) {}

func lstatAt(dirfd int, name string) (os.FileInfo, error) { return nil, errors.ErrUnsupported }
