package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pcopy/pcopy/internal/bwlimit"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
)

// A file is copied in chunks (FirstChunk bytes first, then as AdaptChunk
// says), with a progress report and a cancellation
// check between them. The kernel moves each chunk in one copy_file_range
// when both ends are plain files. Chunks grow while they are quick and
// shrink when slow, so reports come a few times a second on a fast SSD and
// on a slow USB stick alike.
const (
	minChunk    = 256 << 10
	FirstChunk  = 4 << 20
	maxChunk    = 64 << 20
	chunkTarget = 100 * time.Millisecond
)

// checkRel refuses a job path that could reach outside the roots: absolute,
// with "." or ".." or empty components, or with a NUL byte. The coordinator
// never sends one; a worker checks anyway.
func checkRel(rel string) error {
	if rel == "" {
		return nil
	}
	if strings.HasPrefix(rel, "/") || strings.IndexByte(rel, 0) >= 0 || filepath.IsAbs(rel) {
		return fmt.Errorf("%w: unsafe job path %q", wire.ErrProtocol, rel)
	}
	for _, part := range strings.Split(rel, "/") {
		if part == "" || part == "." || part == ".." || strings.ContainsRune(part, filepath.Separator) {
			return fmt.Errorf("%w: unsafe job path %q", wire.ErrProtocol, rel)
		}
	}
	return nil
}

// openSource opens a file the walk saw as regular and checks it still is.
func openSource(fsys afero.Fs, name string, follow bool) (afero.File, error) {
	f, err := openOS(fsys, name, follow)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Changedf("vanished after it was listed; not copied")
	}
	if err != nil {
		return nil, fmt.Errorf("open source: %w", bareError(err))
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat source: %w", fsutil.UnwrapPath(err))
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, Changedf("is now a %s (changed since it was listed); not copied", fsutil.TypeName(info.Mode()))
	}
	return f, nil
}

// bareError drops the path and operation of a *fs.PathError, for a
// message that already says both: "open source: permission denied".
func bareError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// createTemp creates a new, empty, private file in dir under a fresh
// temporary name starting with prefix, pending there.
func createTemp(fsys afero.Fs, dir, prefix string) (f afero.File, tmp tempname.Pending, err error) {
	tmp, err = tempname.MakePending(fsys, dir, prefix, func(name string) (err error) {
		f, err = fsys.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		return err
	})
	return f, tmp, err
}

// aferoCopier makes entries the portable way, through afero alone: where
// the filesystem is not the operating system's, or the platform has no
// fast path. It makes no hard links, parts or special files.
type aferoCopier struct {
	fs   afero.Fs
	opts fileOpts
}

func (a *aferoCopier) CopyFile(ctx context.Context, job *wire.Job, src, dst string, progress func(int64) error) (int64, error) {
	return copyFile(ctx, a.fs, job, src, dst, a.opts, progress)
}

func (a *aferoCopier) CopyPart(ctx context.Context, job *wire.Job, src, dst string, progress func(int64) error) (int64, error) {
	return 0, errors.New("copying a file in parts is not supported here")
}

// reusable finds nothing: there are no links to make here.
func (a *aferoCopier) Reusable(job *wire.Job) (string, bool) { return "", false }

// link copies: with no links here, the name gets a copy of its own.
func (a *aferoCopier) Link(ctx context.Context, job *wire.Job, target, src, dst string, progress func(int64) error) (int64, error) {
	return a.CopyFile(ctx, job, src, dst, progress)
}

func (a *aferoCopier) Linked(target, dst string) bool { return false }

func (a *aferoCopier) MakeSpecial(job *wire.Job, src, dst string) error {
	return &omittedError{fmt.Sprintf("%s (not made on this filesystem)", kindName(job))}
}

// symlinkMeta keeps nothing beyond the target: afero sets no symlink's
// owner or times.
func (a *aferoCopier) SymlinkMeta(job *wire.Job, src, tmp string) error { return nil }

func (a *aferoCopier) SyncXattrs(src, dst string, follow bool) {}

func (a *aferoCopier) TakeWarn() string { return "" }

func (a *aferoCopier) LstatDst(dst string) (os.FileInfo, error) { return fsutil.Lstat(a.fs, dst) }

func (a *aferoCopier) ChmodDst(dst string, info os.FileInfo, perm fs.FileMode) error {
	return a.fs.Chmod(dst, perm)
}

func (a *aferoCopier) Close() {}

// fileOpts are how the portable path copies a file.
type fileOpts struct {
	tempPrefix string
	set        wire.Settings
	limit      *bwlimit.Limiter // --bwlimit; nil: none
}

// copyFile copies one regular file: data into a temporary file next to dst,
// then mode and times, then a rename over dst. On any failure the temporary
// file is removed and dst is untouched. progress is called with the bytes
// done so far after each chunk; an error from it abandons the copy.
func copyFile(ctx context.Context, fsys afero.Fs, job *wire.Job, src, dst string, o fileOpts, progress func(int64) error) (n int64, err error) {
	in, err := openSource(fsys, src, o.set.Deref)
	if err != nil {
		return 0, err
	}
	defer in.Close()

	out, tmp, err := createTemp(fsys, filepath.Dir(dst), o.tempPrefix)
	if err != nil {
		return 0, fmt.Errorf("create in destination: %w", fsutil.UnwrapPath(err))
	}
	defer tmp.Cleanup()
	closed := false
	defer func() {
		if !closed {
			out.Close()
		}
	}()

	n, err = copyData(ctx, out, in, progress, o.limit)
	if err != nil {
		return n, err
	}
	// The listed size and times must describe the data copied.
	if info, err := in.Stat(); err != nil {
		return n, fmt.Errorf("stat source: %w", fsutil.UnwrapPath(err))
	} else if info.Size() != job.Size || n != job.Size || info.ModTime().UnixNano() != job.Mtime ||
		job.Ctime != 0 && meta.CtimeOf(info) != job.Ctime {
		return n, Changedf("changed while it was being copied (size %d, now %d); not copied", job.Size, info.Size())
	}
	if o.set.Verify {
		back, err := fsys.Open(tmp.Name)
		if err != nil {
			return n, fmt.Errorf("verify: open copy: %w", fsutil.UnwrapPath(err))
		}
		err = VerifyCopy(in, back, n)
		back.Close()
		if err != nil {
			return n, err
		}
	}
	mode := fs.FileMode(job.Mode) & meta.ModeBits
	if f, ok := out.(interface{ Chmod(fs.FileMode) error }); ok {
		err = f.Chmod(mode) // fchmod: no second path lookup
	} else {
		err = fsys.Chmod(tmp.Name, mode)
	}
	if err != nil {
		return n, fmt.Errorf("set mode: %w", fsutil.UnwrapPath(err))
	}
	if o.set.Fsync {
		if err := out.Sync(); err != nil {
			return n, fmt.Errorf("write destination: fsync: %w", fsutil.UnwrapPath(err))
		}
	}
	closed = true
	if err := out.Close(); err != nil {
		return n, fmt.Errorf("write destination: %w", fsutil.UnwrapPath(err))
	}
	if err := fsys.Chtimes(tmp.Name, time.Unix(0, job.Atime), time.Unix(0, job.Mtime)); err != nil {
		return n, fmt.Errorf("set times: %w", fsutil.UnwrapPath(err))
	}
	if err := tmp.Commit(dst); err != nil {
		return n, RenameError(fsys, dst, err)
	}
	return n, nil
}

// AdaptChunk returns the size of the next chunk, given that the last one
// of size chunk took took.
func AdaptChunk(chunk int64, took time.Duration) int64 {
	switch {
	case took < chunkTarget/4 && chunk < maxChunk:
		return chunk * 2
	case took > 2*chunkTarget && chunk > minChunk:
		return chunk / 2
	}
	return chunk
}

// copyData copies in to out in chunks. io.CopyN keeps the kernel fast
// path: *os.File.ReadFrom sees through the io.LimitedReader it wraps in.
func copyData(ctx context.Context, out io.Writer, in io.Reader, progress func(int64) error, limit *bwlimit.Limiter) (int64, error) {
	var total int64
	chunk := int64(FirstChunk)
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		if limit != nil {
			chunk = min(chunk, limit.Chunk())
			if err := limit.Wait(ctx, chunk); err != nil {
				return total, err
			}
		}
		start := time.Now()
		n, err := io.CopyN(out, in, chunk)
		total += n
		chunk = AdaptChunk(chunk, time.Since(start))
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("copy data: %w", fsutil.UnwrapPath(err))
		}
		if progress != nil {
			if err := progress(total); err != nil {
				return total, err
			}
		}
	}
}

// copySymlink recreates the symlink src at dst with the same target,
// through a temporary name and a rename like files; meta gives the
// temporary link what it keeps beyond its target (see
// fileCopier.symlinkMeta).
func copySymlink(fsys afero.Fs, job *wire.Job, src, dst, tempPrefix string, meta func(tmp string) error) error {
	reader, ok1 := fsys.(afero.LinkReader)
	linker, ok2 := fsys.(afero.Linker)
	if !ok1 || !ok2 {
		return errors.New("symlinks are not supported by this filesystem")
	}
	target, err := reader.ReadlinkIfPossible(src)
	if err != nil {
		if errors.Is(err, syscall.EINVAL) {
			return Changedf("is no longer a symlink (changed since it was listed); not copied")
		}
		return fmt.Errorf("read link: %w", fsutil.UnwrapPath(err))
	}
	tmp, err := tempname.MakePending(fsys, filepath.Dir(dst), tempPrefix, func(name string) error {
		return linker.SymlinkIfPossible(target, name)
	})
	if err != nil {
		return fmt.Errorf("create link: %w", fsutil.UnwrapPath(err))
	}
	defer tmp.Cleanup()
	if err := meta(tmp.Name); err != nil {
		return fmt.Errorf("set link times: %w", fsutil.UnwrapPath(err))
	}
	if err := tmp.Commit(dst); err != nil {
		return RenameError(fsys, dst, err)
	}
	return nil
}

// RenameError explains a failed rename into place. The usual cause is a
// directory where SRC has a file, which pcopy does not replace; rename(2)
// calls that "file exists" or "is a directory", so say it plainly.
func RenameError(fsys afero.Fs, dst string, err error) error {
	if info, lerr := fsutil.Lstat(fsys, dst); lerr == nil && info.IsDir() {
		return errors.New("destination exists and is a directory; not replaced")
	}
	return fmt.Errorf("rename into place: %w", fsutil.UnwrapPath(err))
}

// omittedError is an entry not made, by design rather than by failure (a
// device node without the privilege to make one): a warning, not an error.
type omittedError struct{ why string }

func (e *omittedError) Error() string { return e.why }

// Omittedf returns the error for an entry not made by design, a warning
// with the message format makes.
func Omittedf(format string, a ...any) error { return &omittedError{fmt.Sprintf(format, a...)} }

// kindName names what a job makes, for messages.
func kindName(job *wire.Job) string {
	switch job.Kind {
	case wire.KindHardlink:
		return "hard link"
	case wire.KindSymlink:
		return "symlink"
	case wire.KindSpecial:
		return fsutil.TypeName(fs.FileMode(job.Mode))
	}
	return "file"
}
