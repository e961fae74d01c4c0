package worker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/wire"
)

// ChangedError is a copy that failed because its source changed, or went
// away, after the walk listed it. The coordinator looks at the source
// again and retries it once; a file that changes again is reported.
type ChangedError struct{ msg string }

func (e *ChangedError) Error() string { return e.msg }

// Changedf returns a *ChangedError with the message format makes.
func Changedf(format string, a ...any) error { return &ChangedError{fmt.Sprintf(format, a...)} }

// ErrNotSame is what ChmodDst fails with when the file at the name is not
// the one looked at.
var ErrNotSame = errors.New("another file is at its name now")

// ErrUpToDate ends a job whose destination already holds the file.
var ErrUpToDate = errors.New("up to date")

// upToDate says whether dst already holds what job would copy there, under
// policy. A file found up to date gets the source's mode (and, when its
// content decided, its times) if it has others, so that the destination
// ends up as a copy would have left it. A file of another owner than its
// source's (when owners are kept) is not up to date: it is copied anew,
// never chowned in place. The file at the name may be anyone's: another
// user can put one of the right size and mtime in a directory of DST they
// can write, and a chown then chmod by root would hand it SRC's owner and
// set-user-ID bit. A copy replaces it whole, by rename.
func (w *worker) upToDate(job *wire.Job, src, dst string) (bool, error) {
	fsys := w.fs
	// Looked at, and its mode set, through the directory descriptor the
	// worker holds (and the file's own); --checksum's reading and setting
	// of times go by path, so it looks by path too.
	byDir := w.set.Update == wire.UpdateChanged
	lstat := w.files.LstatDst
	if !byDir {
		lstat = func(dst string) (os.FileInfo, error) { return fsutil.Lstat(fsys, dst) }
	}
	info, err := lstat(dst)
	if err != nil || !info.Mode().IsRegular() || info.Size() != job.Size {
		return false, nil // missing or different: the copy sees to it, and reports real trouble
	}
	if w.set.Owner {
		curUid, curGid := meta.OwnerOf(info)
		if _, _, change := meta.OwnerChange(job.Uid, job.Gid, curUid, curGid); change {
			return false, nil
		}
	}
	sameTime := sameTime(info.ModTime().UnixNano(), job.Mtime, w.set.ModifyWindow)
	switch w.set.Update {
	case wire.UpdateChanged:
		if !sameTime {
			return false, nil
		}
	case wire.UpdateChecksum:
		same, err := sameContent(fsys, src, dst, job.Size, w.set.Deref)
		if err != nil || !same {
			return false, err
		}
		if !sameTime && !w.set.DryRun {
			if err := fsys.Chtimes(dst, time.Unix(0, job.Atime), time.Unix(0, job.Mtime)); err != nil {
				return false, fmt.Errorf("set times: %w", fsutil.UnwrapPath(err))
			}
		}
	default:
		return false, nil
	}
	if w.set.DryRun {
		return true, nil // what it would fix in place is no write of a dry run's
	}
	w.files.SyncXattrs(src, dst, w.set.Deref)
	if want := fs.FileMode(job.Mode) & meta.ModeBits; info.Mode()&meta.ModeBits != want {
		chmod := func() error { return fsys.Chmod(dst, want) }
		if byDir {
			chmod = func() error { return w.files.ChmodDst(dst, info, want) }
		}
		if err := chmod(); errors.Is(err, ErrNotSame) {
			return false, nil // another file there now: copied anew, over it
		} else if err != nil {
			return false, fmt.Errorf("set mode: %w", fsutil.UnwrapPath(err))
		}
	}
	return true, nil
}

// symlinkUpToDate says whether dst is already the symlink job would make:
// the same target, modification time and (when owners are kept) owner.
// A re-run then leaves it, rather than making it again.
func (w *worker) symlinkUpToDate(job *wire.Job, src, dst string) bool {
	reader, ok := w.fs.(afero.LinkReader)
	if !ok {
		return false
	}
	info, err := fsutil.Lstat(w.fs, dst)
	if err != nil || info.Mode()&fs.ModeSymlink == 0 || !sameTime(info.ModTime().UnixNano(), job.Mtime, w.set.ModifyWindow) {
		return false
	}
	if w.set.Owner {
		curUid, curGid := meta.OwnerOf(info)
		if _, _, change := meta.OwnerChange(job.Uid, job.Gid, curUid, curGid); change {
			return false
		}
	}
	want, err := reader.ReadlinkIfPossible(src)
	if err != nil {
		return false
	}
	have, err := reader.ReadlinkIfPossible(dst)
	return err == nil && have == want
}

// sameTime says whether two modification times are the same, to within
// window ns.
func sameTime(a, b, window int64) bool {
	d := a - b
	return d == 0 || window > 0 && d <= window && d >= -window
}

// kept says whether what DST has at dst stays as it is, whatever job
// would write there: with KeepExisting, anything; with KeepNewer, an
// entry (not a directory, which a job never replaces anyway) whose mtime
// is later than the source's, beyond the modify window.
func (w *worker) kept(job *wire.Job, dst string) bool {
	info, err := fsutil.Lstat(w.fs, dst)
	if err != nil {
		return false
	}
	switch w.set.Keep {
	case wire.KeepExisting:
		return true
	case wire.KeepNewer:
		return !info.IsDir() && info.ModTime().UnixNano()-job.Mtime > w.set.ModifyWindow
	}
	return false
}

// sameContent compares the first size bytes of two files, where either
// has data (see sameData).
func sameContent(fsys afero.Fs, a, b string, size int64, follow bool) (bool, error) {
	fa, err := openSource(fsys, a, follow)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := openOS(fsys, b, false)
	if err != nil {
		return false, nil // unreadable: copy over it
	}
	defer fb.Close()
	same, err := sameData(fa, fb, size)
	var re *readError
	switch {
	case errors.As(err, &re) && re.side == "copy":
		return false, nil // DST's file is shorter, or unreadable: copy over it
	case err != nil:
		return false, fsutil.UnwrapPath(err)
	}
	return same, nil
}
