package fastcopy

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// The Linux fast path copies one file with raw system calls on file
// descriptors, relative to open directories. It avoids what *os.File costs
// per open (registering the fd with the poller, which fails for regular
// files, and restoring blocking mode: three extra calls), the lstat
// os.Rename makes first, and path walks. It trusts the size, mode and times
// the coordinator listed, and checks them once the data is copied: one
// fstat both gives the worker nothing to look up before and tells it
// whether the file changed while it was read.

// Files made without a name (O_TMPFILE) and given one when complete, or
// made under a temporary name where that cannot be.

// linkMode is how a worker can give an O_TMPFILE file a name, found on
// first use: linkat with AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on older
// kernels; linking /proc/self/fd/N needs /proc. If the kernel has no
// O_TMPFILE, named temporary files are used.
type linkMode uint8

const (
	linkUnknown linkMode = iota
	linkEmptyPath
	linkProcFd
	linkNone
)

// openUnnamed opens an unnamed file in directory dirfd, on the
// destination device o.dstDev.
func (o *osCopier) openUnnamed(dirfd int, perm uint32, access int) (int, error) {
	if o.naming == linkNone || o.noUnnamed[o.dstDev] {
		return -1, unix.EOPNOTSUPP
	}
	fd, err := rawOpenat(dirfd, ".", unix.O_TMPFILE|access|unix.O_CLOEXEC, perm)
	if err == unix.EISDIR {
		// A kernel without O_TMPFILE sees only its O_DIRECTORY bit. (A
		// filesystem without it says EOPNOTSUPP: another may have it.)
		o.naming = linkNone
	}
	return fd, err
}

// linkUnnamed gives the unnamed file fd the name name in directory dirfd.
func (o *osCopier) linkUnnamed(fd, dirfd int, name string) error {
	if o.naming == linkUnknown || o.naming == linkEmptyPath {
		err := rawLinkat(fd, "", dirfd, name, unix.AT_EMPTY_PATH)
		if err == nil {
			o.naming = linkEmptyPath
			return nil
		}
		if o.naming == linkEmptyPath || (err != unix.EPERM && err != unix.ENOENT && err != unix.EINVAL) {
			return err
		}
	}
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dirfd, name, unix.AT_SYMLINK_FOLLOW)
	if err == nil {
		o.naming = linkProcFd
	}
	return err
}
