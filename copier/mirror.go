package copier

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/afero"
)

// Mirroring (Options.Delete) and looking without touching (Options.DryRun).

// deleteExtra removes from DST what SRC does not have, after a copy that
// went without an error, so that DST is SRC's mirror. It goes down only
// where both sides have a real directory (a symlink in DST is an entry to
// remove or keep, never a way in), so nothing outside DST is touched.
// What the filters leave out of SRC is kept in DST, as are temporary
// files (another copy's, running now). With dry, it only reports.
func (c *coordinator) deleteExtra(ctx context.Context, rel string, dry bool) {
	if ctx.Err() != nil {
		return
	}
	srcDir, dstDir := joinRel(c.plan.srcRoot, rel), joinRel(c.plan.dstRoot, rel)
	dstNames, err := readNames(c.fs, dstDir)
	if err != nil {
		if !(dry && errors.Is(err, fs.ErrNotExist)) { // a dry run's DST may not exist yet
			c.fail(rel, fmt.Errorf("list destination directory for --delete: %w", unwrapPath(err)))
		}
		return
	}
	srcNames, err := readNames(c.fs, srcDir)
	if err != nil {
		c.fail(rel, fmt.Errorf("list directory for --delete: %w", unwrapPath(err)))
		return
	}
	inSrc := make(map[string]bool, len(srcNames))
	for _, n := range srcNames {
		inSrc[n] = true
	}
	deleted := false
	defer func() {
		// Deleting changed the directory's times: they are SRC's again.
		if deleted {
			if info, err := c.srcInfo(srcDir); err == nil {
				if err := c.fs.Chtimes(dstDir, atimeOf(info), info.ModTime()); err != nil {
					c.fail(rel, fmt.Errorf("set directory times: %w", unwrapPath(err)))
				}
			}
		}
	}()
	for _, name := range dstNames {
		r := name
		if rel != "" {
			r = rel + "/" + name
		}
		dinfo, err := lstat(c.fs, joinRel(dstDir, name))
		if err != nil {
			continue // gone meanwhile
		}
		if inSrc[name] {
			sinfo, err := c.srcInfo(joinRel(srcDir, name))
			if err == nil && sinfo.IsDir() && dinfo.IsDir() && !c.filter.excluded(r, true) {
				c.deleteExtra(ctx, r, dry)
			}
			continue
		}
		if isTempName(name) || c.filter.excluded(r, dinfo.IsDir()) {
			continue
		}
		if !dry {
			if err := c.fs.RemoveAll(joinRel(dstDir, name)); err != nil {
				c.fail(r, fmt.Errorf("delete: %w", unwrapPath(err)))
				continue
			}
		}
		deleted = !dry
		c.sum.Deleted++
		c.act(Deleted, r, nil)
	}
}

// srcInfo is the Lstat of a source entry, or its Stat when symlinks are
// followed.
func (c *coordinator) srcInfo(name string) (os.FileInfo, error) {
	if c.deref {
		return c.fs.Stat(name)
	}
	return lstat(c.fs, name)
}

// dryRun walks SRC as a copy would and says what it would do, writing
// nothing: each file copied (or left unchanged, as a re-run would), each
// entry that would fail because DST has something else at its name, and,
// with Delete, what would be removed.
func (c *coordinator) dryRun(ctx context.Context, del bool) error {
	p := c.plan
	if !p.dir {
		c.wouldCopy("", p.srcInfo)
		return nil
	}
	entries := startLister(c.fs, p.srcRoot, p.srcInfo, c.deref, c.filter, c.quit)
	defer close(c.quit)
	for chunk := range entries {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", context.Cause(ctx))
		}
		for _, e := range chunk {
			switch {
			case e.kind == entryEnd:
			case e.kind == entryExcluded:
				c.sum.Excluded++
				c.act(Excluded, e.rel, nil)
			case e.err != nil && e.kind != entryDir:
				c.fail(e.rel, unwrapPath(e.err))
			case e.kind == entryDir:
				if info, err := lstat(c.fs, joinRel(p.dstRoot, e.rel)); err == nil && !info.IsDir() && e.rel != "" {
					c.fail(e.rel, fmt.Errorf("destination exists and is a %s, not a directory; not replaced", typeName(info.Mode())))
				} else {
					c.sum.Dirs++
				}
				if e.err != nil {
					c.fail(e.rel, fmt.Errorf("list directory: %w", unwrapPath(e.err)))
				}
			default:
				c.wouldCopy(e.rel, e.info)
			}
		}
	}
	if del && len(c.sum.Errors) == 0 {
		c.deleteExtra(ctx, "", true)
	}
	return ctx.Err()
}

// unchanged says whether a re-run would leave the file rel alone: DST's
// copy, of the same size, has the same mtime or, with --checksum, the
// same bytes.
func (c *coordinator) unchanged(rel string, info, dinfo os.FileInfo) bool {
	switch c.update {
	case UpdateChanged:
		return dinfo.ModTime().Equal(info.ModTime())
	case UpdateChecksum:
		same, err := sameContent(c.fs, joinRel(c.plan.srcRoot, rel), joinRel(c.plan.dstRoot, rel), info.Size(), c.deref)
		return err == nil && same
	}
	return false
}

// wouldCopy records what a copy would do with the entry rel.
func (c *coordinator) wouldCopy(rel string, info os.FileInfo) {
	dst := joinRel(c.plan.dstRoot, rel)
	dinfo, err := lstat(c.fs, dst)
	mode := info.Mode()
	switch {
	case err == nil && dinfo.IsDir():
		c.fail(rel, errors.New("destination exists and is a directory; not replaced"))
		return
	case err == nil && mode.IsRegular() && dinfo.Mode().IsRegular() && dinfo.Size() == info.Size() && c.unchanged(rel, info, dinfo):
		c.sum.Skipped++
		c.act(Unchanged, rel, nil)
		return
	}
	switch {
	case mode.IsRegular():
		c.sum.Files++
		c.sum.Bytes += info.Size()
	case mode&fs.ModeSymlink != 0:
		c.sum.Symlinks++
	default:
		c.sum.Specials++
	}
	c.act(Copied, rel, nil)
}

// checkLinkDest resolves Options.LinkDest: relative to DST, as rsync's
// --link-dest, it must be a directory on DST's filesystem (a hard link
// cannot cross filesystems). One that does not exist (the first of a
// series of snapshots) is a warning: everything is copied. "" stays "".
func checkLinkDest(fsys afero.Fs, p *plan, dir string) (resolved, warning string, err error) {
	if dir == "" {
		return "", "", nil
	}
	if !isOSFs(fsys) || !p.dir {
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
