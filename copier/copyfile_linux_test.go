package copier

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/treecheck"
)

// Where O_TMPFILE cannot be used, files go through named temporary files;
// that path must copy as exactly, new files and replacements alike.
func TestCopyWithNamedTemporaryFiles(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for i, name := range []string{"a", "b/c", "b/d/e"} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o640+os.FileMode(i)); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "dst")
	for range 2 { // the second time over existing files
		if _, err := Copy(context.Background(), Options{Src: src, Dst: dst, Fs: afero.NewOsFs(), Workers: 2,
			Spawn: inProcess(afero.NewOsFs(), true)}); err != nil {
			t.Fatal(err)
		}
		diffs, err := treecheck.Compare(src, dst, treecheck.Options{})
		if err != nil || len(diffs) > 0 {
			t.Fatalf("copy: %v %v", diffs, err)
		}
		if left := treecheck.TempFiles(dst, TempPrefix); len(left) > 0 {
			t.Fatalf("temporary files left: %v", left)
		}
	}
}
