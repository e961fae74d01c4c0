package walk

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/beneath"
)

// reference lists dir as the walk does, recursively by path.
func reference(t *testing.T, root, rel string, out *[]string) {
	t.Helper()
	*out = append(*out, "dir:"+rel)
	ents, err := os.ReadDir(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	sort.Strings(names)
	for _, n := range names {
		r := n
		if rel != "" {
			r = rel + "/" + n
		}
		if fi, _ := os.Lstat(filepath.Join(root, r)); fi.IsDir() {
			reference(t, root, r, out)
		} else {
			*out = append(*out, "other:"+r)
		}
	}
	*out = append(*out, "end:"+rel)
}

func openFds(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestWalkKeepsInnermostDirsOpen: past MaxFds directories deep, the walk
// closes the outermost one it holds, not opening deeper ones by path: it
// never holds more than MaxFds, and what it lists is what is there, the
// entries of directories whose descriptor it closed (listed and entered
// by path on its way back up) included.
func TestWalkKeepsInnermostDirsOpen(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "a")
	for i := range 12 {
		p = filepath.Join(p, "d")
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, fmt.Sprint("f", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// After the chain, in directories whose descriptors were closed on
	// the way down: a file, and a directory with a file and another.
	for _, f := range []string{"a/z", "a/zz/y", "a/zz/w/v", "a/d/d/e/u"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	reference(t, root, "", &want)
	defer beneath.Hold(root, false)()
	info, err := os.Stat(root)
	if err != nil {
		t.Fatal(err)
	}
	const maxFds = 3
	base := openFds(t)
	most, entered := 0, 0
	pushed = func() { most, entered = max(most, openFds(t)-base), entered+1 }
	t.Cleanup(func() { pushed = nil })
	var got []string
	for chunk := range Start(afero.NewOsFs(), Spec{Root: root, RootInfo: info, MaxFds: maxFds, OS: true}, make(chan struct{})) {
		for _, e := range chunk {
			if e.Err != nil {
				t.Errorf("%s: %v", e.Rel, e.Err)
			}
			got = append(got, fmt.Sprintf("%s:%s", []string{"other", "dir", "end", "excluded", "refused"}[e.Kind], e.Rel))
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("walk:\n got %s\nwant %s", strings.Join(got, " "), strings.Join(want, " "))
	}
	if entered < 16 {
		t.Fatalf("the walk entered %d directories; the hook was not called", entered)
	}
	if most > maxFds {
		t.Errorf("%d descriptors open during the walk; want at most %d", most, maxFds)
	}
}
