package walk

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/spf13/afero"
)

// A directory of more entries than are listed whole (sortedNames, made
// small here) is read a batch at a time as the walk goes, never held
// whole: every entry comes once, in the filesystem's order, and the
// subdirectories in it are entered.
func TestHugeDirectoryIsReadAsTheWalkGoes(t *testing.T) {
	defer func(n int) { sortedNames = n }(sortedNames)
	sortedNames = 100
	root := t.TempDir()
	const files = 10_000
	for i := range files {
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%05d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(root, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(root, "sub", "inner"), nil, 0o644))
	info, err := os.Stat(root)
	must(err)
	seen := map[string]int{}
	var order []string
	for chunk := range Start(afero.NewOsFs(), Spec{Root: root, RootInfo: info, MaxFds: 8, OS: true}, make(chan struct{})) {
		for _, e := range chunk {
			if e.Err != nil {
				t.Errorf("%s: %v", e.Rel, e.Err)
			}
			if e.Kind == Other || e.Kind == Dir {
				seen[e.Rel]++
				order = append(order, e.Rel)
			}
		}
	}
	if len(seen) != files+3 { // the files, sub, sub/inner and the root
		t.Errorf("%d entries seen, want %d", len(seen), files+3)
	}
	for rel, n := range seen {
		if n != 1 {
			t.Errorf("%s seen %d times", rel, n)
		}
	}
	// Read as the filesystem gives the names, not sorted: the batches
	// were read as the walk went, not the directory whole.
	if sort.StringsAreSorted(order) {
		t.Skip("this filesystem lists names sorted: no telling batches from a whole listing")
	}
}
