//go:build unix

// Package copytest holds the tests every way of copying a file must pass,
// the portable one (package worker) and the Linux fast path (package
// fastcopy) alike, so that both are held to the same cases: each package's
// tests call them with its own copy function.
package copytest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/wire"
)

// CopyFunc copies the regular file src, as job lists it, to dst.
type CopyFunc func(job *wire.Job, src, dst string) error

// SourceReplacedAfterWalk: a source the walk saw as a regular file may have
// been replaced by the time a worker opens it. A FIFO must not hang the
// worker (opening one for reading waits for a writer), and a symlink must
// not be followed; nothing reaches DST.
func SourceReplacedAfterWalk(t *testing.T, copy CopyFunc) {
	t.Helper()
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
		// The fast path makes a file listed as empty without reading it,
		// once it has seen the name is still that file.
		for _, size := range []int64{0, 10} {
			job := &wire.Job{ID: 1, Kind: wire.KindFile, Mode: 0o644, Size: size}
			dst := filepath.Join(dir, "copy-of-"+filepath.Base(src))
			err := copy(job, src, dst)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("copy of %s listed with size %d: err = %v, want %q", filepath.Base(src), size, err, want)
			}
			if _, err := os.Lstat(dst); err == nil {
				t.Errorf("%s was created", dst)
			}
		}
	}
}

// SourceChangedSinceListing: a file whose size or mtime differs from what
// the walk listed changed while (or since) it was listed: what was read
// may mix old and new data, so it is reported and nothing reaches its name.
// As listed, it is copied.
func SourceChangedSinceListing(t *testing.T, copy CopyFunc) {
	t.Helper()
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
	for what, job := range map[string]wire.Job{
		"size":  {ID: 1, Kind: wire.KindFile, Mode: 0o644, Size: 5, Mtime: mtime},
		"mtime": {ID: 1, Kind: wire.KindFile, Mode: 0o644, Size: 10, Mtime: mtime - 1e9},
	} {
		dst := filepath.Join(dir, "copy-"+what)
		err := copy(&job, src, dst)
		if err == nil || !strings.Contains(err.Error(), "changed while it was being copied") {
			t.Errorf("%s differs from the listing: err = %v, want a change reported", what, err)
		}
		if _, err := os.Lstat(dst); err == nil {
			t.Errorf("%s was created", dst)
		}
	}
	job := wire.Job{ID: 1, Kind: wire.KindFile, Mode: 0o644, Size: 10, Mtime: mtime, Atime: mtime}
	dst := filepath.Join(dir, "copy")
	if err := copy(&job, src, dst); err != nil {
		t.Errorf("unchanged: %v", err)
	} else if b, _ := os.ReadFile(dst); string(b) != "0123456789" {
		t.Errorf("copy holds %q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".pcopy-*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// BenchCopyFile copies one file per iteration, each to a new name, on the
// real filesystem, for files of 0, 4 KiB and 1 MiB. Each calibration round
// deletes its files, so on ext4 without a journal the next round pays the
// allocator's penalty for recently freed inodes, ~1 ms per file: run it
// with TMPDIR=/dev/shm there.
func BenchCopyFile(b *testing.B, copy CopyFunc) {
	for _, size := range []int{0, 4 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("os/%d", size), func(b *testing.B) {
			dir := b.TempDir()
			src := filepath.Join(dir, "src")
			if err := os.WriteFile(src, bytes.Repeat([]byte{'x'}, size), 0o644); err != nil {
				b.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "dst"), 0o755); err != nil {
				b.Fatal(err)
			}
			info, err := os.Stat(src)
			if err != nil {
				b.Fatal(err)
			}
			job := JobFor(info)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := range b.N {
				if err := copy(job, src, filepath.Join(dir, "dst", fmt.Sprint(i))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// JobFor is the job the walk makes for a file: the copy checks the file
// still has the size and mtime listed.
func JobFor(info os.FileInfo) *wire.Job {
	return &wire.Job{Kind: wire.KindFile, Size: info.Size(), Mode: uint32(info.Mode()), Mtime: info.ModTime().UnixNano(), Atime: meta.AtimeOf(info).UnixNano()}
}
