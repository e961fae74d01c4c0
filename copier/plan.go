package copier

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/osfs"
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
		return nil, refused("", "cannot read source %s: %v", DisplayPath(src), fsutil.UnwrapPath(err))
	}
	switch {
	case srcInfo.IsDir():
		return planDir(fsys, src, dst, srcInfo)
	case srcInfo.Mode().IsRegular():
		p, err := planFile(fsys, src, dst, srcInfo)
		if err != nil {
			return nil, err
		}
		return p.resolve(fsys)
	}
	return nil, refused("pcopy copies directories and regular files",
		"source %s is a %s", DisplayPath(src), fsutil.TypeName(srcInfo.Mode()))
}

func planDir(fsys afero.Fs, src, dst string, srcInfo os.FileInfo) (*plan, error) {
	dstInfo, err := fsys.Stat(dst)
	if err != nil {
		if _, lerr := fsutil.Lstat(fsys, dst); lerr == nil {
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
	p, err := (&plan{srcRoot: src, dstRoot: dst, dir: true, srcInfo: srcInfo}).resolve(fsys)
	if err != nil {
		return nil, err
	}
	if isInside(fsys, p.srcRoot, p.dstRoot, srcInfo) {
		return nil, refused("the copy would copy itself; choose a destination outside the source",
			"destination %s is inside source %s", DisplayPath(dst), DisplayPath(src))
	}
	return p, nil
}

// resolve makes both roots absolute with every symlink in them resolved.
// Entries below the roots are then joined to them as text, which is only
// right when no ".." in a root follows a symlink (for "link/..", the kernel
// means the parent of the link's target, not the directory holding link).
func (p *plan) resolve(fsys afero.Fs) (*plan, error) {
	var err error
	if p.srcRoot, err = resolvePath(fsys, p.srcRoot); err != nil {
		return nil, refused("", "cannot resolve source %s: %v", DisplayPath(p.srcRoot), fsutil.UnwrapPath(err))
	}
	dst := p.dstRoot
	if !p.dir {
		// A file replaces what is at its name, a symlink included; only
		// the directory it goes in is resolved.
		dst = filepath.Dir(dst)
	}
	if dst, err = resolvePath(fsys, dst); err != nil {
		return nil, refused("", "cannot resolve destination %s: %v", DisplayPath(p.dstRoot), fsutil.UnwrapPath(err))
	}
	if !p.dir {
		dst = filepath.Join(dst, filepath.Base(p.dstRoot))
	}
	p.dstRoot = dst
	return p, nil
}

// resolvePath returns p absolute, with the symlinks in its longest existing
// prefix resolved; the part that does not exist yet is cleaned as text,
// there being no link in it to follow. Filesystems other than the
// operating system's have no symlinks to resolve.
func resolvePath(fsys afero.Fs, p string) (string, error) {
	if !osfs.Is(fsys) {
		return filepath.Abs(p)
	}
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return "", err
		}
		p = wd + string(filepath.Separator) + p // not filepath.Join: it would clean ".."
	}
	var tail []string
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{real}, tail...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		p = strings.TrimRight(p, string(filepath.Separator))
		i := strings.LastIndexByte(p, filepath.Separator)
		if i <= 0 {
			return filepath.Clean(string(filepath.Separator) + filepath.Join(tail...)), nil
		}
		tail = append([]string{p[i+1:]}, tail...)
		p = p[:i]
	}
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

// isInside reports whether dst is src or lies below it. Both are resolved
// (see resolvePath), so comparing them as paths sees through symlinks; each
// existing ancestor of dst is also compared with src by identity, which
// catches bind mounts.
func isInside(fsys afero.Fs, src, dst string, srcInfo os.FileInfo) bool {
	if dst == src || strings.HasPrefix(dst, strings.TrimSuffix(src, string(filepath.Separator))+string(filepath.Separator)) {
		return true
	}
	for p := dst; ; {
		if info, err := fsys.Stat(p); err == nil && os.SameFile(info, srcInfo) {
			return true
		}
		parent := filepath.Dir(p)
		if parent == p {
			return false
		}
		p = parent
	}
}

func sameCleanPath(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}
