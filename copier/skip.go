package copier

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
)

// UpdatePolicy says when a regular file that DST already holds is left as
// it is, so that running the same copy again only copies what changed.
type UpdatePolicy uint8

const (
	// UpdateChanged skips a file whose copy has the same size and
	// modification time (to the nanosecond), as rsync does. A copy
	// interrupted part way is never taken for a complete one: a file gets
	// its name only once complete, and its time only then.
	UpdateChanged UpdatePolicy = iota
	// UpdateChecksum skips a file whose copy has the same size and the
	// same content, whatever its time, and then gives it the source's time.
	UpdateChecksum
	// UpdateAll copies every file.
	UpdateAll
)

// settingsOf are how each file of the copy opts asks for is copied: the
// one value the coordinator sends every worker. linkDest is
// opts.LinkDest made absolute and clean.
func settingsOf(opts Options, linkDest string) wire.Settings {
	update := map[UpdatePolicy]wire.Update{
		UpdateChanged:  wire.UpdateChanged,
		UpdateChecksum: wire.UpdateChecksum,
		UpdateAll:      wire.UpdateAll,
	}[opts.Update]
	return wire.Settings{Update: update, Fsync: opts.Fsync, Owner: !opts.NoOwner, Deref: opts.Dereference,
		Verify: opts.Verify, LinkDest: linkDest, DryRun: opts.DryRun}
}

// sourceChanged is a copy that failed because its source changed, or went
// away, after the walk listed it. The coordinator looks at the source
// again and retries it once; a file that changes again is reported.
type sourceChanged struct{ msg string }

func (e *sourceChanged) Error() string { return e.msg }

func changedf(format string, a ...any) error { return &sourceChanged{fmt.Sprintf(format, a...)} }

// errUpToDate ends a job whose destination already holds the file.
var errUpToDate = errors.New("up to date")

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
	info, err := fsutil.Lstat(fsys, dst)
	if err != nil || !info.Mode().IsRegular() || info.Size() != job.Size {
		return false, nil // missing or different: the copy sees to it, and reports real trouble
	}
	if w.set.Owner {
		curUid, curGid := meta.OwnerOf(info)
		if _, _, change := meta.OwnerChange(job.Uid, job.Gid, curUid, curGid); change {
			return false, nil
		}
	}
	sameTime := info.ModTime().UnixNano() == job.Mtime
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
		if !sameTime {
			if err := fsys.Chtimes(dst, time.Unix(0, job.Atime), time.Unix(0, job.Mtime)); err != nil {
				return false, fmt.Errorf("set times: %w", fsutil.UnwrapPath(err))
			}
		}
	default:
		return false, nil
	}
	if want := fs.FileMode(job.Mode) & meta.ModeBits; info.Mode()&meta.ModeBits != want {
		if err := fsys.Chmod(dst, want); err != nil {
			return false, fmt.Errorf("set mode: %w", fsutil.UnwrapPath(err))
		}
	}
	return true, nil
}

var comparePool = sync.Pool{New: func() any { return &[2][]byte{make([]byte, 256<<10), make([]byte, 256<<10)} }}

// sameContent compares the first size bytes of two files.
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
	bufs := comparePool.Get().(*[2][]byte)
	defer comparePool.Put(bufs)
	ba, bb := bufs[0], bufs[1]
	for done := int64(0); done < size; {
		n := min(int64(len(ba)), size-done)
		if _, err := io.ReadFull(fa, ba[:n]); err != nil {
			return false, fmt.Errorf("read source: %w", fsutil.UnwrapPath(err))
		}
		if _, err := io.ReadFull(fb, bb[:n]); err != nil {
			return false, nil
		}
		if !bytes.Equal(ba[:n], bb[:n]) {
			return false, nil
		}
		done += n
	}
	return true, nil
}

// removeStaleTemps removes from dir, a destination directory that existed
// before this copy, the temporary files of pcopy runs that are no longer
// running: a run killed with SIGKILL (with its workers) could not remove
// them itself. Their names carry the pid of the process that made them;
// a file whose process still runs, as a concurrent copy's would, is left.
// Only a regular file that carries pcopy's mark (see markTemp) is removed:
// a user's file whose name merely looks like one stays, and so does a
// symlink or special file left at such a name (they cannot carry the
// mark; README says so).
func (c *coordinator) removeStaleTemps(dir string) {
	if c.set.DryRun {
		return
	}
	names, _ := readNames(c.fs, dir)
	for _, name := range names {
		pid, ok := tempname.Pid(name)
		if !ok || processAlive(pid) {
			continue
		}
		if c.isOS && !meta.MarkedTemp(filepath.Join(dir, name)) {
			continue
		}
		if err := c.fs.Remove(filepath.Join(dir, name)); err != nil {
			c.warn(fmt.Sprintf("cannot remove %s, left by an interrupted copy: %v", DisplayPath(filepath.Join(dir, name)), fsutil.UnwrapPath(err)))
			continue
		}
		c.staleRemoved++
	}
}
