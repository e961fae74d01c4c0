package walk

import (
	"os"
	"sort"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/longpath"
)

// dirFds says whether the walk can list and stat relative to open
// directory descriptors here, instead of walking each entry's full path.
const dirFds = true

// atFdcwd, as a directory descriptor, means the working directory.
const atFdcwd = unix.AT_FDCWD

// openDir opens the directory dir for reading: below a root, without
// following symlinks (package beneath), or by its path, following them,
// when follow says so (--dereference).
func openDir(dir string, follow bool) (int, error) {
	if !follow {
		return beneath.OpenDir(dir)
	}
	short, done := longpath.Short(dir)
	defer done()
	return unix.Open(short, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

// namesOS is Names on the operating system's filesystem.
func namesOS(dir string, follow bool) ([]string, More, error) {
	fd, err := openDir(dir, follow)
	if err != nil {
		return nil, nil, fsutil.Op("open", err)
	}
	_, names, more, err := listFd(fd) // closes fd if it fails
	if err != nil || !more {
		if err == nil {
			unix.Close(fd)
		}
		return names, nil, err
	}
	return names, func(fn func(string) bool) error {
		defer unix.Close(fd)
		for {
			batch, eof, err := readDirBatch(fd, readBatch)
			for _, n := range batch {
				if !fn(n) {
					return nil
				}
			}
			if err != nil || eof {
				return err
			}
		}
	}, nil
}

// fsCasefoldFl is FS_CASEFOLD_FL of linux/fs.h (x/sys has it not).
const fsCasefoldFl = 0x40000000

// FoldsCase says whether names in the directory dir may be found under
// another case than their own: a casefolded directory (chattr +F on ext4
// and f2fs), or a filesystem that folds case (FAT, exFAT, NTFS, SMB), or
// one it cannot tell. There an lstat finding a name does not say the
// directory lists it.
func FoldsCase(dir string, follow bool) bool {
	fd, err := openDir(dir, follow)
	if err != nil {
		return true
	}
	defer unix.Close(fd)
	if flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS); err == nil && flags&fsCasefoldFl != 0 {
		return true
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return true
	}
	switch uint32(st.Type) {
	case unix.MSDOS_SUPER_MAGIC, 0x2011bab0 /* exFAT */, 0x7366746e /* ntfs3 */, 0x5346544e, /* ntfs */
		0x65735546 /* FUSE: ntfs-3g and others */, unix.SMB_SUPER_MAGIC, unix.SMB2_SUPER_MAGIC, unix.CIFS_SUPER_MAGIC:
		return true
	}
	return false
}

// readNamesOS lists a directory of the operating system's filesystem,
// sorted (see listDirAt), following it if it is a symlink and follow says
// so.
func readNamesOS(dir string, follow bool) ([]string, error) {
	fd, err := openDir(dir, follow)
	if err != nil {
		return nil, fsutil.Op("open", err)
	}
	defer unix.Close(fd)
	return readDirNames(fd)
}

// listDirAt opens the directory name, relative to the directory dirfd,
// and returns its descriptor and its entry names: all of them, sorted,
// for a directory of up to sortedNames entries; for a larger one the
// first of them, in the order the filesystem gives them, and more says
// that the rest is read from the descriptor as the walk goes
// (readDirBatch), so that a directory of millions of entries is never
// held whole. Raw system calls: os.File would add poller bookkeeping to
// each open. O_NOFOLLOW: a directory replaced by a symlink since it was
// seen is not listed, so nothing outside SRC is copied through it, unless
// follow says name is a symlink to be followed (--dereference). When the
// listing fails part way, the names read so far come with the error and
// no descriptor.
func listDirAt(dirfd int, name string, follow bool) (fd int, names []string, more bool, err error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if follow {
		flags &^= unix.O_NOFOLLOW
	}
	fd, err = unix.Openat(dirfd, name, flags, 0)
	if err != nil {
		return -1, nil, false, fsutil.Op("open", err)
	}
	return listFd(fd)
}

// listDirBeneath is listDirAt of the directory p, below SRC's root,
// reached without following symlinks (package beneath).
func listDirBeneath(p string) (fd int, names []string, more bool, err error) {
	fd, err = beneath.OpenDir(p)
	if err != nil {
		return -1, nil, false, fsutil.Op("open", err)
	}
	return listFd(fd)
}

// listFd lists the open directory fd for listDirAt; fd is closed if that
// fails.
func listFd(fd int) (int, []string, bool, error) {
	names, eof, err := readDirBatch(fd, sortedNames)
	if err != nil {
		unix.Close(fd)
		return -1, names, false, err
	}
	if eof {
		sort.Strings(names)
	}
	return fd, names, !eof, nil
}

// eachNameOS is EachName on the operating system's filesystem.
func eachNameOS(dir string, fn func(name string)) error {
	fd, err := beneath.OpenDir(dir)
	if err != nil {
		return fsutil.Op("open", err)
	}
	defer unix.Close(fd)
	for {
		names, eof, err := readDirBatch(fd, readBatch)
		for _, n := range names {
			fn(n)
		}
		if err != nil || eof {
			return err
		}
	}
}

// sortedNames is the most entries a directory may have to be listed whole
// and sorted; a larger one is read as the walk goes.
var sortedNames = 1 << 16

// readDirBatch reads names from the open directory fd until it has at
// least limit or the directory ends (eof).
func readDirBatch(fd, limit int) (names []string, eof bool, err error) {
	bp := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(bp)
	for len(names) < limit {
		n, err := unix.ReadDirent(fd, *bp)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return names, false, fsutil.Op("getdents", err)
		}
		if n <= 0 {
			return names, true, nil
		}
		_, _, names = unix.ParseDirent((*bp)[:n], -1, names)
	}
	return names, false, nil
}

var direntBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// readDirNames reads the sorted entry names of the open directory fd;
// when reading fails part way, the names read so far come with the error.
func readDirNames(fd int) ([]string, error) {
	names, err := beneath.ReadNames(fd)
	sort.Strings(names)
	if err != nil {
		return names, fsutil.Op("getdents", err)
	}
	return names, nil
}

// statAt is stat of name relative to the directory dirfd, following a
// symlink.
func statAt(dirfd int, name string) (os.FileInfo, error) {
	fi := &fsutil.StatInfo{Base: name}
	if err := unix.Fstatat(dirfd, name, (*unix.Stat_t)(unsafe.Pointer(&fi.St)), 0); err != nil {
		return nil, fsutil.Op("stat", err)
	}
	return fi, nil
}

// errLoop is what following a symlink loop fails with.
const errLoop = unix.ELOOP

// sameFile says whether a and b describe one file.
func sameFile(a, b os.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	if ok1 && ok2 {
		return sa.Dev == sb.Dev && sa.Ino == sb.Ino
	}
	return os.SameFile(a, b)
}

// fdHasXattrs says whether the open file fd has extended attributes (or
// whether that could not be told).
func fdHasXattrs(fd int) bool {
	n, err := unix.Flistxattr(fd, nil)
	return n > 0 || err != nil && err != unix.ENOTSUP
}

// DirFdBudget returns how many directories each of listers may keep open:
// at most limit, and, of what RLIMIT_NOFILE (ulimit -n) leaves beside 32
// descriptors and 4 per worker (its two pipes, its pidfd, and one to
// spare), half, shared among the listers; the rest is for the
// coordinator's own calls. At least 1: deeper directories are reached from
// SRC's root, one at a time.
func DirFdBudget(limit, workers, listers int) int {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil || rl.Cur > 1<<20 {
		return limit
	}
	avail := int(rl.Cur) - 32 - 4*workers
	return min(limit, max(1, avail/(2*listers)))
}

// closeDirFd closes a descriptor from listDirAt.
func closeDirFd(fd int) { unix.Close(fd) }

// lstatAt is lstat of name relative to the directory dirfd: no walk of
// the path from the root for every entry.
func lstatAt(dirfd int, name string) (os.FileInfo, error) {
	fi := &fsutil.StatInfo{Base: name}
	if err := unix.Fstatat(dirfd, name, (*unix.Stat_t)(unsafe.Pointer(&fi.St)), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, fsutil.Op("lstat", err)
	}
	return fi, nil
}

// syscall.Stat_t and unix.Stat_t describe the same kernel structure, so
// one can be filled through the other: these fail to compile otherwise.
var (
	_ [unsafe.Sizeof(syscall.Stat_t{}) - unsafe.Sizeof(unix.Stat_t{})]struct{}
	_ [unsafe.Sizeof(unix.Stat_t{}) - unsafe.Sizeof(syscall.Stat_t{})]struct{}
)

// mountOf returns the mount that the entry name in dirfd (or the path p,
// with dirfd -1) is on: its mount ID where the kernel says it (statx,
// Linux 5.8), which also tells a bind mount of a directory of the same
// filesystem apart; its device number otherwise. follow: p is a symlink
// followed (--dereference). Automount points are not triggered.
func mountOf(dirfd int, name, p string, follow bool) (uint64, error) {
	flags := unix.AT_NO_AUTOMOUNT | unix.AT_STATX_DONT_SYNC
	if !follow {
		flags |= unix.AT_SYMLINK_NOFOLLOW
	}
	if dirfd < 0 {
		dirfd, name = unix.AT_FDCWD, p
	}
	var stx unix.Statx_t
	if err := unix.Statx(dirfd, name, flags, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, fsutil.Op("statx", err)
	}
	if stx.Mask&unix.STATX_MNT_ID != 0 {
		return stx.Mnt_id, nil
	}
	return unix.Mkdev(stx.Dev_major, stx.Dev_minor) | 1<<63, nil // never a mount ID
}

// OneFilesystemWorks says whether the walk can tell mounts apart here.
const OneFilesystemWorks = true

// SetHugeDir makes a directory of more than n entries one that is read as
// it goes (for tests, which cannot make 65,536); the returned function
// puts it back.
func SetHugeDir(n int) (restore func()) {
	old := sortedNames
	sortedNames = n
	return func() { sortedNames = old }
}
