package copier

import (
	"context"
	"fmt"
	"testing"

	"github.com/spf13/afero"
)

// in-process workers: the coordinator, protocol and dispatch, without a disk.
func BenchmarkCopyTreeMem(b *testing.B) {
	fsys := afero.NewMemMapFs()
	for i := range 2000 {
		afero.WriteFile(fsys, fmt.Sprintf("/src/d%02d/f%04d", i%40, i), []byte("data"), 0o644)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := Copy(context.Background(), Options{Src: "/src", Dst: fmt.Sprintf("/dst%d", i), Fs: fsys, Workers: 2}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2000), "ns/file")
}
