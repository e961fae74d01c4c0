package copier

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The Linux fast path copies one file with raw system calls on file
// descriptors. It avoids what *os.File costs per open (registering the fd
// with the poller, which fails for regular files, and restoring blocking
// mode: three extra calls) and the lstat os.Rename makes first; metadata is
// set on the descriptor, not by path. Per file: openat, fstat, openat
// (O_EXCL), the data (one FICLONE, or copy_file_range until it returns 0),
// futimens, close, renameat, close; fchmod only when the umask or special
// bits require it.

// osCopier copies files on the operating system's filesystem for one
// worker. It keeps the source and destination directories of the last
// file open and works relative to them, so a file costs no full path walk;
// a worker's jobs mostly come a directory at a time.
type osCopier struct {
	tempPrefix     string
	srcDir, dstDir string // paths of the open directories
	srcfd, dstfd   int
	dstACL         bool // the destination directory has a default ACL
}

func newOSCopier(tempPrefix string) fileCopier {
	return &osCopier{tempPrefix: tempPrefix, srcfd: -1, dstfd: -1}
}

func (o *osCopier) close() {
	if o.srcfd >= 0 {
		unix.Close(o.srcfd)
	}
	if o.dstfd >= 0 {
		unix.Close(o.dstfd)
	}
	o.srcfd, o.dstfd, o.srcDir, o.dstDir = -1, -1, "", ""
}

// dirs returns descriptors of the directories holding src and dst.
func (o *osCopier) dirs(src, dst string) (int, int, error) {
	if d := filepath.Dir(src); d != o.srcDir || o.srcfd < 0 {
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, -1, fmt.Errorf("open source directory: %w", err)
		}
		if o.srcfd >= 0 {
			unix.Close(o.srcfd)
		}
		o.srcfd, o.srcDir = fd, d
	}
	if d := filepath.Dir(dst); d != o.dstDir || o.dstfd < 0 {
		// O_NOFOLLOW: a directory of DST replaced by a symlink since the
		// coordinator created it is not written through.
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, -1, fmt.Errorf("open destination directory: %w", err)
		}
		if o.dstfd >= 0 {
			unix.Close(o.dstfd)
		}
		o.dstfd, o.dstDir, o.dstACL = fd, d, fdHasDefaultACL(fd)
	}
	return o.srcfd, o.dstfd, nil
}

// copyFile copies src to dst with raw system calls on descriptors. What
// *os.File costs per open (registering the fd with the poller, which fails
// for regular files, then restoring blocking mode: three calls), the lstat
// os.Rename makes first, and setting metadata by path are all avoided. For
// a new file: openat, fstat, openat(O_TMPFILE), the data (FICLONE, or
// copy_file_range until it returns 0), futimens, linkat, close, close; an
// empty file takes one fstatat instead of opening the source.
func (o *osCopier) copyFile(ctx context.Context, job *Job, src, dst string, progress func(int64) error) (int64, error) {
	sdir, ddir, err := o.dirs(src, dst)
	if err != nil {
		return 0, err
	}
	sname, dname := filepath.Base(src), filepath.Base(dst)

	var st unix.Stat_t
	srcfd := -1
	if job.Size == 0 {
		// Empty when listed: if it still is, there is nothing to read.
		if err := unix.Fstatat(sdir, sname, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return 0, fmt.Errorf("stat source: %w", err)
		}
	}
	if job.Size != 0 || (st.Mode&unix.S_IFMT == unix.S_IFREG && st.Size != 0) {
		srcfd, err = unix.Openat(sdir, sname, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			if err == unix.ELOOP {
				return 0, errors.New("is now a symlink (changed since it was listed); not followed")
			}
			return 0, fmt.Errorf("open source: open: %w", err)
		}
		defer unix.Close(srcfd)
		if err := unix.Fstat(srcfd, &st); err != nil {
			return 0, fmt.Errorf("stat source: %w", err)
		}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, fmt.Errorf("is now a %s (changed since it was listed); not copied", typeName(unixType(st.Mode)))
	}

	// Mode and times come from this stat, taken before reading: they
	// describe the data copied, and the access time is the one before
	// this copy read the file.
	perm := st.Mode & 0o7777
	if srcfd < 0 {
		// Empty: nothing can be half-written, so it is made at its name
		// (when that is free), then given its times.
		if done, err := o.createEmpty(ddir, dname, perm, &st); done {
			return 0, err
		}
	}
	// An unnamed file (O_TMPFILE) in the destination directory gets its
	// name only when complete, with linkat: no temporary name to insert,
	// rename away or leave behind. Where the filesystem cannot, a named
	// temporary file is renamed into place.
	tmp := ""
	dstfd, err := openUnnamed(ddir, perm)
	if err != nil {
		dstfd, tmp, err = createTempAt(ddir, "", o.tempPrefix, perm)
	}
	if err != nil {
		return 0, fmt.Errorf("create in destination: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			unix.Close(dstfd)
			if tmp != "" {
				unix.Unlinkat(ddir, tmp, 0)
			}
		}
	}()

	var n int64
	if srcfd >= 0 {
		if n, err = copyFd(ctx, dstfd, srcfd, &st, progress); err != nil {
			return n, err
		}
	}
	// The create mode was cut by the umask (or shaped by a default ACL),
	// and open(2) may drop the special bits: set them exactly where any
	// of these could have changed them.
	if o.dstACL || perm&processUmask() != 0 || perm&^0o777 != 0 {
		if err := unix.Fchmod(dstfd, perm); err != nil {
			return n, fmt.Errorf("set mode: fchmod: %w", err)
		}
	}
	if err := futimens(dstfd, st.Atim.Nano(), st.Mtim.Nano()); err != nil {
		return n, fmt.Errorf("set times: futimens: %w", err)
	}
	if tmp == "" {
		err := linkUnnamed(dstfd, ddir, dname)
		if err == unix.EEXIST {
			// Something is at the name (a re-run): give the copy a
			// temporary name and rename it over, so what was there stays
			// whole until the copy is.
			for range 100 {
				tmp = tempName("", o.tempPrefix)
				if err = linkUnnamed(dstfd, ddir, tmp); err != unix.EEXIST {
					break
				}
			}
			if err != nil {
				tmp = ""
			}
		}
		if err != nil {
			return n, fmt.Errorf("link into place: %w", err)
		}
		if tmp == "" {
			committed = true
			if err := unix.Close(dstfd); err != nil {
				// A write error reported only now: the name just made
				// must not stay on a file that may be incomplete.
				unix.Unlinkat(ddir, dname, 0)
				return n, fmt.Errorf("write destination: close: %w", err)
			}
			return n, nil
		}
	}
	err = unix.Close(dstfd)
	committed = true // closed; from here on only the name needs removing on failure
	if err != nil {
		unix.Unlinkat(ddir, tmp, 0)
		return n, fmt.Errorf("write destination: close: %w", err)
	}
	if err := unix.Renameat(ddir, tmp, ddir, dname); err != nil {
		unix.Unlinkat(ddir, tmp, 0)
		return n, renameError(osFs, dst, &os.LinkError{Op: "rename", Old: tmp, New: dst, Err: err})
	}
	return n, nil
}

// createEmpty makes an empty file at name in directory dirfd with the mode
// and times of st. done is false when the name is taken: the caller then
// replaces what is there the safe way.
func (o *osCopier) createEmpty(dirfd int, name string, perm uint32, st *unix.Stat_t) (done bool, err error) {
	fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err == unix.EEXIST {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("create in destination: open: %w", err)
	}
	if o.dstACL || perm&processUmask() != 0 || perm&^0o777 != 0 {
		err = unix.Fchmod(fd, perm)
	}
	if err == nil {
		err = futimens(fd, st.Atim.Nano(), st.Mtim.Nano())
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlinkat(dirfd, name, 0) // it was made here, just now
		return true, fmt.Errorf("set metadata: %w", err)
	}
	return true, nil
}

// copyPart copies the range job.Offset, job.Size of src into the existing
// temporary file job.Temp next to dst, which the coordinator created: by
// cloning the range where the filesystem shares extents, else with
// copy_file_range.
func (o *osCopier) copyPart(ctx context.Context, job *Job, src, dst string, progress func(int64) error) (int64, error) {
	if !isTempName(job.Temp) {
		return 0, fmt.Errorf("%w: bad temporary name %q", ErrProtocol, job.Temp)
	}
	sdir, ddir, err := o.dirs(src, dst)
	if err != nil {
		return 0, err
	}
	srcfd, err := unix.Openat(sdir, filepath.Base(src), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open source: open: %w", err)
	}
	defer unix.Close(srcfd)
	dstfd, err := unix.Openat(ddir, job.Temp, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open temporary file: %w", err)
	}
	defer func() {
		if dstfd >= 0 {
			unix.Close(dstfd)
		}
	}()
	r := unix.FileCloneRange{Src_fd: int64(srcfd), Src_offset: uint64(job.Offset), Src_length: uint64(job.Size), Dest_offset: uint64(job.Offset)}
	if err := unix.IoctlFileCloneRange(dstfd, &r); err == nil {
		if progress != nil {
			if err := progress(job.Size); err != nil {
				return job.Size, err
			}
		}
		return job.Size, nil
	}
	n, err := copyRange(ctx, dstfd, srcfd, job.Offset, job.Size, progress, 0)
	if err == nil && n != job.Size {
		err = errors.New("shorter than when it was listed (changed while it was being copied)")
	}
	if err == nil {
		err = unix.Close(dstfd) // a write error may show only now
		dstfd = -1
	}
	if err != nil {
		return n, fmt.Errorf("copy part: %w", err)
	}
	return n, nil
}

// createTempAt creates a new file under a fresh temporary name in dir,
// relative to directory dirfd (dir "" with a directory's descriptor, or a
// path with unix.AT_FDCWD), and returns its descriptor and name.
func createTempAt(dirfd int, dir, prefix string, perm uint32) (int, string, error) {
	for range 100 {
		name := tempName(dir, prefix)
		fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, perm)
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return -1, "", fmt.Errorf("open: %w", err)
		}
		return fd, name, nil
	}
	return -1, "", errors.New("too many temporary name collisions")
}

// How this process can give an O_TMPFILE file a name, found on first use:
// linkat with AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on older kernels;
// linking /proc/self/fd/N needs /proc. If the kernel has no O_TMPFILE,
// named temporary files are used.
const (
	linkUnknown int32 = iota
	linkEmptyPath
	linkProcFd
	linkNone
)

var linkMode atomic.Int32

// openUnnamed opens an unnamed file in directory dirfd.
func openUnnamed(dirfd int, perm uint32) (int, error) {
	if linkMode.Load() == linkNone {
		return -1, unix.EOPNOTSUPP
	}
	fd, err := unix.Openat(dirfd, ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, perm)
	if err == unix.EISDIR {
		// A kernel without O_TMPFILE sees only its O_DIRECTORY bit. (A
		// filesystem without it says EOPNOTSUPP: another may have it.)
		linkMode.Store(linkNone)
	}
	return fd, err
}

// linkUnnamed gives the unnamed file fd the name name in directory dirfd.
func linkUnnamed(fd, dirfd int, name string) error {
	mode := linkMode.Load()
	if mode == linkUnknown || mode == linkEmptyPath {
		err := unix.Linkat(fd, "", dirfd, name, unix.AT_EMPTY_PATH)
		if err == nil {
			linkMode.CompareAndSwap(linkUnknown, linkEmptyPath)
			return nil
		}
		if mode == linkEmptyPath || (err != unix.EPERM && err != unix.ENOENT && err != unix.EINVAL) {
			return err
		}
	}
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dirfd, name, unix.AT_SYMLINK_FOLLOW)
	if err == nil {
		linkMode.CompareAndSwap(linkUnknown, linkProcFd)
	}
	return err
}

// copyFd copies the data of srcfd (described by st) to the empty dstfd:
// by reflink where the filesystems can share extents, keeping holes where
// the source is sparse, with copy_file_range otherwise, and with read and
// write where the kernel cannot copy between these files.
func copyFd(ctx context.Context, dstfd, srcfd int, st *unix.Stat_t, progress func(int64) error) (int64, error) {
	if st.Size == 0 {
		return 0, nil
	}
	if cloned, err := tryClone(dstfd, srcfd, st); cloned || err != nil {
		if err == nil && progress != nil {
			err = progress(st.Size)
		}
		return st.Size, err
	}
	if st.Blocks*512 < st.Size {
		return copySparse(ctx, dstfd, srcfd, st.Size, progress)
	}
	return copyRange(ctx, dstfd, srcfd, 0, -1, progress, 0)
}

// noClone remembers the source devices where FICLONE failed as
// unsupported, so the attempt costs one call per filesystem, not per file.
// A worker copies into one DST, so the source device is key enough.
var noClone sync.Map // uint64 -> true

func tryClone(dstfd, srcfd int, st *unix.Stat_t) (bool, error) {
	if _, no := noClone.Load(st.Dev); no {
		return false, nil
	}
	switch err := unix.IoctlFileClone(dstfd, srcfd); err {
	case nil:
		return true, nil
	case unix.EOPNOTSUPP, unix.ENOTTY, unix.EXDEV, unix.ENOSYS:
		noClone.Store(st.Dev, true) // not on this filesystem
	}
	return false, nil // unsupported, or not for this file (EINVAL, EPERM): copy the bytes
}

// copySparse copies only the data regions of srcfd, found with SEEK_DATA
// and SEEK_HOLE, and sets the size, so holes stay holes.
func copySparse(ctx context.Context, dstfd, srcfd int, size int64, progress func(int64) error) (int64, error) {
	var done int64
	for pos := int64(0); pos < size; {
		data, err := unix.Seek(srcfd, pos, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // only a hole from here to the end
		}
		if err != nil {
			return done, fmt.Errorf("copy data: seek: %w", err)
		}
		hole, err := unix.Seek(srcfd, data, unix.SEEK_HOLE)
		if err != nil {
			return done, fmt.Errorf("copy data: seek: %w", err)
		}
		n, err := copyRange(ctx, dstfd, srcfd, data, hole-data, progress, done)
		done += n
		if err != nil {
			return done, err
		}
		pos = hole
	}
	if err := unix.Ftruncate(dstfd, size); err != nil {
		return done, fmt.Errorf("copy data: ftruncate: %w", err)
	}
	return size, nil
}

// copyRange copies length bytes (to the end of the file when length < 0)
// from offset off of srcfd to the same offset of dstfd, in chunks that
// adapt as in copyData. base is added to the progress reports.
func copyRange(ctx context.Context, dstfd, srcfd int, off, length int64, progress func(int64) error, base int64) (int64, error) {
	var done int64
	chunk := int64(firstChunk)
	useRead := false
	for length < 0 || done < length {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		want := chunk
		if length >= 0 {
			want = min(want, length-done)
		}
		start := time.Now()
		var n int
		var err error
		if !useRead {
			roff, woff := off+done, off+done
			n, err = unix.CopyFileRange(srcfd, &roff, dstfd, &woff, int(want), 0)
			switch {
			case err == unix.EXDEV || err == unix.ENOSYS || err == unix.EOPNOTSUPP || err == unix.EINVAL,
				// Some filesystems answer 0 for files that have data.
				err == nil && n == 0 && done == 0:
				useRead = true // the kernel cannot copy between these files
				continue
			}
		} else {
			n, err = copyByHand(dstfd, srcfd, off+done, want)
		}
		if err != nil {
			return done, fmt.Errorf("copy data: %w", err)
		}
		if n == 0 {
			break // end of file
		}
		done += int64(n)
		chunk = adaptChunk(chunk, time.Since(start))
		if progress != nil {
			if err := progress(base + done); err != nil {
				return done, err
			}
		}
	}
	return done, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// copyByHand copies up to want bytes at off with pread and pwrite through a
// pooled buffer.
func copyByHand(dstfd, srcfd int, off, want int64) (int, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := (*bp)[:min(int64(len(*bp)), want)]
	n, err := unix.Pread(srcfd, buf, off)
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	for w := 0; w < n; {
		m, err := unix.Pwrite(dstfd, buf[w:n], off+int64(w))
		if err != nil {
			return 0, fmt.Errorf("write: %w", err)
		}
		w += m
	}
	return n, nil
}

// futimens sets the times of fd. x/sys has no futimens; it is
// utimensat(fd, NULL, times, 0), which UtimesNanoAt cannot express.
func futimens(fd int, atime, mtime int64) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(atime), unix.NsecToTimespec(mtime)}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func unixType(mode uint32) fs.FileMode {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return 0
}
