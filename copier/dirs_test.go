package copier_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/copier"
)

// A directory's mode and times are set only once everything in it is
// copied (README: "directory times are set after their contents are in
// place"): a read-only directory (0555), however deep, is filled first and
// made read-only last, and keeps SRC's mtime although entries were made
// in it. The trees have several files per directory so that, with four
// workers, several write into one directory at once.

// readOnlyTree is SRC: read-only directories five levels deep (SRC's root
// among them), a writable directory inside a read-only one, a read-only
// one inside a writable one, each with files, some of them read-only.
func readOnlyTree() []entry {
	var entries []entry
	dir := ""
	for level := range 5 {
		if level > 0 {
			dir = path.Join(dir, fmt.Sprintf("ro%d", level))
			entries = append(entries, entry{path: dir, dir: true, mode: 0o555, mtime: t0.Add(time.Duration(level) * time.Hour)})
		}
		for i := range 12 {
			mode := fs.FileMode(0o644)
			if i%3 == 0 {
				mode = 0o444
			}
			entries = append(entries, entry{path: path.Join(dir, fmt.Sprintf("f%02d", i)), data: fmt.Sprintf("level %d file %d", level, i),
				mode: mode, mtime: t0.Add(time.Duration(i) * time.Second)})
		}
	}
	entries = append(entries,
		entry{path: "ro1/rw", dir: true, mode: 0o755, mtime: t0.Add(10 * time.Hour)},
		entry{path: "ro1/rw/f", data: "writable dir in a read-only one", mode: 0o644, mtime: t0},
		entry{path: "ro1/rw/ro", dir: true, mode: 0o555, mtime: t0.Add(11 * time.Hour)},
		entry{path: "ro1/rw/ro/f", data: "read-only dir in a writable one", mode: 0o400, mtime: t0},
		entry{path: "ro1/rw/ro/empty", dir: true, mode: 0o555, mtime: t0.Add(12 * time.Hour)},
	)
	return entries
}

// srcRootMtime is the mtime of SRC's root, which is read-only too.
var srcRootMtime = t0.Add(-time.Hour)

func TestReadOnlyDirectoriesAreFinishedLast(t *testing.T) {
	t.Run("memfs", func(t *testing.T) {
		mem := afero.NewMemMapFs()
		buildMem(t, mem, "/src", readOnlyTree())
		must(t, mem.Chmod("/src", 0o555))
		must(t, mem.Chtimes("/src", srcRootMtime, srcRootMtime))
		fsys := &posixDirFs{Fs: mem}

		// The filesystem is strict, as a disk is for anyone but root.
		if _, err := fsys.Create("/src/ro1/probe"); !errors.Is(err, fs.ErrPermission) {
			t.Fatalf("creating a file in a read-only directory: %v; want permission denied", err)
		}

		sum, err := copier.Copy(context.Background(), copier.Options{Src: "/src", Dst: "/dst", Fs: fsys, Workers: 4})
		if err != nil {
			t.Fatalf("err = %v (errors %v)", err, sum.Errors)
		}
		compareMem(t, mem, "/src", "/dst") // modes, mtimes, contents; no temporary files
		if sum.Dirs != 8 {
			t.Errorf("summary counts %d directories, want 8 (the root included)", sum.Dirs)
		}
	})
	t.Run("os", readOnlyDirsOnOS)
	t.Run("os_as_nobody", func(t *testing.T) {
		switch os.Geteuid() {
		case 0:
			rerunAsNobody(t) // root may write into a read-only directory: prove it as someone who may not
		case 65534:
			readOnlyDirsOnOS(t)
		default:
			t.Skip("not root: the os subtest ran as a user read-only directories hold back")
		}
	})
}

func readOnlyDirsOnOS(t *testing.T) {
	base := t.TempDir()
	src, dst := filepath.Join(base, "src"), filepath.Join(base, "dst")
	// t.TempDir cannot remove what is read-only for a user who is not root.
	t.Cleanup(func() {
		filepath.Walk(base, func(p string, info fs.FileInfo, err error) error {
			if err == nil && info.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	entries := readOnlyTree()
	for _, e := range entries {
		p := filepath.Join(src, filepath.FromSlash(e.path))
		if e.dir {
			must(t, os.MkdirAll(p, 0o755))
		} else {
			writeFile(t, p, e.data, e.mode, e.mtime)
		}
	}
	// Deepest first, then SRC's root: making an entry changes its
	// directory's mtime, and a read-only directory takes no more.
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; e.dir {
			p := filepath.Join(src, filepath.FromSlash(e.path))
			must(t, os.Chmod(p, e.mode))
			must(t, os.Chtimes(p, e.mtime, e.mtime))
		}
	}
	must(t, os.Chmod(src, 0o555))
	must(t, os.Chtimes(src, srcRootMtime, srcRootMtime))

	sum, err := copier.Copy(context.Background(), copier.Options{Src: src, Dst: dst, Workers: 4})
	if err != nil {
		t.Fatalf("err = %v (errors %v)", err, sum.Errors)
	}
	assertSameTree(t, src, dst) // type, mode, owner, content, mtime; no temporary files
	// And explicitly, for the directories.
	entries = append(entries, entry{path: ".", dir: true, mode: 0o555, mtime: srcRootMtime})
	for _, e := range entries {
		if !e.dir {
			continue
		}
		info, err := os.Lstat(filepath.Join(dst, filepath.FromSlash(e.path)))
		if err != nil {
			t.Errorf("%s: %v", e.path, err)
			continue
		}
		if info.Mode() != fs.ModeDir|e.mode || !info.ModTime().Equal(e.mtime) {
			t.Errorf("%s: %v, mtime %v; want %v, %v", e.path, info.Mode(), info.ModTime(), fs.ModeDir|e.mode, e.mtime)
		}
	}
}

// posixDirFs gives afero's memory filesystem what a disk does to a user who
// is not root: a directory without write permission takes no new entry,
// loses none and renames none, and making, removing or renaming an entry
// sets its directory's mtime (to dirTouched, a time no tree here has).
type posixDirFs struct {
	afero.Fs
}

var dirTouched = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)

// changing checks that the directory holding name may change, and returns
// the function that records the change.
func (p *posixDirFs) changing(name string) (done func(), err error) {
	dir := path.Dir(name)
	info, err := p.Fs.Stat(dir)
	if err != nil {
		return nil, err
	}
	if info.Mode().Perm()&0o200 == 0 {
		return nil, &fs.PathError{Op: "write", Path: dir, Err: syscall.EACCES}
	}
	return func() { p.Fs.Chtimes(dir, dirTouched, dirTouched) }, nil
}

func (p *posixDirFs) Create(name string) (afero.File, error) {
	return p.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (p *posixDirFs) OpenFile(name string, flag int, perm fs.FileMode) (afero.File, error) {
	if flag&os.O_CREATE != 0 {
		if _, err := p.Fs.Stat(name); errors.Is(err, fs.ErrNotExist) {
			done, err := p.changing(name)
			if err != nil {
				return nil, err
			}
			defer done()
		}
	}
	return p.Fs.OpenFile(name, flag, perm)
}

func (p *posixDirFs) Mkdir(name string, perm fs.FileMode) error {
	done, err := p.changing(name)
	if err != nil {
		return err
	}
	defer done()
	return p.Fs.Mkdir(name, perm)
}

func (p *posixDirFs) Remove(name string) error {
	done, err := p.changing(name)
	if err != nil {
		return err
	}
	defer done()
	return p.Fs.Remove(name)
}

func (p *posixDirFs) RemoveAll(name string) error {
	done, err := p.changing(name)
	if err != nil {
		return err
	}
	defer done()
	return p.Fs.RemoveAll(name)
}

func (p *posixDirFs) Rename(oldname, newname string) error {
	done1, err := p.changing(oldname)
	if err != nil {
		return err
	}
	done2, err := p.changing(newname)
	if err != nil {
		return err
	}
	defer done1()
	defer done2()
	return p.Fs.Rename(oldname, newname)
}
