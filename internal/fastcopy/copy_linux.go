// Package fastcopy is the Linux fast path: a worker's per-file copy with
// raw system calls on descriptors, relative to open directories, on the
// operating system's filesystem. New returns it as a worker.FileCopier,
// and Parts is a large file copied in parts by several workers; on other
// systems (other.go) there are neither.
package fastcopy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/pcopy/pcopy/internal/bwlimit"

	"golang.org/x/sys/unix"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// The Linux fast path copies one file with raw system calls on file
// descriptors, relative to open directories. It avoids what *os.File costs
// per open (registering the fd with the poller, which fails for regular
// files, and restoring blocking mode: three extra calls), the lstat
// os.Rename makes first, and path walks. It trusts the size, mode and times
// the coordinator listed, and checks them once the data is copied: one
// fstat both gives the worker nothing to look up before and tells it
// whether the file changed while it was read.

// osCopier copies files on the operating system's filesystem for one
// worker. It keeps the source and destination directories of the last
// file open and works relative to them, so a file costs no full path walk;
// a worker's jobs mostly come a directory at a time.
type osCopier struct {
	tempPrefix     string
	set            wire.Settings
	srcDir, dstDir string // paths of the open directories
	srcfd, dstfd   int
	srcDev         uint64
	dstACL         bool   // the destination directory has a default ACL
	dstNewGid      uint32 // the group a file made there gets
	dstDirGid      uint32 // the destination directory's group
	dstDev         uint64
	dstGidUnsure   bool            // dstNewGid is a guess: look at the first file made
	bsdGroups      map[uint64]bool // per device: do new files take their directory's group (mount -o grpid)?

	// What this worker found the system can do, probed on first use and
	// kept for this copy only: another copy in the same process (a
	// library host) starts afresh, whatever filesystems this one met.
	naming    linkMode
	noUnnamed map[uint64]bool    // destination devices where unnamed files cannot be finished
	noClone   map[[2]uint64]bool // source and destination devices between which FICLONE failed

	srcFlags   int    // how sources are opened: O_NOFOLLOW unless symlinks are followed
	euid, egid uint32 // whom files this process makes belong to
	xbuf       meta.XattrBuf
	warn       string           // what the last job could not keep
	limit      *bwlimit.Limiter // --bwlimit; nil: none
}

// New returns the Linux fast path for a worker on the operating system's
// filesystem whose temporary files start with tempPrefix, copying as set
// says; with namedTemps every file gets a temporary name, as where
// O_TMPFILE cannot be used.
func New(tempPrefix string, set wire.Settings, namedTemps bool) worker.FileCopier {
	// O_NONBLOCK: a FIFO put where the walk saw a file is not waited on.
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	if set.Deref {
		flags &^= unix.O_NOFOLLOW
	}
	o := &osCopier{tempPrefix: tempPrefix, set: set, srcFlags: flags, srcfd: -1, dstfd: -1,
		euid: uint32(os.Geteuid()), egid: uint32(os.Getegid()), limit: bwlimit.For(set.BwLimit, set.BwWord)}
	if namedTemps {
		o.naming = linkNone
	}
	return o
}

func (o *osCopier) TakeWarn() string {
	w := o.warn
	o.warn = ""
	return w
}

func (o *osCopier) Close() {
	if o.srcfd >= 0 {
		unix.Close(o.srcfd)
	}
	if o.dstfd >= 0 {
		unix.Close(o.dstfd)
	}
	o.srcfd, o.dstfd, o.srcDir, o.dstDir = -1, -1, "", ""
}

// srcDirFd returns a descriptor of the directory holding src.
func (o *osCopier) srcDirFd(src string) (int, error) {
	if d, _ := fsutil.Split(src); d != o.srcDir || o.srcfd < 0 {
		// Below SRC, never through a symlink (but with --dereference,
		// where SRC is reached by path and symlinks are followed).
		fd, err := beneath.OpenDir(d)
		if err == beneath.ErrSymlink {
			return -1, worker.Changedf("%v", err)
		}
		if err != nil {
			return -1, fmt.Errorf("open source directory: %w", err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("open source directory: fstat: %w", err)
		}
		if o.srcfd >= 0 {
			unix.Close(o.srcfd)
		}
		o.srcfd, o.srcDir, o.srcDev = fd, d, st.Dev
	}
	return o.srcfd, nil
}

// dstDirFd returns a descriptor of the directory holding dst.
func (o *osCopier) dstDirFd(dst string) (int, error) {
	if d, _ := fsutil.Split(dst); d != o.dstDir || o.dstfd < 0 {
		// A directory of DST replaced by a symlink (its own name or one
		// above) since the coordinator created it is not written through.
		fd, err := beneath.OpenDir(d)
		if err != nil {
			return -1, fmt.Errorf("open destination directory: %w", err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("open destination directory: fstat: %w", err)
		}
		if o.dstfd >= 0 {
			unix.Close(o.dstfd)
		}
		o.dstfd, o.dstDir, o.dstACL = fd, d, meta.FdHasDefaultACL(fd)
		// In a set-group-ID directory new files take its group, and on
		// a filesystem mounted grpid (BSD groups) in every directory:
		// the first file made where it matters tells, per filesystem.
		o.dstNewGid, o.dstDirGid, o.dstDev, o.dstGidUnsure = o.egid, st.Gid, st.Dev, false
		switch bsd, known := o.bsdGroups[st.Dev]; {
		case st.Mode&unix.S_ISGID != 0 || known && bsd:
			o.dstNewGid = st.Gid
		case st.Gid != o.egid && !known:
			o.dstGidUnsure = true
		}
	}
	return o.dstfd, nil
}

// dirs returns descriptors of the directories holding src and dst.
func (o *osCopier) dirs(src, dst string) (int, int, error) {
	sdir, err := o.srcDirFd(src)
	if err != nil {
		return -1, -1, err
	}
	ddir, err := o.dstDirFd(dst)
	return sdir, ddir, err
}

// needsChmod says whether a file created with perm in the current
// destination directory may not have exactly perm: the umask or a default
// ACL cut it, or open(2) dropped special bits.
func (o *osCopier) needsChmod(perm uint32) bool {
	return o.dstACL || perm&meta.ProcessUmask() != 0 || perm&^0o777 != 0
}

// copyFile copies src to dst as the coordinator listed it (job). A new file
// costs openat, openat(O_TMPFILE), the data (FICLONE, or copy_file_range
// for job.Size bytes), fstat (has the source changed since it was listed?),
// flistxattr, futimens, linkat, close, close: 9 calls, where cp -a makes
// 17. An empty file costs fstatat, listxattrat, mknodat and utimensat.
func (o *osCopier) CopyFile(ctx context.Context, job *wire.Job, src, dst string, progress func(int64) error) (int64, error) {
	ddir, err := o.dstDirFd(dst)
	if err != nil {
		return 0, err
	}
	_, dname := fsutil.Split(dst)
	perm := fsutil.UnixPerm(fs.FileMode(job.Mode))

	sdir, err := o.srcDirFd(src)
	if err != nil {
		return 0, err
	}
	_, sname := fsutil.Split(src)
	srcfd := -1
	srcX := meta.AtXattrs(sdir, sname, o.srcFlags&unix.O_NOFOLLOW == 0)
	if job.Size == 0 {
		// Empty when listed: nothing to read and nothing that can be
		// half-written, so it is made at its name when that is free,
		// once the name in SRC is seen to be still the file listed
		// (whose extended attributes the copy gets).
		var st unix.Stat_t
		flags := unix.AT_SYMLINK_NOFOLLOW
		if o.srcFlags&unix.O_NOFOLLOW == 0 {
			flags = 0 // --dereference
		}
		if err := unix.Fstatat(sdir, sname, &st, flags); err != nil {
			if err == unix.ENOENT {
				return 0, worker.Changedf("vanished after it was listed; not copied")
			}
			return 0, fmt.Errorf("stat source: %w", err)
		}
		if err := checkListed(&st, job, 0); err != nil {
			return 0, err
		}
		if done, err := o.createEmpty(srcX, ddir, dname, perm, job); done {
			return 0, err
		}
	} else {
		srcfd, err = rawOpenat(sdir, sname, o.srcFlags, 0)
		if err != nil {
			switch err {
			case unix.ELOOP:
				return 0, worker.Changedf("is now a symlink (changed since it was listed); not followed")
			case unix.ENOENT:
				return 0, worker.Changedf("vanished after it was listed; not copied")
			}
			return 0, fmt.Errorf("open source: %w", err)
		}
		defer rawClose(srcfd)
		srcX = meta.FdXattrs(srcfd)
	}

	n, err := o.writeNew(ctx, ddir, dname, dst, srcfd, srcX, job, perm, progress)
	if errors.Is(err, errUnnamedUnusable) {
		// This filesystem makes unnamed files but cannot finish them: a
		// FUSE filesystem may have no path through which to set their
		// times or link them. Named temporary files from now on.
		if o.noUnnamed == nil {
			o.noUnnamed = make(map[uint64]bool)
		}
		o.noUnnamed[o.dstDev] = true
		o.warn = ""
		n, err = o.writeNew(ctx, ddir, dname, dst, srcfd, srcX, job, perm, progress)
	}
	return n, err
}

// errUnnamedUnusable says that an unnamed file could be made but not
// given its times or its name.
var errUnnamedUnusable = errors.New("unnamed files unusable here")

// writeNew writes a new file named dname in directory ddir (dst is its
// path, for messages) with the data of srcfd, or none when srcfd < 0, the
// extended attributes of srcX, and job's owner, mode and times.
func (o *osCopier) writeNew(ctx context.Context, ddir int, dname, dst string, srcfd int, srcX meta.Xattrs, job *wire.Job, perm uint32, progress func(int64) error) (int64, error) {
	f, err := o.createNew(ddir, perm)
	if err != nil {
		return 0, err
	}
	defer f.cleanup()
	n, err := o.fill(ctx, &f, srcfd, srcX, job, perm, progress)
	if err != nil {
		return n, err
	}
	return n, o.name(&f, ddir, dname, dst)
}

// checkUnchanged compares the open source file, once read, with what the
// coordinator listed before it was opened: another file (device, inode),
// of another type, or one whose size, mtime or ctime changed since, and
// what was read may mix old and new data. The ctime catches a writer that
// rewrote the file in place and set its mtime back (rsync --inplace -t
// does): only the kernel's clock sets a ctime.
func checkUnchanged(srcfd int, job *wire.Job) error {
	var st unix.Stat_t
	if err := rawFstat(srcfd, &st); err != nil {
		return fmt.Errorf("stat source: %w", err)
	}
	return checkListed(&st, job, job.Size)
}

// checkListed compares st, the source as it is now, with what the
// coordinator listed in job, whose file was size bytes long.
func checkListed(st *unix.Stat_t, job *wire.Job, size int64) error {
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return worker.Changedf("is now a %s (changed since it was listed); not copied", fsutil.TypeName(fsutil.UnixType(st.Mode)))
	}
	if job.Ino != 0 && (st.Dev != job.Dev || st.Ino != job.Ino) {
		return worker.Changedf("is another file than the one listed (replaced since); not copied")
	}
	switch {
	case st.Size != size:
		return worker.Changedf("changed while it was being copied (size %d, now %d); not copied", size, st.Size)
	case st.Mtim.Nano() != job.Mtime:
		return worker.Changedf("changed while it was being copied (its mtime moved); not copied")
	case job.Ctime != 0 && st.Ctim.Nano() != job.Ctime:
		return worker.Changedf("changed while it was being copied (its ctime moved, though size and mtime did not); not copied")
	}
	return nil
}

// keepOwnerAndXattrs gives the new file dstfd the owner job lists and the
// extended attributes of srcX, as far as DST and this process allow (what
// they do not is a warning). It comes before the mode is set: chown clears
// set-user-ID and set-group-ID bits.
func (o *osCopier) keepOwnerAndXattrs(dstfd int, srcX meta.Xattrs, job *wire.Job, unnamed bool) error {
	if o.dstGidUnsure {
		var st unix.Stat_t
		if unix.Fstat(dstfd, &st) == nil {
			o.learnGroups(st.Gid)
		}
	}
	if o.set.Owner {
		if uid, gid, ok := meta.OwnerChange(job.Uid, job.Gid, o.euid, o.dstNewGid); ok {
			if err := unix.Fchown(dstfd, uid, gid); err != nil {
				if unnamedUnusable(unnamed, err, nil) != nil {
					return errUnnamedUnusable
				}
				o.warn = meta.FirstWarn(o.warn, meta.OwnerWarning(err))
			}
		}
	}
	var inherited []string
	if o.dstACL {
		inherited = []string{meta.AccessACL}
	}
	o.warn = meta.FirstWarn(o.warn, meta.CopyXattrs(srcX, meta.FdXattrs(dstfd), &o.xbuf, inherited...))
	return nil
}

// learnGroups records the group gid that a file just made in the
// destination directory got: whether this filesystem gives new files
// their directory's group.
func (o *osCopier) learnGroups(gid uint32) {
	if o.bsdGroups == nil {
		o.bsdGroups = make(map[uint64]bool)
	}
	o.bsdGroups[o.dstDev] = gid == o.dstDirGid
	o.dstNewGid, o.dstGidUnsure = gid, false
}

// createEmpty makes an empty file at name in directory dirfd with the
// mode perm, the extended attributes of srcX, and the owner and times of
// job. done is false when the name is taken: the caller then replaces
// what is there the safe way.
func (o *osCopier) createEmpty(srcX meta.Xattrs, dirfd int, name string, perm uint32, job *wire.Job) (done bool, err error) {
	plain := !o.needsChmod(perm) && !o.dstGidUnsure // with a default ACL too: the inherited ACL goes
	if plain && o.set.Owner {
		_, _, chown := meta.OwnerChange(job.Uid, job.Gid, o.euid, o.dstNewGid)
		plain = !chown
	}
	if plain {
		names, err := srcX.Names(&o.xbuf)
		plain = len(names) == 0 && (err == nil || err == unix.ENOTSUP)
	}
	if plain {
		// mknod makes a regular file without opening it.
		err := rawMknodat(dirfd, name, unix.S_IFREG|perm)
		if err == unix.EEXIST {
			return false, nil
		}
		if err != nil {
			return true, fmt.Errorf("create in destination: mknod: %w", err)
		}
	} else {
		fd, err := rawOpenat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
		if err == unix.EEXIST {
			return false, nil
		}
		if err != nil {
			return true, fmt.Errorf("create in destination: open: %w", err)
		}
		err = o.keepOwnerAndXattrs(fd, srcX, job, false)
		if err == nil && o.needsChmod(perm) {
			if err = rawFchmod(fd, perm); err != nil {
				err = fmt.Errorf("set mode: %w", err)
			}
		}
		if cerr := rawClose(fd); err == nil && cerr != nil {
			err = fmt.Errorf("write destination: close: %w", cerr)
		}
		if err != nil {
			unix.Unlinkat(dirfd, name, 0) // it was made here, just now
			return true, err
		}
	}
	if err := rawUtimensat(dirfd, name, job.Atime, job.Mtime, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		unix.Unlinkat(dirfd, name, 0) // it was made here, just now
		return true, fmt.Errorf("set times: utimensat: %w", err)
	}
	return true, nil
}

// Futimens sets the times of fd (in ns), raw (see rawsys_linux.go).
func Futimens(fd int, atime, mtime int64) error {
	return rawUtimensat(fd, "", atime, mtime, 0)
}

// osFs is the operating system's filesystem, for helpers that take one.
var osFs afero.Fs = afero.NewOsFs()
