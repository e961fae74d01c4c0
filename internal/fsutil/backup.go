package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/spf13/afero"
)

// Backup moves rel, below dstRoot, to the same path below backupRoot
// (--backup-dir), making the directories above it there (mode 0700: no
// one else's to add to; what is moved keeps its own owner and mode). It is a rename:
// backupRoot is on DST's filesystem. What was at that path in backupRoot
// before (an earlier run's backup) is replaced. restore puts it back, if
// nothing has taken its name meanwhile: for a replacement that failed.
func Backup(fsys afero.Fs, dstRoot, backupRoot, rel string) (restore func(), err error) {
	from, to := Join(dstRoot, rel), Join(backupRoot, rel)
	if err := mkdirAll(fsys, backupRoot, path.Dir(rel)); err != nil {
		return nil, fmt.Errorf("back up into %s: %w", DisplayPath(backupRoot), UnwrapPath(err))
	}
	if info, err := Lstat(fsys, to); err == nil && info.IsDir() {
		if from, err := Lstat(fsys, from); err != nil || !from.IsDir() {
			return nil, fmt.Errorf("back up: %s holds a directory from an earlier backup; not replaced", DisplayPath(to))
		}
	}
	if err := fsys.Rename(from, to); err != nil {
		return nil, fmt.Errorf("back up to %s: %w", DisplayPath(to), UnwrapPath(err))
	}
	return func() {
		if _, err := Lstat(fsys, from); errors.Is(err, fs.ErrNotExist) {
			fsys.Rename(to, from)
		}
	}, nil
}

// mkdirAll makes the directories of rel below root that are missing.
func mkdirAll(fsys afero.Fs, root, rel string) error {
	if rel == "." || rel == "" {
		return nil
	}
	if info, err := Lstat(fsys, Join(root, rel)); err == nil {
		if !info.IsDir() {
			return fmt.Errorf("%s is not a directory", DisplayPath(Join(root, rel)))
		}
		return nil
	}
	if err := mkdirAll(fsys, root, path.Dir(rel)); err != nil {
		return err
	}
	if err := fsys.Mkdir(Join(root, rel), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
