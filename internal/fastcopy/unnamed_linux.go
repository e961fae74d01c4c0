package fastcopy

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// New files: made without a name (O_TMPFILE) and given one when complete,
// or made under a temporary name where that cannot be.

// newFile is a file being written in the destination: unnamed
// (O_TMPFILE), given its name only when complete, with linkat (no
// temporary name to insert, rename away or leave behind), or, where the
// filesystem cannot, pending under a temporary name.
type newFile struct {
	fd  int
	tmp tempname.Pending // none while the file is unnamed
}

func (f *newFile) unnamed() bool { return f.tmp.Name == "" }

// close closes the file's descriptor: a write error may show only now.
func (f *newFile) close() error {
	err := rawClose(f.fd)
	f.fd = -1
	return err
}

// cleanup closes the file and removes its temporary name, unless it is
// closed and named.
func (f *newFile) cleanup() {
	if f.fd >= 0 {
		rawClose(f.fd)
	}
	f.tmp.Cleanup()
}

// createNew makes a new file in directory ddir with the mode perm:
// unnamed where it can.
func (o *osCopier) createNew(ddir int, perm uint32) (newFile, error) {
	access := unix.O_WRONLY
	if o.set.Verify {
		access = unix.O_RDWR // the copy is read back
	}
	fd, err := o.openUnnamed(ddir, perm, access)
	if err == nil {
		return newFile{fd: fd}, nil
	}
	f := newFile{fd: -1}
	f.tmp, err = tempname.MakePending(atDir(ddir), "", o.tempPrefix, func(name string) (err error) {
		f.fd, err = rawOpenat(ddir, name, access|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
		return err
	})
	if err != nil {
		return f, fmt.Errorf("create in destination: open: %w", err)
	}
	meta.MarkTemp(f.fd)
	return f, nil
}

// fill gives the new file f the data of srcfd (none when srcfd < 0),
// checked against job, the extended attributes of srcX, and job's owner,
// mode and times; with --fsync it flushes it.
func (o *osCopier) fill(ctx context.Context, f *newFile, srcfd int, srcX meta.Xattrs, job *wire.Job, perm uint32, progress func(int64) error) (int64, error) {
	var n int64
	if srcfd >= 0 {
		var err error
		n, err = o.copyData(ctx, f.fd, srcfd, job, progress)
		// A source that changed since it was listed explains a failed
		// copy better than the error does, and a copy that went well
		// is of data its listed size and times do not describe.
		if cerr := checkUnchanged(srcfd, job); cerr != nil {
			return n, cerr
		}
		if err != nil {
			return n, err
		}
		if o.set.Verify {
			if err := worker.VerifyCopy(fdReaderAt(srcfd), fdReaderAt(f.fd), job.Size); err != nil {
				return n, err
			}
		}
	}
	if err := o.keepOwnerAndXattrs(f.fd, srcX, job, f.unnamed()); err != nil {
		return n, err
	}
	if o.needsChmod(perm) {
		if err := rawFchmod(f.fd, perm); err != nil {
			return n, unnamedUnusable(f.unnamed(), err, fmt.Errorf("set mode: fchmod: %w", err))
		}
	}
	if err := Futimens(f.fd, job.Atime, job.Mtime); err != nil {
		return n, unnamedUnusable(f.unnamed(), err, fmt.Errorf("set times: futimens: %w", err))
	}
	if o.set.Fsync {
		if err := FsyncFd(f.fd); err != nil {
			return n, fmt.Errorf("write destination: fsync: %w", err)
		}
	}
	return n, nil
}

// name gives the finished file f the name dname in directory ddir. An
// unnamed file is linked there; if something is at the name (a re-run),
// it is linked under a temporary name instead, and renamed over what is
// there, which stays whole until the copy is.
func (o *osCopier) name(f *newFile, ddir int, dname, dst string) error {
	if f.unnamed() {
		if err := tempname.Fenced(); err != nil {
			return err
		}
		err := o.linkUnnamed(f.fd, ddir, dname)
		if err == nil {
			if err := f.close(); err != nil {
				// The name just made must not stay on a file that
				// may be incomplete.
				unix.Unlinkat(ddir, dname, 0)
				return fmt.Errorf("write destination: close: %w", err)
			}
			return nil
		}
		if err == unix.EEXIST {
			meta.MarkTemp(f.fd)
			f.tmp, err = tempname.MakePending(atDir(ddir), "", o.tempPrefix, func(tmp string) error {
				return o.linkUnnamed(f.fd, ddir, tmp)
			})
		}
		if err != nil {
			return unnamedUnusable(f.unnamed(), err, fmt.Errorf("link into place: %w", err))
		}
	}
	meta.UnmarkTemp(f.fd)
	if err := f.close(); err != nil {
		return fmt.Errorf("write destination: close: %w", err)
	}
	if err := f.tmp.Commit(dname); err != nil {
		return worker.RenameError(osFs, dst, &os.LinkError{Op: "rename", Old: f.tmp.Name, New: dst, Err: err})
	}
	return nil
}

// unnamedUnusable returns errUnnamedUnusable when err, from a step on an
// unnamed file, says the filesystem cannot do that step for such files,
// and report otherwise.
func unnamedUnusable(unnamed bool, err, report error) error {
	if unnamed && (err == unix.ENOENT || err == unix.ESTALE || err == unix.EXDEV) {
		return errUnnamedUnusable
	}
	return report
}

// atDir is a directory held open as a descriptor, as a tempname.Dir.
type atDir int

func (d atDir) Rename(oldname, newname string) error {
	return unix.Renameat(int(d), oldname, int(d), newname)
}

func (d atDir) Remove(name string) error { return unix.Unlinkat(int(d), name, 0) }

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
