package copier

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/afero"
)

// plan is what a copy will do, decided and vetted before anything is written.
//
// The rule users rely on: when SRC is a directory, its contents are copied
// into DST, which is created (with its parents) if missing. Running the same
// command again therefore updates the same tree, instead of nesting SRC
// inside DST the second time the way `cp -r SRC DST` does. When SRC is a
// file, it is copied to DST, or into DST when DST is an existing directory or
// ends with a slash. A SRC that is a symlink is followed; entries below SRC
// are never followed.
type plan struct {
	srcRoot string
	dstRoot string
	dir     bool
	srcInfo os.FileInfo
}

func makePlan(fsys afero.Fs, src, dst string) (*plan, error) {
	if src == "" || dst == "" {
		return nil, refused("", "source and destination must not be empty")
	}
	srcInfo, err := fsys.Stat(src)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, refused("", "source %s does not exist", DisplayPath(src))
		}
		return nil, refused("", "cannot read source %s: %v", DisplayPath(src), unwrapPath(err))
	}
	switch {
	case srcInfo.IsDir():
		return planDir(fsys, src, dst, srcInfo)
	case srcInfo.Mode().IsRegular():
		return planFile(fsys, src, dst, srcInfo)
	}
	return nil, refused("pcopy copies directories and regular files",
		"source %s is a %s", DisplayPath(src), typeName(srcInfo.Mode()))
}

func planDir(fsys afero.Fs, src, dst string, srcInfo os.FileInfo) (*plan, error) {
	dstInfo, err := fsys.Stat(dst)
	if err != nil {
		if _, lerr := lstat(fsys, dst); lerr == nil {
			return nil, refused("remove the link, or point it at a directory",
				"destination %s is a symlink to nothing", DisplayPath(dst))
		}
	} else {
		if os.SameFile(srcInfo, dstInfo) || sameCleanPath(src, dst) {
			return nil, refused("", "source and destination are the same directory: %s", DisplayPath(dst))
		}
		if !dstInfo.IsDir() {
			return nil, refused("a directory's contents are copied into a directory; name a new or existing directory",
				"destination %s exists and is not a directory", DisplayPath(dst))
		}
	}
	inside, err := isInside(fsys, src, dst, srcInfo)
	if err != nil {
		return nil, err
	}
	if inside {
		return nil, refused("the copy would copy itself; choose a destination outside the source",
			"destination %s is inside source %s", DisplayPath(dst), DisplayPath(src))
	}
	return &plan{srcRoot: src, dstRoot: dst, dir: true, srcInfo: srcInfo}, nil
}

func planFile(fsys afero.Fs, src, dst string, srcInfo os.FileInfo) (*plan, error) {
	target := dst
	if strings.HasSuffix(dst, "/") || strings.HasSuffix(dst, string(filepath.Separator)) {
		target = filepath.Join(dst, filepath.Base(src))
	} else if info, err := fsys.Stat(dst); err == nil && info.IsDir() {
		target = filepath.Join(dst, filepath.Base(src))
	}
	if info, err := fsys.Stat(target); err == nil {
		if os.SameFile(srcInfo, info) || sameCleanPath(src, target) {
			return nil, refused("", "source and destination are the same file: %s", DisplayPath(target))
		}
		if info.IsDir() {
			return nil, refused("", "destination %s is a directory", DisplayPath(target))
		}
	}
	return &plan{srcRoot: src, dstRoot: target, srcInfo: srcInfo}, nil
}

// isInside reports whether dst is src or lies below it. It checks each
// existing ancestor of dst for being the same directory as src, which sees
// through symlinks and bind mounts, and falls back to comparing cleaned
// absolute paths for the part of dst that does not exist yet (and for
// filesystems that have no inode identity, like afero's MemMapFs).
func isInside(fsys afero.Fs, src, dst string, srcInfo os.FileInfo) (bool, error) {
	absSrc, err := filepath.Abs(src)
	if err != nil {
		return false, err
	}
	absDst, err := filepath.Abs(dst)
	if err != nil {
		return false, err
	}
	if absDst == absSrc || strings.HasPrefix(absDst, absSrc+string(filepath.Separator)) {
		return true, nil
	}
	for p := absDst; ; {
		if info, err := fsys.Stat(p); err == nil && os.SameFile(info, srcInfo) {
			return true, nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return false, nil
		}
		p = parent
	}
}

func sameCleanPath(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}

func typeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

// unwrapPath drops the path from a *fs.PathError, for messages that already
// name the entry: "open: permission denied" rather than repeating the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &opError{pe.Op, pe.Err}
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return &opError{le.Op, le.Err}
	}
	return err
}

// opError is an operation and its cause, without a path.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }
