package copier_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/copier"
)

// With Verify, a copy that does not read back as its source is an error
// and never gets its name (README, --verify): a new file is not in DST,
// and a file DST already had keeps its old content. Here the copy is
// corrupted as it is read back: every read of a temporary file in
// /dst/corrupt returns one byte flipped, as a bad disk or cable would.
func TestVerifyMismatchIsAnErrorAndKeepsNothing(t *testing.T) {
	mem := afero.NewMemMapFs()
	big := strings.Repeat("0123456789abcdef", (3<<20)/16) // more than one read-back buffer
	buildMem(t, mem, "/src", []entry{
		{path: "top", data: "fine at the top", mtime: t0},
		{path: "corrupt/new", data: big, mode: 0o600, mtime: t0},
		{path: "corrupt/old", data: "the new version", mtime: t0.Add(time.Hour)},
		{path: "corrupt/empty", data: "", mtime: t0}, // nothing to read back: nothing to corrupt
		{path: "good/g", data: big, mtime: t0},
	})
	buildMem(t, mem, "/dst", []entry{{path: "corrupt/old", data: "what DST held before", mtime: t0}})
	fsys := &flipFs{Fs: mem, dir: "/dst/corrupt"}

	sum, err := copier.Copy(context.Background(), copier.Options{Src: "/src", Dst: "/dst", Fs: fsys, Workers: 2, Verify: true})
	if !errors.Is(err, copier.ErrIncomplete) {
		t.Fatalf("err = %v (errors %v), want it to wrap ErrIncomplete", err, sum.Errors)
	}
	if fsys.flipped.Load() == 0 {
		t.Fatal("no read of a copy was corrupted: the copies were not read back")
	}
	var got []string
	for _, e := range sum.Errors {
		got = append(got, e.Path)
		if msg := e.Error(); !strings.HasPrefix(msg, e.Path+": verify: ") || !strings.Contains(msg, "differs from the source") {
			t.Errorf("error %q does not say the copy did not verify", msg)
		}
	}
	if want := "corrupt/new corrupt/old"; strings.Join(got, " ") != want {
		t.Errorf("errors for %q, want for %q", strings.Join(got, " "), want)
	}
	if sum.Files != 3 {
		t.Errorf("summary counts %d files copied, want 3 (top, corrupt/empty, good/g)", sum.Files)
	}

	// Nothing bad at a final name: the new file is not there, the old one
	// is as it was.
	if _, err := mem.Stat("/dst/corrupt/new"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("corrupt/new, which did not verify, is in DST (stat: %v)", err)
	}
	if data, _ := afero.ReadFile(mem, "/dst/corrupt/old"); string(data) != "what DST held before" {
		t.Errorf("corrupt/old = %q in DST, want what it held before the copy that did not verify", data)
	}
	if info, err := mem.Stat("/dst/corrupt/old"); err != nil {
		t.Error(err)
	} else if !info.ModTime().Equal(t0) {
		t.Errorf("corrupt/old has mtime %v, want its old one, %v", info.ModTime(), t0)
	}
	// What verified is there, whole.
	for _, p := range []string{"top", "corrupt/empty", "good/g"} {
		want, _ := afero.ReadFile(mem, path.Join("/src", p))
		got, err := afero.ReadFile(mem, path.Join("/dst", p))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: %d bytes, %v; want its source's %d bytes", p, len(got), err, len(want))
		}
	}
	afero.Walk(mem, "/dst", func(p string, info fs.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(info.Name(), copier.TempPrefix) {
			t.Errorf("temporary file left behind: %s", p)
		}
		return nil
	})
}

// flipFs corrupts what is read from temporary files in dir: a copy, read
// back for verification.
type flipFs struct {
	afero.Fs
	dir     string
	flipped atomic.Int64
}

func (f *flipFs) corrupts(name string) bool {
	return path.Dir(name) == f.dir && strings.HasPrefix(path.Base(name), copier.TempPrefix)
}

func (f *flipFs) Open(name string) (afero.File, error) {
	file, err := f.Fs.Open(name)
	if err != nil || !f.corrupts(name) {
		return file, err
	}
	return &flipFile{File: file, fs: f}, nil
}

func (f *flipFs) OpenFile(name string, flag int, perm fs.FileMode) (afero.File, error) {
	file, err := f.Fs.OpenFile(name, flag, perm)
	if err != nil || !f.corrupts(name) {
		return file, err
	}
	return &flipFile{File: file, fs: f}, nil
}

func (f *flipFs) Name() string { return fmt.Sprintf("flipFs(%s)", f.Fs.Name()) }

type flipFile struct {
	afero.File
	fs *flipFs
}

func (f *flipFile) flip(p []byte, n int) {
	if n > 0 {
		p[n/2] ^= 0x20
		f.fs.flipped.Add(1)
	}
}

func (f *flipFile) Read(p []byte) (int, error) {
	n, err := f.File.Read(p)
	f.flip(p, n)
	return n, err
}

func (f *flipFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(p, off)
	f.flip(p, n)
	return n, err
}

var _ io.ReaderAt = (*flipFile)(nil)
