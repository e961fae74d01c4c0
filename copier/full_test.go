package copier_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/copier"
)

// roomFs is a filesystem with room for so many bytes of file content:
// writes beyond fail with ENOSPC. It counts the source files opened, one
// per job a worker was given.
type roomFs struct {
	afero.Fs
	mu     sync.Mutex
	room   int64
	opened int
}

func (r *roomFs) Create(name string) (afero.File, error) {
	return r.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (r *roomFs) Open(name string) (afero.File, error) {
	return r.OpenFile(name, os.O_RDONLY, 0)
}

func (r *roomFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	f, err := r.Fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		return &roomFile{File: f, fs: r}, nil
	}
	if strings.HasPrefix(name, "/src/") {
		if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
			r.mu.Lock()
			r.opened++
			r.mu.Unlock()
		}
	}
	return f, nil
}

type roomFile struct {
	afero.File
	fs *roomFs
}

func (f *roomFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if int64(len(p)) > f.fs.room {
		return 0, &fs.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
	}
	f.fs.room -= int64(len(p))
	return f.File.Write(p)
}

// Once DST is full, no job more is given to a worker and no directory more
// is made: what is left is counted, with the room it needs, not listed
// file by file. A directory that was there is finished as usual, and
// --delete deletes nothing.
func TestFullDstStopsTheCopy(t *testing.T) {
	const files, size, fit = 2000, 100, 50
	mem := afero.NewMemMapFs()
	var tree []entry
	for i := range files {
		tree = append(tree, entry{path: fmt.Sprintf("a/f%04d", i), data: strings.Repeat("x", size)})
	}
	tree = append(tree,
		entry{path: "b", dir: true, mtime: t0},
		entry{path: "b/g", data: "in a directory DST has", mtime: t0},
		entry{path: "z/deep", dir: true},
		entry{path: "z/deep/h", data: "late"},
		entry{path: "z/empty", data: ""})
	buildMem(t, mem, "/src", tree)
	buildMem(t, mem, "/dst", []entry{{path: "b/old", data: "not in SRC"}})
	fsys := &roomFs{Fs: mem, room: fit * size}

	sum, err := copier.Copy(context.Background(), copier.Options{Src: "/src", Dst: "/dst", Fs: fsys, Workers: 2,
		Spawn: copier.InProcess(fsys), Delete: true})
	if !errors.Is(err, copier.ErrIncomplete) {
		t.Fatalf("err = %v, want ErrIncomplete", err)
	}
	for _, e := range sum.Errors {
		t.Errorf("error listed: %v", e)
	}
	if sum.Files != fit {
		t.Errorf("%d files copied, want the %d that fit", sum.Files, fit)
	}
	if len(sum.Full) != 1 {
		t.Fatalf("Full = %v, want one filesystem", sum.Full)
	}
	wantBytes := int64((files-fit)*size + len("in a directory DST has") + len("late"))
	if f := sum.Full[0]; f.Quota || f.Files != files-fit+3 || f.Bytes != wantBytes || f.AtLeast {
		t.Errorf("Full = %+v, want %d files of %d bytes not copied", *f, files-fit+3, wantBytes)
	}
	if sum.NotCopied() != files-fit+3 {
		t.Errorf("NotCopied = %d, want %d", sum.NotCopied(), files-fit+3)
	}
	if max := copier.MaxOut(2) + fit; fsys.opened > max {
		t.Errorf("workers were given %d jobs, want at most %d: dispatch did not stop", fsys.opened, max)
	}
	if _, err := mem.Stat("/dst/z"); err == nil {
		t.Error("/dst/z was made after DST was full")
	}
	if info, err := mem.Stat("/dst/b"); err != nil || !info.ModTime().Equal(t0) {
		t.Errorf("/dst/b: %v, %v; want it finished with its mtime", info, err)
	}
	if _, err := mem.Stat("/dst/b/old"); err != nil {
		t.Errorf("--delete deleted in a copy that did not fit: %v", err)
	}
	if !strings.Contains(strings.Join(sum.Warnings, "\n"), "--delete: nothing deleted") {
		t.Errorf("warnings %q, want one that --delete deleted nothing", sum.Warnings)
	}
	afero.Walk(mem, "/dst", func(p string, info fs.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(info.Name(), copier.TempPrefix) {
			t.Errorf("temporary file left: %s", p)
		}
		if err == nil && info.Mode().IsRegular() && strings.HasPrefix(p, "/dst/a/") && info.Size() != size {
			t.Errorf("%s: %d bytes, want a whole copy (%d)", p, info.Size(), size)
		}
		return nil
	})
}
