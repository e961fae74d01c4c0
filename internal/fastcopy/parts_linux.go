package fastcopy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// NewParts makes the temporary file of a copy of src in parts to dst: a
// private file of the listed source's size in dst's directory, under a
// fresh name starting with prefix, marked as pcopy's.
func NewParts(listed wire.Job, src, dst string, follow bool, prefix string) (*Parts, error) {
	ddir, _, done, err := beneath.Parent(dst)
	if err != nil {
		return nil, err
	}
	defer done()
	p := &Parts{Src: src, Dst: dst, Listed: listed, Follow: follow}
	fd := -1
	p.tmp, err = tempname.MakePending(heldDir{}, filepath.Dir(dst), prefix, func(name string) (err error) {
		fd, err = rawOpenat(ddir, filepath.Base(name), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create in destination: open: %w", err)
	}
	meta.MarkTemp(fd)
	err = unix.Ftruncate(fd, listed.Size)
	if cerr := rawClose(fd); err == nil {
		err = cerr
	}
	if err != nil {
		p.Remove()
		return nil, fmt.Errorf("create in destination: %w", err)
	}
	return p, nil
}

// SourceNow compares the source as it is now with what the walk listed:
// nil when it is the file listed, unchanged; a *worker.ChangedError, with
// the message a whole file's copy gives, when it changed or went away;
// otherwise why it could not be looked at.
func (p *Parts) SourceNow() error {
	var st unix.Stat_t
	stat := beneath.Lstat
	if p.Follow {
		stat = beneath.Stat // --dereference: what the walk listed
	}
	switch err := stat(p.Src, &st); {
	case err == beneath.ErrSymlink:
		return worker.Changedf("%v", err)
	case errors.Is(err, unix.ENOENT):
		return worker.Changedf("vanished after it was listed; not copied")
	case err != nil:
		return fmt.Errorf("stat source: %w", err)
	}
	return checkListed(&st, &p.Listed, p.Listed.Size)
}

// Finish completes the copy once every part is in: the source must not
// have changed meanwhile (if it did, the error is a *worker.ChangedError);
// then owner (when owner is set), extended attributes, mode and times,
// and the rename into place. warn says what could not be kept.
func (p *Parts) Finish(owner bool, b *meta.XattrBuf) (warn string, err error) {
	if err := p.SourceNow(); err != nil {
		return "", err
	}
	fd, err := beneath.Open(p.tmp.Name, unix.O_WRONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return "", fmt.Errorf("open temporary file: %w", err)
	}
	defer func() {
		if fd >= 0 {
			rawClose(fd)
		}
	}()
	if owner {
		var cur unix.Stat_t
		if err := rawFstat(fd, &cur); err != nil {
			return "", fmt.Errorf("stat temporary file: %w", err)
		}
		if uid, gid, ok := meta.OwnerChange(p.Listed.Uid, p.Listed.Gid, cur.Uid, cur.Gid); ok {
			if err := unix.Fchown(fd, uid, gid); err != nil {
				warn = meta.OwnerWarning(err)
			}
		}
	}
	var inherited []string
	if meta.HasDefaultACL(filepath.Dir(p.Dst)) {
		inherited = []string{meta.AccessACL}
	}
	warn = meta.FirstWarn(warn, meta.CopyXattrs(meta.PathXattrs(p.Src, p.Follow), meta.FdXattrs(fd), b, inherited...))
	meta.UnmarkTemp(fd)
	if err := rawFchmod(fd, fsutil.UnixPerm(fs.FileMode(p.Listed.Mode))); err != nil {
		return warn, fmt.Errorf("set mode: fchmod: %w", err)
	}
	if err := Futimens(fd, p.Listed.Atime, p.Listed.Mtime); err != nil {
		return warn, fmt.Errorf("set times: futimens: %w", err)
	}
	err = rawClose(fd)
	fd = -1
	if err != nil {
		return warn, fmt.Errorf("write destination: close: %w", err)
	}
	if err := p.tmp.Commit(p.Dst); err != nil {
		return warn, worker.RenameError(osFs, p.Dst, &os.LinkError{Op: "rename", Old: p.tmp.Name, New: p.Dst, Err: err})
	}
	return warn, nil
}

// CopyPart copies the range job.Offset, job.Size of src into the existing
// temporary file job.Temp next to dst, which the coordinator made
// (NewParts): by cloning the range where the filesystem shares extents,
// else with copy_file_range.
func (o *osCopier) CopyPart(ctx context.Context, job *wire.Job, src, dst string, progress func(int64) error) (int64, error) {
	if !tempname.Is(job.Temp) {
		return 0, fmt.Errorf("%w: bad temporary name %q", wire.ErrProtocol, job.Temp)
	}
	sdir, ddir, err := o.dirs(src, dst)
	if err != nil {
		return 0, err
	}
	_, sname := fsutil.Split(src)
	srcfd, err := unix.Openat(sdir, sname, o.srcFlags, 0)
	if err != nil {
		return 0, fmt.Errorf("open source: %w", err)
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
	if o.limit == nil && unix.IoctlFileCloneRange(dstfd, &r) == nil {
		if progress != nil {
			if err := progress(job.Size); err != nil {
				return job.Size, err
			}
		}
		return job.Size, nil
	}
	n, err := copyRange(ctx, dstfd, srcfd, job.Offset, job.Size, progress, 0, o.limit)
	if err == nil && n != job.Size {
		err = errors.New("shorter than when it was listed (changed while it was being copied)")
	}
	if err == nil {
		// The part was read from the file listed, unchanged: another
		// file at its name, or a write to it, would mix into the copy
		// however the whole file looks when it is finished.
		var st unix.Stat_t
		if err = rawFstat(srcfd, &st); err == nil {
			err = checkListed(&st, job, st.Size)
		}
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

// heldDir is the tree below the held roots (package beneath), as a
// tempname.Dir whose names are full paths.
type heldDir struct{}

func (heldDir) Rename(oldname, newname string) error { return beneath.Rename(oldname, newname) }
func (heldDir) Remove(name string) error             { return beneath.Remove(name) }
