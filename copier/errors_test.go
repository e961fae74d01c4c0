package copier_test

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"syscall"
	"testing"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/copier"
)

// failingFs fails to open the files named in fail with their error.
type failingFs struct {
	afero.Fs
	fail map[string]error
}

func (f failingFs) Open(name string) (afero.File, error) {
	if err := f.fail[name]; err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f.Fs.Open(name)
}

func (f failingFs) OpenFile(name string, flag int, perm fs.FileMode) (afero.File, error) {
	if err := f.fail[name]; err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f.Fs.OpenFile(name, flag, perm)
}

// An error a worker met keeps its identity across the protocol: a library
// user can tell a denied permission or a missing file from other failures
// with errors.Is on the FileError, as with an error of their own.
func TestFileErrorsKeepTheirIdentity(t *testing.T) {
	mem := afero.NewMemMapFs()
	buildMem(t, mem, "/src", []entry{{path: "denied", data: "x"}, {path: "broken", data: "y"}, {path: "fine", data: "z"}})
	fsys := failingFs{Fs: mem, fail: map[string]error{"/src/denied": syscall.EACCES, "/src/broken": syscall.EIO}}
	sum, err := copier.Copy(context.Background(), copier.Options{Src: "/src", Dst: "/dst", Fs: fsys, Workers: 2, Spawn: copier.InProcess(fsys)})
	if !errors.Is(err, copier.ErrIncomplete) {
		t.Fatalf("err = %v, want ErrIncomplete", err)
	}
	got := map[string]*copier.FileError{}
	for _, fe := range sum.Errors {
		got[path.Base(fe.Path)] = fe
	}
	if fe := got["denied"]; fe == nil || !errors.Is(fe, fs.ErrPermission) || !errors.Is(fe, syscall.EACCES) {
		t.Errorf("denied: %v, want an error that is fs.ErrPermission and EACCES", fe)
	}
	if fe := got["broken"]; fe == nil || !errors.Is(fe, syscall.EIO) || errors.Is(fe, fs.ErrPermission) {
		t.Errorf("broken: %v, want an error that is EIO only", fe)
	}
	if len(sum.Errors) != 2 {
		t.Errorf("errors: %v, want denied and broken", sum.Errors)
	}
}
