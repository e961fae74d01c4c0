package walk

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/filter"
)

// The walk lists depth first, in name order, each directory announced
// before its entries and ended after them; an excluded directory is one
// entry, not entered.
func TestWalkOrder(t *testing.T) {
	fsys := afero.NewMemMapFs()
	for _, p := range []string{"/src/b/z", "/src/a", "/src/b/y/x", "/src/c/skip/deep", "/src/d.o"} {
		if err := afero.WriteFile(fsys, p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	info, err := fsys.Stat("/src")
	if err != nil {
		t.Fatal(err)
	}
	f, err := filter.New([]string{"skip/", "*.o"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for chunk := range Start(fsys, Spec{Root: "/src", RootInfo: info, Filter: f}, make(chan struct{})) {
		for _, e := range chunk {
			if e.Err != nil {
				t.Errorf("%s: %v", e.Rel, e.Err)
			}
			got = append(got, fmt.Sprintf("%s:%s", []string{"other", "dir", "end", "excluded", "refused"}[e.Kind], e.Rel))
		}
	}
	want := "dir: other:a dir:b dir:b/y other:b/y/x end:b/y other:b/z end:b dir:c excluded:c/skip end:c excluded:d.o end:"
	if strings.Join(got, " ") != want {
		t.Errorf("walk:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

// BenchmarkListSource walks a real tree of 5,000 files in 100 directories
// with the lister alone (listing and an lstat per entry, relative to open
// directories on Linux): the coordinator's share of reading the source.
// It only reads, so it needs no TMPDIR=/dev/shm.
func BenchmarkListSource(b *testing.B) {
	root := b.TempDir()
	for i := range 5000 {
		d := filepath.Join(root, fmt.Sprintf("d%02d", i%100))
		os.MkdirAll(d, 0o755)
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%04d", i)), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	info, err := os.Stat(root)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var n int
	for range b.N {
		quit := make(chan struct{})
		for chunk := range Start(afero.NewOsFs(), Spec{Root: root, RootInfo: info, MaxFds: MaxDirFds, OS: true}, quit) {
			n += len(chunk)
		}
		close(quit)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/entry")
}
