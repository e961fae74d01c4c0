package copier

import (
	"fmt"
	"path/filepath"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/walk"
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
func settingsOf(opts Options, linkDest, backupDir string) wire.Settings {
	update := map[UpdatePolicy]wire.Update{
		UpdateChanged:  wire.UpdateChanged,
		UpdateChecksum: wire.UpdateChecksum,
		UpdateAll:      wire.UpdateAll,
	}[opts.Update]
	keep := wire.KeepNone
	switch {
	case opts.IgnoreExisting:
		keep = wire.KeepExisting
	case opts.KeepNewer:
		keep = wire.KeepNewer
	}
	return wire.Settings{Update: update, Fsync: opts.Fsync, Owner: !opts.NoOwner, Deref: opts.Dereference,
		Verify: opts.Verify, LinkDest: linkDest, DryRun: opts.DryRun, ModifyWindow: max(int64(opts.ModifyWindow), 0), Keep: keep,
		BwLimit: max(opts.BwLimit, 0), BackupDir: backupDir}
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
	// Read as it goes: a directory of millions of entries is not held
	// whole for the few names of pcopy's form it may have.
	var stale []string
	walk.EachName(c.fs, dir, c.isOS, func(name string) {
		if pid, ok := tempname.Pid(name); ok && !processAlive(pid) {
			stale = append(stale, name)
		}
	})
	for _, name := range stale {
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
