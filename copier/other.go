//go:build !linux

// Everything the copier does differently on systems other than Linux, in
// one place: there it copies through afero and os alone, with no raw
// system calls, directory descriptors, xattrs, ACLs, device nodes, split
// files or temporary-file marks; each function here says what it does
// instead. (What differs between Unix and other systems is in the
// *_unix.go and !unix files.)

package copier

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"time"

	"github.com/spf13/afero"
)

// --- directories

// finishDirAt is finishDirByPath here: directories are reached by path.
func (c *coordinator) finishDirAt(d *dirState) error { return c.finishDirByPath(d) }

// --- metadata

// copyXattrs copies nothing: extended attributes are kept on Linux only.
func (c *coordinator) copyXattrs(src, dst string, followDst bool, inherited []string) (warn string, err error) {
	return "", nil
}

// specialFiles says that FIFOs, sockets and device nodes are not made here.
const specialFiles = false

// devOf is 0: devices are not told apart here.
func devOf(path string) uint64 { return 0 }

// mountPoint is not looked up here: a full DST is named by its root instead.
func mountPoint(path string) string { return path }

// freeSpace is not known here.
func freeSpace(fsys afero.Fs, dir string) int64 { return -1 }

// --- worker processes

func setWorkerAttrs(cmd *exec.Cmd) {}

func startWorker(cmd *exec.Cmd) error { return cmd.Start() }

// watchParent does nothing here: a worker whose coordinator died sees its
// stdin end, or its next result write fail.
func watchParent(ctx context.Context, cancel context.CancelFunc) {}

func setProcessName(name string) {}

// --- temporary files

// --- the umask

// --- hosts

// fsType is not looked up here: fingerprint compares the rest.
func fsType(path string) string { return "" }

// openNoFollow opens the file p for reading; a symlink at its name is
// refused, as far as a look before the open can tell.
func openNoFollow(p string) (*os.File, error) {
	if info, err := os.Lstat(p); err != nil {
		return nil, err
	} else if info.Mode()&os.ModeSymlink != 0 {
		return nil, errors.New("a symlink")
	}
	return os.Open(p)
}

// newFence makes no fence here: a host frozen and continued may finish
// the file each worker was in (see fence_linux.go).
// monotonicNow is this process's monotonic clock; with no fence, no other
// process reads it.
func monotonicNow() int64 { return int64(time.Since(processStart)) }

var processStart = time.Now()

func newFence() (f *os.File, heard func(at int64), err error) {
	return nil, func(int64) {}, errors.ErrUnsupported
}

// useFence is never asked here: agents pass no fence.
func useFence(fd int, timeout string) error { return errors.ErrUnsupported }
