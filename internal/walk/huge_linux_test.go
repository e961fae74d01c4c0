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

// Names gives a huge directory's names a batch at a time (a read of the
// directory returns 32 KiB of them): all of them, once each; stopping
// early closes the directory.
func TestNamesOfAHugeDirectory(t *testing.T) {
	defer SetHugeDir(50)()
	root := t.TempDir()
	for i := range 5000 {
		if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%04d", i)), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := openFds(t)
	names, more, err := Names(afero.NewOsFs(), root, true, false)
	if err != nil || more == nil || len(names) >= 5000 {
		t.Fatalf("Names: %d names, more %v, %v; want a first batch and more", len(names), more != nil, err)
	}
	seen := map[string]int{}
	for _, n := range names {
		seen[n]++
	}
	if err := more(func(n string) bool { seen[n]++; return true }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 5000 {
		t.Errorf("%d names, want 5000", len(seen))
	}
	for n, k := range seen {
		if k != 1 {
			t.Errorf("%s seen %d times", n, k)
		}
	}
	_, more, _ = Names(afero.NewOsFs(), root, true, false)
	calls := 0
	more(func(string) bool { calls++; return false })
	if calls != 1 {
		t.Errorf("fn called %d times after it said stop", calls)
	}
	if n := openFds(t); n != base {
		t.Errorf("%d descriptors open after, %d before", n, base)
	}
	small, more, err := Names(afero.NewOsFs(), t.TempDir(), true, false)
	if err != nil || more != nil || len(small) != 0 {
		t.Errorf("an empty directory: %v, more %v, %v", small, more != nil, err)
	}
	if FoldsCase(root, false) {
		t.Errorf("FoldsCase of a test directory (%s) says yes", root)
	}
}
