package beneath

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// chain makes a chain of n directories named d below root, through
// descriptors, and returns the path of each (the i-th is i+1 deep).
func chain(t *testing.T, root string, n int) []string {
	t.Helper()
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, n)
	p := root
	for i := range n {
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
		p += "/d"
		paths[i] = p
	}
	unix.Close(fd)
	return paths
}

// eachResolution runs f with openat2, and component by component.
func eachResolution(t *testing.T, f func(t *testing.T)) {
	for _, byComponent := range []bool{false, true} {
		name := "openat2"
		if byComponent {
			name = "by-component"
		}
		t.Run(name, func(t *testing.T) {
			DisableOpenat2(byComponent)
			t.Cleanup(func() { DisableOpenat2(false) })
			f(t)
		})
	}
}

// walkedCopying counts the components resolved while doing, at each level
// of a chain n deep, what a copy does there: going down, make a directory
// in it, stat it, open it (the walk, mkdir); coming up, set its times (a
// directory finished).
func walkedCopying(t *testing.T, n int) int64 {
	root := t.TempDir()
	paths := chain(t, root, n)
	release := Hold(root, false)
	defer release()
	CountWalked(true)
	defer CountWalked(false)
	before := SpineWalked.Load()
	for _, p := range paths {
		if err := Mkdir(p+"/x", 0o755); err != nil {
			t.Fatalf("Mkdir at depth %d: %v", len(p)/2, err)
		}
		var st unix.Stat_t
		if err := Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		fd, err := OpenDir(p)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if err := Lutimes(paths[i], 1e9, 2e9); err != nil {
			t.Fatal(err)
		}
	}
	return SpineWalked.Load() - before
}

// TestDeepChainResolvesLinearly: in a chain of directories, what each
// operation resolves does not grow with the depth (at most spineEvery
// components from the directory kept above it), so twice as deep a chain
// costs twice as much, not four times: resolving every path from the
// root (as before) would walk n²/2 components for each kind of operation.
func TestDeepChainResolvesLinearly(t *testing.T) {
	eachResolution(t, func(t *testing.T) {
		const n = 600
		one, two := walkedCopying(t, n), walkedCopying(t, 2*n)
		ops := int64(4 * 2 * n)
		t.Logf("components resolved: %d for %d levels, %d for %d (%.2f per operation)", one, n, two, 2*n, float64(two)/float64(ops))
		if two > ops*spineEvery {
			t.Errorf("%d components resolved for %d operations: more than %d each", two, ops, spineEvery)
		}
		if float64(two) > 2.5*float64(one) {
			t.Errorf("twice as deep resolved %.2f times as many components; want about 2 (linear)", float64(two)/float64(one))
		}
	})
}

// TestSpineForgetsRenamedAndRemoved: a directory kept open is forgotten
// when it, or a directory above it, is renamed or removed through this
// package: the path then reaches what is at it now, or nothing.
func TestSpineForgetsRenamedAndRemoved(t *testing.T) {
	for _, how := range []string{"rename", "removeall"} {
		t.Run(how, func(t *testing.T) {
			root := t.TempDir()
			paths := chain(t, root, 150)
			defer Hold(root, false)()
			var st unix.Stat_t
			if err := Lstat(paths[149], &st); err != nil { // keeps depths 64 and 128
				t.Fatal(err)
			}
			switch how {
			case "rename":
				err := Rename(paths[99], filepath.Dir(paths[99])+"/moved")
				if err != nil {
					t.Fatal(err)
				}
			case "removeall":
				if err := RemoveAll(paths[99], nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := Lstat(paths[149], &st); !errors.Is(err, unix.ENOENT) {
				t.Fatalf("Lstat of a path no longer there: %v, want ENOENT (reached through a directory kept open)", err)
			}
			if err := os.MkdirAll(paths[149], 0o755); err != nil {
				t.Fatal(err)
			}
			var want unix.Stat_t
			if err := unix.Lstat(paths[149], &want); err != nil {
				t.Fatal(err)
			}
			if err := Lstat(paths[149], &st); err != nil || st.Ino != want.Ino {
				t.Errorf("Lstat of the new chain: inode %d, %v; want %d", st.Ino, err, want.Ino)
			}
		})
	}
}

// TestSpineSwap: a directory swapped for a symlink to outside, below the
// deepest directory kept open, is refused as anywhere; one swapped above
// it was renamed aside, within the root, and what is reached through the
// one kept is in that directory, where it now is: nothing outside the
// root is reached either way.
func TestSpineSwap(t *testing.T) {
	eachResolution(t, func(t *testing.T) {
		base := t.TempDir()
		root, out := filepath.Join(base, "root"), filepath.Join(base, "outside")
		for _, d := range []string{root, out} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		paths := chain(t, root, 100)
		defer Hold(root, false)()
		if err := Mkdir(paths[99]+"/first", 0o755); err != nil { // keeps depth 64
			t.Fatal(err)
		}
		swap := func(i int, aside string) {
			if err := os.Rename(paths[i], filepath.Join(root, aside)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(out, paths[i]); err != nil {
				t.Fatal(err)
			}
		}
		swap(79, "below") // depth 80, below the one kept at 64
		if err := Mkdir(paths[99]+"/second", 0o755); !errors.Is(err, ErrSymlink) {
			t.Errorf("Mkdir through a symlink below a kept directory: %v, want ErrSymlink", err)
		}
		// Undone, then swapped above the kept directory.
		if err := os.Remove(paths[79]); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(root, "below"), paths[79]); err != nil {
			t.Fatal(err)
		}
		swap(9, "above")
		var st unix.Stat_t
		if err := Lstat(paths[20], &st); !errors.Is(err, ErrSymlink) {
			t.Errorf("Lstat through the symlink above the kept directory: %v, want ErrSymlink", err)
		}
		if err := Mkdir(paths[99]+"/third", 0o755); err != nil {
			t.Errorf("Mkdir below the kept directory: %v", err)
		}
		if names, _ := os.ReadDir(out); len(names) != 0 {
			t.Errorf("outside now holds %d entries", len(names))
		}
		aside := filepath.Join(root, "above") + paths[99][len(paths[9]):] + "/third"
		if _, err := os.Lstat(aside); err != nil {
			t.Errorf("the directory made is not in the kept one, renamed aside within the root: %v", err)
		}
	})
}

// TestSpineConcurrentEviction: goroutines resolving paths in several deep
// chains at once, with room to keep only two directories, each reach the
// entry asked for (a descriptor evicted while in use stays open until its
// user is done; run with -race).
func TestSpineConcurrentEviction(t *testing.T) {
	old := spineMax
	spineMax = 2
	t.Cleanup(func() { spineMax = old })
	root := t.TempDir()
	var chains [][]string
	for i := range 4 {
		top := filepath.Join(root, string(rune('a'+i)))
		if err := os.Mkdir(top, 0o755); err != nil {
			t.Fatal(err)
		}
		chains = append(chains, chain(t, top, 200))
	}
	defer Hold(root, false)()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 300 {
				p := chains[(g+k)%4][(g*37+k*11)%200]
				var want, got unix.Stat_t
				if err := unix.Lstat(p, &want); err != nil {
					t.Error(err)
					return
				}
				if err := Lstat(p, &got); err != nil || got.Ino != want.Ino {
					t.Errorf("Lstat(%d deep): inode %d, %v; want %d", len(p)/2, got.Ino, err, want.Ino)
					return
				}
			}
		}()
	}
	wg.Wait()
	spines.Lock()
	defer spines.Unlock()
	if len(spines.m) > 2 {
		t.Errorf("%d directories kept, want at most 2", len(spines.m))
	}
}

// TestSpineRenamedWhileOpened: a directory renamed (and another made at
// its name) between the moment it is opened to be kept and the moment it
// would be kept is not kept: the next operation reaches the new one.
func TestSpineRenamedWhileOpened(t *testing.T) {
	root := t.TempDir()
	paths := chain(t, root, 100)
	defer Hold(root, false)()
	k := paths[spineEvery-1] // kept: spineEvery deep
	spineOpened = func() {
		spineOpened = nil
		if err := Rename(k, filepath.Dir(k)+"/old"); err != nil {
			t.Error(err)
		}
		if err := Mkdir(k, 0o755); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { spineOpened = nil })
	var st unix.Stat_t
	Lstat(paths[80], &st) // opens k, renamed meanwhile
	if err := Mkdir(k+"/new", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(k + "/new"); err != nil {
		t.Errorf("not made in the directory now at the name: %v", err)
	}
	if _, err := os.Lstat(filepath.Dir(k) + "/old/new"); err == nil {
		t.Errorf("made in the directory renamed away, kept though renamed while it was opened")
	}
}
