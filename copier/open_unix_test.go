//go:build unix

package copier

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/afero"
)

// A source the walk saw as a regular file may have been replaced by the
// time a worker opens it. A FIFO must not hang the worker (opening one
// for reading waits for a writer), and a symlink must not be followed.
func TestSourceReplacedAfterWalk(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "was-a-file")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	link := filepath.Join(dir, "was-also-a-file")
	if err := os.Symlink("/etc/passwd", link); err != nil {
		t.Fatal(err)
	}
	copiers := map[string]func(job *Job, src, dst string) error{
		"afero": func(job *Job, src, dst string) error {
			_, err := copyFile(context.Background(), afero.NewOsFs(), job, src, dst, TempPrefix, nil)
			return err
		},
	}
	if fast := newOSCopier(TempPrefix); fast != nil {
		defer fast.close()
		copiers["fast path"] = func(job *Job, src, dst string) error {
			_, err := fast.copyFile(context.Background(), job, src, dst, nil)
			return err
		}
	}
	for name, copy := range copiers {
		for src, want := range map[string]string{fifo: "is now a FIFO", link: "is now a symlink"} {
			for _, size := range []int64{0, 10} { // the fast path treats files listed as empty apart
				job := &Job{ID: 1, Kind: KindFile, Mode: 0o644, Size: size}
				dst := filepath.Join(dir, "copy-of-"+filepath.Base(src))
				err := copy(job, src, dst)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s, copy of %s listed with size %d: err = %v, want %q", name, filepath.Base(src), size, err, want)
				}
				if _, err := os.Lstat(dst); err == nil {
					t.Errorf("%s: %s was created", name, dst)
				}
			}
		}
	}
}
