package copier

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/filter"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/osfs"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/walk"
)

// Mirroring (Options.Delete) and looking without touching (Options.DryRun).

// delDir is a directory --delete looks at: its path below the roots, and
// in SRC and DST. In a chain of directories, each one's share their bytes
// with its parent's (see delChild): the pass holds those of every
// directory it is in.
type delDir struct{ rel, src, dst string }

// deleteExtra removes from DST what SRC does not have, after a copy that
// went without an error, so that DST is SRC's mirror. It goes down only
// where both sides have a real directory (a symlink in DST is an entry to
// remove or keep, never a way in), so nothing outside DST is touched.
// What the filters leave out of SRC is kept in DST, as are temporary
// files (another copy's, running now). With dry, it only reports. A
// directory of more than 65,536 entries is read a batch at a time (see
// walk.Names), never held whole.
func (c *coordinator) deleteExtra(ctx context.Context, d delDir, dry bool) {
	dstNames, more, err := walk.Names(c.fs, d.dst, c.isOS, false)
	if err != nil {
		if !(dry && errors.Is(err, fs.ErrNotExist)) { // a dry run's DST may not exist yet
			c.fail(d.rel, fmt.Errorf("list destination directory for --delete: %w", fsutil.UnwrapPath(err)))
		}
		return
	}
	inSrc, err := c.srcNames(d.src)
	if err != nil {
		more.Close()
		c.fail(d.rel, fmt.Errorf("list directory for --delete: %w", fsutil.UnwrapPath(err)))
		return
	}
	deleted := false
	each := func(name string) bool {
		if ctx.Err() != nil {
			return false
		}
		if c.deleteExtraName(ctx, d, name, inSrc(name), dry) {
			deleted = true
		}
		return true
	}
	if err := walk.Each(dstNames, more, each); err != nil {
		c.fail(d.rel, fmt.Errorf("list destination directory for --delete: %w", fsutil.UnwrapPath(err)))
	}
	if deleted {
		c.restoreDirTimes(d.rel, d.src, d.dst)
	}
}

// srcNames says which names the SRC directory dir has: from its listing,
// or for a directory too large to hold whole, by looking for each (an
// lstat), where that finds only names the directory lists (not where case
// is folded). A name it cannot tell about counts as there: kept.
func (c *coordinator) srcNames(dir string) (func(string) bool, error) {
	names, more, err := walk.Names(c.fs, dir, c.isOS, c.set.Deref)
	if err != nil {
		return nil, err
	}
	if more != nil && !walk.FoldsCase(dir, c.set.Deref) {
		more.Close()
		return func(name string) bool {
			_, err := fsutil.Lstat(c.fs, fsutil.Join(dir, name))
			return !errors.Is(err, fs.ErrNotExist)
		}, nil
	}
	set := make(map[string]bool, len(names))
	if err := walk.Each(names, more, func(n string) bool { set[n] = true; return true }); err != nil {
		return nil, err
	}
	return func(name string) bool { return set[name] }, nil
}

// delChild is the directory name in d.
func (c *coordinator) delChild(d delDir, name string) delDir {
	if d.rel == "" || filepath.Separator != '/' {
		r := d.rel + "/" + name
		if d.rel == "" {
			r = name
		}
		return delDir{rel: r, src: fsutil.Join(c.plan.srcRoot, r), dst: fsutil.Join(c.plan.dstRoot, r)}
	}
	return delDir{rel: c.delPaths[0].Join(d.rel, name), src: c.delPaths[1].Join(d.src, name), dst: c.delPaths[2].Join(d.dst, name)}
}

// deleteExtraName removes the entry name of DST's directory d if SRC has
// none (inSrc false) and nothing keeps it, or goes into it if it is a
// directory that both sides have. It reports whether it removed anything
// (with dry, whether it would have).
func (c *coordinator) deleteExtraName(ctx context.Context, d delDir, name string, inSrc, dry bool) (deleted bool) {
	r := name
	if d.rel != "" {
		r = d.rel + "/" + name
	}
	dst := fsutil.Join(c.plan.dstRoot, r)
	dinfo, err := fsutil.Lstat(c.fs, dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false // gone meanwhile
	case err != nil:
		c.fail(r, fmt.Errorf("look at for --delete: %w", fsutil.UnwrapPath(err)))
		return false
	case c.protected(dinfo):
		c.fail(r, fmt.Errorf("--delete: %w", beneath.ErrProtected))
		return false
	case c.backupHolds(dst):
		return false // --backup-dir inside DST: kept
	}
	if inSrc {
		sinfo, err := c.srcInfo(fsutil.Join(c.plan.srcRoot, r))
		if err == nil && sinfo.IsDir() && dinfo.IsDir() && !c.filter.Excluded(r, true) {
			c.deleteExtra(ctx, c.delChild(d, name), dry)
		}
		return false
	}
	if c.kept(r, dinfo) {
		return false
	}
	if dinfo.IsDir() && c.filter != nil && c.holdsKept(ctx, r) {
		// Not all of it may go: what the filters leave out stays,
		// with the directories that hold it.
		c.deleteExtraBelow(ctx, r, dry)
		return !dry
	}
	if !c.mayDelete() {
		return false
	}
	if !dry {
		if err := c.remove(r, dst); err != nil {
			c.fail(r, fmt.Errorf("delete: %w", fsutil.UnwrapPath(err)))
			return false
		}
	}
	c.sum.Deleted++
	c.act(Deleted, r, nil)
	return !dry
}

// restoreDirTimes gives DST's directory rel its source's times again,
// which deleting from it changed; with --fsync it flushes it, so that the
// names are gone for good.
func (c *coordinator) restoreDirTimes(rel, srcDir, dstDir string) {
	info, err := c.srcInfo(srcDir)
	if err != nil {
		return
	}
	if err := c.fs.Chtimes(dstDir, meta.AtimeOf(info), info.ModTime()); err != nil {
		c.fail(rel, fmt.Errorf("set directory times: %w", fsutil.UnwrapPath(err)))
	}
	if c.set.Fsync {
		if err := syncDir(c.fs, dstDir); err != nil {
			c.fail(rel, fmt.Errorf("flush directory: %w", fsutil.UnwrapPath(err)))
		}
	}
}

// mayDelete says whether --delete may remove one more entry, as
// Options.MaxDelete allows, and counts those it may not.
func (c *coordinator) mayDelete() bool {
	if c.maxDelete > 0 && int(c.sum.Deleted) >= c.maxDelete {
		c.deleteHeld++
		return false
	}
	return true
}

// deleteDone reports the entries --delete left because of MaxDelete.
func (c *coordinator) deleteDone() {
	if c.deleteHeld > 0 {
		c.fail("", fmt.Errorf("--delete stopped at --max-delete %d: %d more entries of DST not deleted", c.maxDelete, c.deleteHeld))
	}
}

// checkRelated refuses Delete into a DST that holds entries but none of
// SRC's top-level names, unless Options.DeleteUnrelated says so: SRC was
// most likely meant to go into DST as a directory of its own (rsync -a
// --delete photos /mnt/backup makes /mnt/backup/photos), and mirroring
// would delete everything else in DST. A mirror run again is never
// refused: it shares its names with SRC.
func checkRelated(fsys afero.Fs, p *plan, f *filter.Filter) error {
	names, more, err := walk.Names(fsys, p.dstRoot, osfs.Is(fsys), false)
	if err != nil {
		return nil // no DST yet: nothing to delete (or the copy reports why)
	}
	// DST's names one by one (a batch at a time in a huge directory), each
	// looked for in SRC: the first one there says the two are related.
	related, doomed := false, 0
	var shown []string
	each := func(n string) bool {
		if _, err := fsutil.Lstat(fsys, fsutil.Join(p.srcRoot, n)); !errors.Is(err, fs.ErrNotExist) {
			related = true // there (or, when it cannot be told, taken to be)
			return false
		}
		info, err := fsutil.Lstat(fsys, fsutil.Join(p.dstRoot, n))
		if err != nil || keptByDelete(f, n, info) {
			return true
		}
		doomed++
		if len(shown) < 3 {
			shown = append(shown, DisplayPath(n))
		}
		return true
	}
	walk.Each(names, more, each)
	if related || doomed == 0 {
		return nil
	}
	if doomed > 3 {
		shown = append(shown, "...")
	}
	return refused(fmt.Sprintf("pcopy copies SRC's contents, not SRC itself: to make %s, name it as DST; to mirror anyway, add --delete-unrelated",
		DisplayPath(filepath.Join(p.dstRoot, filepath.Base(p.srcRoot)))),
		"--delete would delete all %d entries of %s (%s): none of them is in SRC",
		doomed, DisplayPath(p.dstRoot), strings.Join(shown, ", "))
}

// kept says whether --delete leaves the DST entry r alone although SRC
// lacks it: the filters leave it out of SRC, or it is a temporary file
// (another copy's, running now).
func (c *coordinator) kept(r string, info os.FileInfo) bool { return keptByDelete(c.filter, r, info) }

// keptByDelete is kept for the filter f, before there is a coordinator.
func keptByDelete(f *filter.Filter, r string, info os.FileInfo) bool {
	return tempname.Is(path.Base(r)) || f.Excluded(r, info.IsDir())
}

// holdsKept says whether anything below the DST directory r is kept.
func (c *coordinator) holdsKept(ctx context.Context, r string) bool {
	names, _ := readNames(c.fs, fsutil.Join(c.plan.dstRoot, r))
	for _, name := range names {
		rr := r + "/" + name
		info, err := fsutil.Lstat(c.fs, fsutil.Join(c.plan.dstRoot, rr))
		if err != nil || ctx.Err() != nil || c.protected(info) {
			return true // when in doubt, keep
		}
		if c.kept(rr, info) || info.IsDir() && c.holdsKept(ctx, rr) {
			return true
		}
	}
	return false
}

// deleteExtraBelow deletes what is below the DST directory r (which SRC
// lacks) except what is kept, entry by entry.
func (c *coordinator) deleteExtraBelow(ctx context.Context, r string, dry bool) {
	names, err := readNames(c.fs, fsutil.Join(c.plan.dstRoot, r))
	if err != nil {
		c.fail(r, fmt.Errorf("list destination directory for --delete: %w", fsutil.UnwrapPath(err)))
		return
	}
	for _, name := range names {
		if ctx.Err() != nil {
			return
		}
		rr := r + "/" + name
		p := fsutil.Join(c.plan.dstRoot, rr)
		info, err := fsutil.Lstat(c.fs, p)
		if err != nil || c.kept(rr, info) {
			continue
		}
		if c.protected(info) {
			c.fail(rr, fmt.Errorf("--delete: %w", beneath.ErrProtected))
			continue
		}
		if info.IsDir() && c.holdsKept(ctx, rr) {
			c.deleteExtraBelow(ctx, rr, dry)
			continue
		}
		if !c.mayDelete() {
			continue
		}
		if !dry {
			if err := c.removeAll(p); err != nil {
				c.fail(rr, fmt.Errorf("delete: %w", fsutil.UnwrapPath(err)))
				continue
			}
		}
		c.sum.Deleted++
		c.act(Deleted, rr, nil)
	}
}

// srcInfo is the Lstat of a source entry, or its Stat when symlinks are
// followed.
func (c *coordinator) srcInfo(name string) (os.FileInfo, error) {
	if c.set.Deref {
		return c.fs.Stat(name)
	}
	return fsutil.Lstat(c.fs, name)
}

// checkLinkDest resolves Options.LinkDest: relative to DST, as rsync's
// --link-dest, it must be a directory on DST's filesystem (a hard link
// cannot cross filesystems). One that does not exist (the first of a
// series of snapshots) is a warning: everything is copied. "" stays "".
func checkLinkDest(fsys afero.Fs, p *plan, dir string) (resolved, warning string, err error) {
	if dir == "" {
		return "", "", nil
	}
	if !osfs.Is(fsys) || !p.dir {
		return "", "", &RefusedError{Msg: "--link-dest works for a directory SRC on the operating system's filesystem"}
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(p.dstRoot, dir)
	}
	dir = filepath.Clean(dir)
	info, err := fsys.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Sprintf("--link-dest %s does not exist: every file is copied", dir), nil
	}
	if err != nil || !info.IsDir() {
		return "", "", &RefusedError{Msg: fmt.Sprintf("--link-dest %s is not a directory", dir),
			Hint: "a relative --link-dest is relative to DST, as in rsync"}
	}
	// DST may not exist yet: its nearest existing ancestor is on the
	// filesystem it will be on.
	near := p.dstRoot
	for {
		if _, err := fsys.Stat(near); err == nil || filepath.Dir(near) == near {
			break
		}
		near = filepath.Dir(near)
	}
	if devOf(dir) != devOf(near) {
		return "", "", &RefusedError{Msg: fmt.Sprintf("--link-dest %s is on another filesystem than DST", dir),
			Hint: "hard links cannot cross filesystems"}
	}
	return dir, "", nil
}
