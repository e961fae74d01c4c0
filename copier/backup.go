package copier

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
)

// checkBackupDir resolves Options.BackupDir (relative to DST, as rsync's
// --backup-dir) and refuses one that cannot be a rename away from DST's
// entries: on another filesystem, DST itself or a directory above it, or
// inside SRC (where the walk would copy the backups). It makes the
// directory (0700), unless dry.
func checkBackupDir(fsys afero.Fs, p *plan, dir string, dry bool) (string, error) {
	if dir == "" {
		return "", nil
	}
	if !p.dir {
		return "", refused("a backup directory holds DST's entries under their paths below DST", "--backup-dir needs SRC to be a directory")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(p.dstRoot, dir)
	}
	dir = filepath.Clean(dir)
	under := func(a, b string) bool { // a is b or below it
		return a == b || strings.HasPrefix(a, strings.TrimSuffix(b, string(filepath.Separator))+string(filepath.Separator))
	}
	switch {
	case under(p.dstRoot, dir):
		return "", refused("a directory beside DST, or inside it", "--backup-dir %s is DST or holds it", DisplayPath(dir))
	case under(dir, p.srcRoot):
		return "", refused("a directory outside SRC", "--backup-dir %s is inside SRC: the copy would copy the backups", DisplayPath(dir))
	}
	// The nearest directory that exists tells the filesystem.
	have := dir
	for {
		if _, err := fsys.Stat(have); err == nil || have == filepath.Dir(have) {
			break
		}
		have = filepath.Dir(have)
	}
	dinfo, derr := fsys.Stat(p.dstRoot)
	binfo, berr := fsys.Stat(have)
	if derr == nil && berr == nil {
		if ddev, _, _, ok := meta.Identity(dinfo); ok {
			if bdev, _, _, ok := meta.Identity(binfo); ok && bdev != ddev {
				return "", refused("a backup is a rename, never a copy of the data: choose a directory on DST's filesystem",
					"--backup-dir %s is on another filesystem than DST", DisplayPath(dir))
			}
		}
	}
	if !dry {
		if err := fsys.MkdirAll(dir, 0o700); err != nil {
			return "", refused("", "--backup-dir: %v", fsutil.UnwrapPath(err))
		}
		if info, err := fsys.Stat(dir); err != nil || !info.IsDir() {
			return "", refused("", "--backup-dir %s is not a directory", DisplayPath(dir))
		}
	}
	return dir, nil
}

// backupHolds says whether DST's entry dst is the backup directory or
// holds it: --delete leaves it.
func (c *coordinator) backupHolds(dst string) bool {
	b := c.set.BackupDir
	return b != "" && (b == dst || strings.HasPrefix(b, dst+string(filepath.Separator)))
}

// remove takes DST's entry rel (at dst) away for --delete: into the
// backup directory, in one rename even for a directory, with
// --backup-dir; deleted otherwise.
func (c *coordinator) remove(rel, dst string) error {
	if c.set.BackupDir == "" {
		return c.removeAll(dst)
	}
	_, err := fsutil.Backup(c.fs, c.plan.dstRoot, c.set.BackupDir, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
