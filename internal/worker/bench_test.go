//go:build unix

package worker

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/worker/copytest"
)

// BenchmarkCopyFile copies one file per iteration, each to a new name,
// the portable way: on the real filesystem (as where there is no fast
// path; fastcopy's BenchmarkCopyFile is the fast path's) and on MemMapFs.
func BenchmarkCopyFile(b *testing.B) {
	copytest.BenchCopyFile(b, portableCopy)
	for _, size := range []int{0, 4 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("memfs/%d", size), func(b *testing.B) {
			fsys := afero.NewMemMapFs()
			if err := afero.WriteFile(fsys, "/src", bytes.Repeat([]byte{'x'}, size), 0o644); err != nil {
				b.Fatal(err)
			}
			fsys.Mkdir("/dst", 0o755)
			info, err := fsys.Stat("/src")
			if err != nil {
				b.Fatal(err)
			}
			job := copytest.JobFor(info)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := range b.N {
				if _, err := copyFile(context.Background(), fsys, job, "/src", fmt.Sprintf("/dst/%d", i), fileOpts{tempPrefix: tempname.Prefix}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
