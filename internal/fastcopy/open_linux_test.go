package fastcopy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
)

// The fast path's side of worker's tests of the same names (see
// worker/open_unix_test.go).

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
	copiers := map[string]func(job *wire.Job, src, dst string) error{}
	if fast := New(tempname.Prefix, wire.Settings{Owner: true}, false); fast != nil {
		defer fast.Close()
		copiers["fast path"] = func(job *wire.Job, src, dst string) error {
			_, err := fast.CopyFile(context.Background(), job, src, dst, nil)
			return err
		}
	}
	for name, copy := range copiers {
		for src, want := range map[string]string{fifo: "is now a FIFO", link: "is now a symlink"} {
			// The fast path makes a file listed as empty without reading
			// it, once it has seen the name is still that file.
			for _, size := range []int64{0, 10} {
				job := &wire.Job{ID: 1, Kind: wire.KindFile, Mode: 0o644, Size: size}
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

// A file whose size or mtime differs from what the walk listed changed
// while (or since) it was listed: what was read may mix old and new data,
// so it is reported and nothing reaches its name.
func TestSourceChangedSinceListing(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "grows")
	if err := os.WriteFile(src, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	mtime := fi.ModTime().UnixNano()
	copiers := map[string]func(job *wire.Job, dst string) error{}
	if fast := New(tempname.Prefix, wire.Settings{Owner: true}, false); fast != nil {
		defer fast.Close()
		copiers["fast path"] = func(job *wire.Job, dst string) error {
			_, err := fast.CopyFile(context.Background(), job, src, dst, nil)
			return err
		}
	}
	for name, copy := range copiers {
		for what, job := range map[string]wire.Job{
			"size":  {ID: 1, Kind: wire.KindFile, Mode: 0o644, Size: 5, Mtime: mtime},
			"mtime": {ID: 1, Kind: wire.KindFile, Mode: 0o644, Size: 10, Mtime: mtime - 1e9},
		} {
			dst := filepath.Join(dir, "copy-"+what)
			err := copy(&job, dst)
			if err == nil || !strings.Contains(err.Error(), "changed while it was being copied") {
				t.Errorf("%s, %s differs from the listing: err = %v, want a change reported", name, what, err)
			}
			if _, err := os.Lstat(dst); err == nil {
				t.Errorf("%s: %s was created", name, dst)
			}
		}
		// As listed: copied.
		job := wire.Job{ID: 1, Kind: wire.KindFile, Mode: 0o644, Size: 10, Mtime: mtime, Atime: mtime}
		dst := filepath.Join(dir, "copy-"+strings.ReplaceAll(name, " ", "-"))
		if err := copy(&job, dst); err != nil {
			t.Errorf("%s, unchanged: %v", name, err)
		} else if b, _ := os.ReadFile(dst); string(b) != "0123456789" {
			t.Errorf("%s: copy holds %q", name, b)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".pcopy-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
