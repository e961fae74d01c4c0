package fsutil

import (
	"path/filepath"
	"runtime"
	"testing"
)

// Per-file paths are joined and split without cleaning; for the clean
// roots and relative paths pcopy makes, that must agree with filepath.
func TestJoinAndSplitPaths(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the cases are Unix paths")
	}
	for _, c := range []struct{ root, rel string }{
		{"/", "a"}, {"/", "a/b"}, {"/src", "a"}, {"/src", "a/b/c"}, {"/src/x y", "é/new\nline"},
		{"/src", "-dash"}, {"/a/b/c", "d"},
	} {
		p := Join(c.root, c.rel)
		if want := filepath.Join(c.root, c.rel); p != want {
			t.Errorf("Join(%q, %q) = %q, want %q", c.root, c.rel, p, want)
		}
		dir, base := Split(p)
		if dir != filepath.Dir(p) || base != filepath.Base(p) {
			t.Errorf("Split(%q) = %q, %q, want %q, %q", p, dir, base, filepath.Dir(p), filepath.Base(p))
		}
	}
	if p := Join("/src", ""); p != "/src" {
		t.Errorf(`Join("/src", "") = %q`, p)
	}
}
