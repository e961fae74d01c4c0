package fastcopy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
)

// BenchmarkCopyFile copies one file per iteration, each to a new name, on
// the real filesystem with the platform's fast path (worker's
// BenchmarkCopyFile is the portable path's). Each calibration round
// deletes its files, so on ext4 without a journal (this project's
// machines) the next round pays the allocator's penalty for recently freed
// inodes, ~1 ms per file: run it with TMPDIR=/dev/shm there.
func BenchmarkCopyFile(b *testing.B) {
	for _, size := range []int{0, 4 << 10, 1 << 20} {
		data := bytes.Repeat([]byte{'x'}, size)
		b.Run(fmt.Sprintf("os/%d", size), func(b *testing.B) {
			dir := b.TempDir()
			src := filepath.Join(dir, "src")
			if err := os.WriteFile(src, data, 0o644); err != nil {
				b.Fatal(err)
			}
			must := func(err error) {
				if err != nil {
					b.Fatal(err)
				}
			}
			must(os.Mkdir(filepath.Join(dir, "dst"), 0o755))
			info, err := os.Stat(src)
			must(err)
			job := jobFor(info)
			fast := New(tempname.Prefix, wire.Settings{Owner: true}, false)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := range b.N {
				dst := filepath.Join(dir, "dst", fmt.Sprint(i))
				_, err := fast.CopyFile(context.Background(), job, src, dst, nil)
				must(err)
			}
			b.StopTimer()
			fast.Close()
		})
	}
}

// jobFor is the job the walk makes for a file: the copy checks the file
// still has the size and mtime listed.
func jobFor(info os.FileInfo) *wire.Job {
	return &wire.Job{Kind: wire.KindFile, Size: info.Size(), Mode: uint32(info.Mode()), Mtime: info.ModTime().UnixNano(), Atime: meta.AtimeOf(info).UnixNano()}
}
