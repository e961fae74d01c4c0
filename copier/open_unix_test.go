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
	for src, want := range map[string]string{fifo: "is now a FIFO", link: "is now a symlink"} {
		job := &Job{ID: 1, Kind: KindFile, Mode: 0o644}
		dst := filepath.Join(dir, "copy-of-"+filepath.Base(src))
		_, err := copyFile(context.Background(), afero.NewOsFs(), job, src, dst, TempPrefix, nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("copy of %s: err = %v, want %q", filepath.Base(src), err, want)
		}
		if _, err := os.Lstat(dst); err == nil {
			t.Errorf("%s was created", dst)
		}
	}
}
