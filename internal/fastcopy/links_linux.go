package fastcopy

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// link gives the file already copied to target (a path in DST) the name
// dst too, as src and the file target was copied from are one file in
// SRC. A name that is already that file is left alone; anything else at
// it is replaced only once the link is made under a temporary name. Where
// DST cannot link (another filesystem below DST, the file's link limit,
// a filesystem without hard links), src is copied instead.
func (o *osCopier) Link(ctx context.Context, job *wire.Job, target, src, dst string, progress func(int64) error) (int64, error) {
	ddir, err := o.dstDirFd(dst)
	if err != nil {
		return 0, err
	}
	_, dname := fsutil.Split(dst)
	// The file linked to is reached like any entry below DST (or the
	// earlier copy): through its directory's descriptor, no symlink
	// followed; linkat does not follow a symlink at its name.
	tdir, tname, done, err := beneath.Dir(target)
	if err != nil {
		return 0, fmt.Errorf("link to %s: %w", fsutil.DisplayPath(job.Link), err)
	}
	defer done()
	err = unix.Linkat(tdir, tname, ddir, dname, 0)
	if err == unix.EEXIST {
		if sameFileAt(tdir, tname, ddir, dname) {
			return 0, worker.ErrUpToDate
		}
		var tmp tempname.Pending
		tmp, err = tempname.MakePending(atDir(ddir), "", o.tempPrefix, func(name string) error {
			return unix.Linkat(tdir, tname, ddir, name, 0)
		})
		if err == nil {
			defer tmp.Cleanup()
			if err := tmp.Commit(dname); err != nil {
				return 0, worker.RenameError(osFs, dst, &os.LinkError{Op: "rename", Old: tmp.Name, New: dst, Err: err})
			}
			return 0, nil
		}
	}
	switch err {
	case nil:
		return 0, nil
	case unix.EXDEV, unix.EMLINK, unix.EPERM, unix.ENOTSUP:
		return o.CopyFile(ctx, job, src, dst, progress)
	}
	return 0, fmt.Errorf("link to %s: %w", fsutil.DisplayPath(job.Link), err)
}

// sameFileAt says whether tname in tdir and dname in ddir are one file:
// a link made by an earlier run.
func sameFileAt(tdir int, tname string, ddir int, dname string) bool {
	var a, b unix.Stat_t
	return unix.Fstatat(tdir, tname, &a, unix.AT_SYMLINK_NOFOLLOW) == nil && unix.Fstatat(ddir, dname, &b, unix.AT_SYMLINK_NOFOLLOW) == nil &&
		a.Dev == b.Dev && a.Ino == b.Ino
}

// linked says whether dst is already a link to target, as link would find
// when its linkat met a name there (a dry run asks instead).
func (o *osCopier) Linked(target, dst string) bool {
	ddir, err := o.dstDirFd(dst)
	if err != nil {
		return false
	}
	tdir, tname, done, err := beneath.Dir(target)
	if err != nil {
		return false
	}
	defer done()
	_, dname := fsutil.Split(dst)
	return sameFileAt(tdir, tname, ddir, dname)
}

// reusable returns the path of job's file in the earlier copy
// Settings.LinkDest (Options.LinkDest) if that file is what job describes: a regular file of
// the same size, modification time and permission bits and, keeping
// owners, the same owner and group (extended attributes are not compared).
// linkDest is a held root (see holdRoots): the file is reached without
// following any symlink below it, so that a symlink in an old snapshot
// cannot lead the copy to link a live file outside it.
func (o *osCopier) Reusable(job *wire.Job) (string, bool) {
	owner := o.set.Owner
	p := fsutil.Join(o.set.LinkDest, job.Rel)
	var st unix.Stat_t
	if beneath.Lstat(p, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG ||
		st.Size != job.Size || st.Mtim.Nano() != job.Mtime || st.Mode&0o7777 != fsutil.UnixPerm(fs.FileMode(job.Mode)) ||
		owner && job.Uid != meta.NoOwner && (st.Uid != job.Uid || st.Gid != job.Gid) {
		return "", false
	}
	return p, true
}

// makeSpecial makes a FIFO, socket or device node at dst like src, with
// its owner, extended attributes, mode and times, under a temporary name
// first. A device node needs privileges (CAP_MKNOD): without them it is
// omitted with a warning, as cp -a and rsync -a do as a user.
func (o *osCopier) MakeSpecial(job *wire.Job, src, dst string) error {
	mode := fs.FileMode(job.Mode)
	var typ uint32
	switch {
	case mode&fs.ModeNamedPipe != 0:
		typ = unix.S_IFIFO
	case mode&fs.ModeSocket != 0:
		typ = unix.S_IFSOCK
	case mode&fs.ModeCharDevice != 0:
		typ = unix.S_IFCHR
	case mode&fs.ModeDevice != 0:
		typ = unix.S_IFBLK
	default:
		return fmt.Errorf("%w: not a special file: %v", wire.ErrProtocol, mode)
	}
	if (typ == unix.S_IFCHR || typ == unix.S_IFBLK) && !mayMakeDevices() {
		return worker.Omittedf("%s (making device nodes needs root)", fsutil.TypeName(mode))
	}
	if o.set.DryRun {
		return nil
	}
	sdir, ddir, err := o.dirs(src, dst)
	if err != nil {
		return err
	}
	_, sname := fsutil.Split(src)
	_, dname := fsutil.Split(dst)
	perm := fsutil.UnixPerm(mode)
	tmp, err := tempname.MakePending(atDir(ddir), "", o.tempPrefix, func(name string) error {
		return unix.Mknodat(ddir, name, typ|perm, int(job.Rdev))
	})
	if err == unix.EPERM && (typ == unix.S_IFCHR || typ == unix.S_IFBLK) {
		// Allowed, yet refused (a container's device policy): a dry run,
		// which asks instead of trying, would have said "copied".
		return worker.Omittedf("%s (making device nodes needs root)", fsutil.TypeName(mode))
	}
	if err != nil {
		return fmt.Errorf("create in destination: mknod: %w", err)
	}
	defer tmp.Cleanup()
	if o.dstGidUnsure {
		var st unix.Stat_t
		if unix.Fstatat(ddir, tmp.Name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			o.learnGroups(st.Gid)
		}
	}
	if o.set.Owner {
		if uid, gid, ok := meta.OwnerChange(job.Uid, job.Gid, o.euid, o.dstNewGid); ok {
			if err := unix.Fchownat(ddir, tmp.Name, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				o.warn = meta.FirstWarn(o.warn, meta.OwnerWarning(err))
			}
		}
	}
	var inherited []string
	if o.dstACL {
		inherited = []string{meta.AccessACL}
	}
	o.warn = meta.FirstWarn(o.warn, meta.CopyXattrs(meta.AtXattrs(sdir, sname, o.srcFlags&unix.O_NOFOLLOW == 0), meta.AtXattrs(ddir, tmp.Name, false), &o.xbuf, inherited...))
	// mknod applies the umask; chmod, which does not open the node.
	if err := unix.Fchmodat(ddir, tmp.Name, perm, 0); err != nil {
		return fmt.Errorf("set mode: chmod: %w", err)
	}
	if err := rawUtimensat(ddir, tmp.Name, job.Atime, job.Mtime, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: utimensat: %w", err)
	}
	if err := tmp.Commit(dname); err != nil {
		return worker.RenameError(osFs, dst, &os.LinkError{Op: "rename", Old: tmp.Name, New: dst, Err: err})
	}
	return nil
}

// mayMakeDevices says whether this process may make device nodes
// (CAP_MKNOD in its effective set): asked before trying, so that the real
// run and the dry run, which cannot try, decide alike.
func mayMakeDevices() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return os.Geteuid() == 0
	}
	return data[unix.CAP_MKNOD/32].Effective&(1<<(unix.CAP_MKNOD%32)) != 0
}

// symlinkMeta gives the new symlink tmp, a copy of the symlink src, the
// owner job lists and src's extended attributes, as far as allowed (what
// it cannot keep is a warning), then job's times.
func (o *osCopier) SymlinkMeta(job *wire.Job, src, tmp string) error {
	o.warn = meta.FirstWarn(o.warn, keepLinkMeta(job, src, tmp, o.set.Owner, &o.xbuf))
	return lchtimes(tmp, time.Unix(0, job.Atime), time.Unix(0, job.Mtime))
}

// SyncXattrs gives dst, a file a re-run leaves, src's extended attributes
// where they differ (rsync -X).
// Both are reached through their directories' descriptors, which the
// worker keeps open from one job to the next in a directory: no path walk,
// no open per file.
func (o *osCopier) SyncXattrs(src, dst string, follow bool) {
	sdir, err := o.srcDirFd(src)
	if err != nil {
		return
	}
	ddir, err := o.dstDirFd(dst)
	if err != nil {
		return
	}
	_, sname := fsutil.Split(src)
	_, dname := fsutil.Split(dst)
	_, warn := meta.SyncXattrs(meta.AtXattrs(sdir, sname, follow), meta.AtXattrs(ddir, dname, false), &o.xbuf)
	o.warn = meta.FirstWarn(o.warn, warn)
}

// LstatDst is lstat of dst through the descriptor of its directory that
// the copier keeps from one job to the next there: a re-run that finds a
// file unchanged walks no path and opens nothing for it.
func (o *osCopier) LstatDst(dst string) (os.FileInfo, error) {
	ddir, err := o.dstDirFd(dst)
	if err != nil {
		return nil, err
	}
	_, name := fsutil.Split(dst)
	fi := &fsutil.StatInfo{Base: name}
	if err := unix.Fstatat(ddir, name, (*unix.Stat_t)(unsafe.Pointer(&fi.St)), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: dst, Err: err}
	}
	return fi, nil
}

// ChmodDst gives dst the mode perm through a descriptor of the file itself
// (O_PATH, never following a symlink, through the directory descriptor
// LstatDst used), once that is seen to be the file info describes: a file
// put at the name meanwhile is never changed.
func (o *osCopier) ChmodDst(dst string, info os.FileInfo, perm fs.FileMode) error {
	ddir, err := o.dstDirFd(dst)
	if err != nil {
		return err
	}
	_, name := fsutil.Split(dst)
	beneath.Hook(beneath.OpChmod, dst)
	fd, err := unix.Openat(ddir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dst, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "fstat", Path: dst, Err: err}
	}
	was, ok := info.Sys().(*syscall.Stat_t)
	if !ok || st.Dev != was.Dev || st.Ino != was.Ino || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return worker.ErrNotSame
	}
	if err := unix.Fchmodat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), fsutil.UnixPerm(perm), 0); err != nil {
		return &os.PathError{Op: "chmod", Path: dst, Err: err}
	}
	return nil
}

// lchtimes sets the times of a symlink itself, not of its target.
func lchtimes(name string, atime, mtime time.Time) error {
	if err := beneath.Lutimes(name, atime.UnixNano(), mtime.UnixNano()); err != nil {
		return &os.PathError{Op: "lutimes", Path: name, Err: err}
	}
	return nil
}

// keepLinkMeta gives the new symlink tmp, a copy of the symlink src, the
// owner job lists (with owner) and src's extended attributes, as far as
// allowed; what it cannot keep is returned as a warning.
func keepLinkMeta(job *wire.Job, src, tmp string, owner bool, b *meta.XattrBuf) (warn string) {
	if owner {
		var st unix.Stat_t
		if err := beneath.Lstat(tmp, &st); err != nil {
			return fmt.Sprintf("symlink owner not kept (lstat: %v)", err)
		}
		if uid, gid, ok := meta.OwnerChange(job.Uid, job.Gid, st.Uid, st.Gid); ok {
			if err := beneath.Lchown(tmp, uid, gid); err != nil {
				warn = meta.OwnerWarning(err)
			}
		}
	}
	return meta.FirstWarn(warn, meta.CopyXattrs(meta.PathXattrs(src, false), meta.PathXattrs(tmp, false), b))
}
