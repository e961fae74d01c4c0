//go:build unix

package worker

import (
	"errors"
	"os"
	"syscall"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/osfs"
)

// openFlags open a source without following a symlink put at its name
// since the walk, and without blocking on a FIFO put there: opening a FIFO
// for reading waits for a writer, forever.
const openFlags = os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK

func openOS(fsys afero.Fs, name string, follow bool) (afero.File, error) {
	if !osfs.Is(fsys) {
		return fsys.Open(name)
	}
	flags := openFlags
	if follow {
		flags &^= syscall.O_NOFOLLOW // --dereference
	}
	f, err := osfs.Of(fsys).OpenFile(name, flags, 0)
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, beneath.ErrSymlink) {
		return nil, Changedf("is now a symlink (changed since it was listed); not followed")
	}
	return f, err
}
