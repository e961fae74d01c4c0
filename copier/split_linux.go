package copier

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/fastcopy"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// Parts of a split file are at least minPart bytes, a multiple of 1 MiB
// (so that filesystems that share extents can clone each part).
var minPart int64 = 64 << 20

// trySplit queues a regular file of at least Options.SplitSize bytes as
// parts for several workers, and reports whether it did. Sparse files are not split (a part would fill the
// holes of its range), nor is anything when there is a single worker.
func (c *coordinator) trySplit(dir *dirState, rel string, info os.FileInfo, group *linkGroup) bool {
	return c.splitFile(dir, rel, info, group) != nil
}

// splitFile is trySplit; it returns the file queued in parts, or nil.
func (c *coordinator) splitFile(dir *dirState, rel string, info os.FileInfo, group *linkGroup) *split {
	size := info.Size()
	if !c.isOS || c.workerCount < 2 || c.splitSize <= 0 || size < c.splitSize || c.set.Verify || c.set.LinkDest != "" {
		return nil // --verify and --link-dest handle files whole
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || st.Blocks*512 < size {
		return nil
	}
	dst := fsutil.Join(c.plan.dstRoot, rel)
	if c.set.Update != wire.UpdateAll && (dir == nil || !dir.created) {
		// A copy DST may already have: the worker's check for a whole
		// file decides (a re-run leaves it alone).
		if dinfo, err := fsutil.Lstat(c.fs, dst); err == nil && dinfo.Mode().IsRegular() && dinfo.Size() == size {
			return nil
		}
	}
	ddir, _, done, err := beneath.Parent(dst)
	var tmp string
	if err == nil {
		var fd int
		fd, tmp, err = fastcopy.CreateTempAt(ddir, "", tempname.ForWorker(os.Getpid(), 0), 0o600, unix.O_WRONLY)
		if err == nil {
			meta.MarkTemp(fd)
			err = unix.Ftruncate(fd, size)
			if cerr := unix.Close(fd); err == nil {
				err = cerr
			}
			if err != nil {
				unix.Unlinkat(ddir, tmp, 0)
			}
		}
	}
	done()
	if err != nil {
		// Not split, then: a worker copies it whole, and reports it
		// if that fails too, as for any file (hard links included).
		return nil
	}
	tmp = filepath.Join(filepath.Dir(dst), filepath.Base(tmp))

	part := max(minPart, (size/int64(2*c.workerCount)+(1<<20)-1)&^(1<<20-1))
	s := &split{rel: rel, dir: dir, src: fsutil.Join(c.plan.srcRoot, rel), dst: dst, tmp: tmp, size: size, dev: st.Dev, ino: st.Ino, ctime: st.Ctim.Nano(),
		mode: uint32(info.Mode()), mtime: info.ModTime().UnixNano(), atime: meta.AtimeOf(info).UnixNano(), group: group,
		follow: c.set.Deref}
	s.uid, s.gid = meta.OwnerOf(info)
	for off := int64(0); off < size; off += part {
		c.nextID++
		s.remaining++
		c.parts = append(c.parts, &task{dir: dir, split: s, job: wire.Job{
			ID: c.nextID, Kind: wire.KindPart, Rel: rel, Size: min(part, size-off), Offset: off,
			Temp: filepath.Base(tmp), Mode: s.mode, Mtime: s.mtime, Atime: s.atime,
			Dev: s.dev, Ino: s.ino, Ctime: s.ctime, // each part checks it read the file listed
		}})
	}
	c.splits[s] = true
	if dir != nil {
		dir.pending++
	}
	return s
}

// sourceNow compares the source of s as it is now with what the walk
// listed: nil when it is the file listed, unchanged; a *worker.ChangedError
// error, with the message a whole file's copy gives, when it changed or
// went away; otherwise why it could not be looked at.
func sourceNow(s *split) error {
	var st unix.Stat_t
	stat := beneath.Lstat
	if s.follow {
		stat = beneath.Stat // --dereference: what the walk listed
	}
	switch err := stat(s.src, &st); {
	case err == beneath.ErrSymlink:
		return worker.Changedf("%v", err)
	case errors.Is(err, unix.ENOENT):
		return worker.Changedf("vanished after it was listed; not copied")
	case err != nil:
		return fmt.Errorf("stat source: %w", err)
	}
	listed := wire.Job{Dev: s.dev, Ino: s.ino, Ctime: s.ctime, Mtime: s.mtime}
	return fastcopy.CheckListed(&st, &listed, s.size)
}

// finishSplit completes a split file once all its parts are in: the source
// must not have changed meanwhile (if it did, the error is a
// *worker.ChangedError); then mode, times, and the rename into place.
func finishSplit(s *split, owner bool, b *meta.XattrBuf) (warn string, err error) {
	if err := sourceNow(s); err != nil {
		return "", err
	}
	fd, err := beneath.Open(s.tmp, unix.O_WRONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return "", fmt.Errorf("open temporary file: %w", err)
	}
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	if owner {
		var cur unix.Stat_t
		if err := unix.Fstat(fd, &cur); err != nil {
			return "", fmt.Errorf("stat temporary file: %w", err)
		}
		if uid, gid, ok := meta.OwnerChange(s.uid, s.gid, cur.Uid, cur.Gid); ok {
			if err := unix.Fchown(fd, uid, gid); err != nil {
				warn = meta.OwnerWarning(err)
			}
		}
	}
	var inherited []string
	if meta.HasDefaultACL(filepath.Dir(s.dst)) {
		inherited = []string{meta.AccessACL}
	}
	warn = meta.FirstWarn(warn, meta.CopyXattrs(meta.PathXattrs(s.src, s.follow), meta.FdXattrs(fd), b, inherited...))
	perm := fsutil.UnixPerm(fs.FileMode(s.mode))
	meta.UnmarkTemp(fd)
	if err := unix.Fchmod(fd, perm); err != nil {
		return warn, fmt.Errorf("set mode: fchmod: %w", err)
	}
	if err := fastcopy.Futimens(fd, s.atime, s.mtime); err != nil {
		return warn, fmt.Errorf("set times: futimens: %w", err)
	}
	err = unix.Close(fd)
	fd = -1
	if err != nil {
		return warn, fmt.Errorf("write destination: close: %w", err)
	}
	if err := beneath.Rename(s.tmp, s.dst); err != nil {
		return warn, worker.RenameError(afero.NewOsFs(), s.dst, &os.LinkError{Op: "rename", Old: s.tmp, New: s.dst, Err: err})
	}
	return warn, nil
}
