package copier_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/walk"
)

// A tree whose paths are longer than the kernel takes (PATH_MAX, 4096
// bytes): 24 directories of 250-byte names, with files, an empty file, a
// symlink, hard links and a FIFO at every depth, is copied exactly, and
// updated in place when copied again. The test builds it relative to open
// directories, as no path to its depths can be given.
func TestProcessCopyPathsLongerThanPathMax(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	must(t, unix.Mkdir(src, 0o755))
	dir, err := unix.Open(src, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, err)
	const depth = 24
	for i := range depth {
		name := fmt.Sprintf("%02d", i) + strings.Repeat("x", 248)
		must(t, unix.Mkdirat(dir, name, 0o750))
		next, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		must(t, err)
		unix.Close(dir)
		dir = next
		f, err := unix.Openat(dir, "file", unix.O_WRONLY|unix.O_CREAT, 0o640)
		must(t, err)
		unix.Write(f, []byte(fmt.Sprint("at depth ", i)))
		unix.Close(f)
		f, err = unix.Openat(dir, "empty", unix.O_WRONLY|unix.O_CREAT, 0o600)
		must(t, err)
		unix.Close(f)
		must(t, unix.Symlinkat("file", dir, "link"))
		must(t, unix.Linkat(dir, "file", dir, "hardlink", 0))
		must(t, unix.Mkfifoat(dir, "fifo", 0o644))
		if os.Geteuid() == 0 {
			must(t, unix.Fchownat(dir, "file", 1234, 5678, 0))
			must(t, unix.Fchownat(dir, ".", 4321, 8765, 0))
		}
		if i == depth-1 {
			// Large enough to be split (below), at the deepest level.
			f, err := unix.Openat(dir, "big", unix.O_WRONLY|unix.O_CREAT, 0o644)
			must(t, err)
			unix.Write(f, bytes.Repeat([]byte("big"), 1<<20))
			unix.Close(f)
		}
	}
	unix.Close(dir)
	if n := len(src) + depth*251; n <= 4096 {
		t.Fatalf("deepest path %d bytes, want more than PATH_MAX", n)
	}
	fixDirTimes(t, src)

	dst := filepath.Join(t.TempDir(), "dst")
	sum, err := processCopy(t, src, dst, 2)
	if err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	assertSameTree(t, src, dst)
	if sum.Files != 2*depth+1 || sum.Hardlinks != depth || sum.Symlinks != depth || sum.Specials != depth {
		t.Errorf("%d files, %d hard links, %d symlinks, %d special files; want %d, %d, %d, %d",
			sum.Files, sum.Hardlinks, sum.Symlinks, sum.Specials, 2*depth+1, depth, depth, depth)
	}
	sum, err = processCopy(t, src, dst, 2)
	if err != nil {
		t.Fatalf("re-run: %v (%v)", err, sum.Errors)
	}
	if sum.Files != 0 || sum.Symlinks != 0 || sum.Unchanged != 4*depth+1 { // files, links and symlinks
		t.Errorf("re-run: %d files and %d symlinks copied, %d unchanged; want 0, 0, %d", sum.Files, sum.Symlinks, sum.Unchanged, 4*depth+1)
	}
	assertSameTree(t, src, dst)

	// Split into parts, the deepest file too.
	copier.SetMinPart(t.Cleanup, 1<<20)
	dst = filepath.Join(t.TempDir(), "split")
	if sum, err := processCopyOpts(t, copier.Options{Src: src, Dst: dst, Workers: 2, SplitSize: 1 << 20}); err != nil {
		t.Fatalf("split: %v (%v)", err, sum.Errors)
	}
	assertSameTree(t, src, dst)
}

// deepChain makes SRC: a chain of n directories, with a file every 7
// levels and a symlink every 13.
func deepChain(t *testing.T, n int) string {
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.Mkdir(src, 0o755))
	p := src
	for i := range n {
		p += "/d"
		must(t, os.Mkdir(p, 0o750))
		if i%7 == 0 {
			must(t, os.WriteFile(p+"/f", []byte(fmt.Sprint("at depth ", i)), 0o640))
		}
		if i%13 == 0 {
			must(t, os.Symlink("../f", p+"/l"))
		}
	}
	fixDirTimes(t, src)
	return src
}

// TestProcessCopyDeepChainIsLinear: a chain of directories is copied, and
// copied again, exactly, resolving what a linear copy resolves: the
// coordinator and the walk (in this process; package beneath counts the
// components each of their operations resolves) do twice as much for a
// chain twice as deep, not four times as much as resolving each path from
// the root would.
func TestProcessCopyDeepChainIsLinear(t *testing.T) {
	beneath.CountWalked(true)
	t.Cleanup(func() { beneath.CountWalked(false) })
	walked := func(n int64) int64 {
		src := deepChain(t, int(n))
		dst := filepath.Join(t.TempDir(), "dst")
		before := beneath.SpineWalked.Load()
		sum, err := processCopy(t, src, dst, 2)
		if err != nil {
			t.Fatalf("copy of %d levels: %v (%v)", n, err, sum.Errors)
		}
		if want := (n + 6) / 7; sum.Files != want || sum.Dirs != n+1 {
			t.Errorf("%d levels: %d files, %d directories; want %d, %d", n, sum.Files, sum.Dirs, want, n+1)
		}
		assertSameTree(t, src, dst)
		sum, err = processCopy(t, src, dst, 2)
		if err != nil || sum.Files != 0 || sum.Unchanged != (n+6)/7+(n+12)/13 {
			t.Errorf("re-run of %d levels: %v, %d files copied, %d unchanged", n, err, sum.Files, sum.Unchanged)
		}
		assertSameTree(t, src, dst)
		return beneath.SpineWalked.Load() - before
	}
	const n int64 = 300
	one, two := walked(n), walked(2*n)
	t.Logf("components resolved by the coordinator and the walk: %d for %d levels, %d for %d", one, n, two, 2*n)
	if float64(two) > 2.5*float64(one) {
		t.Errorf("twice as deep resolved %.2f times as many components; want about 2 (linear)", float64(two)/float64(one))
	}
}

// TestDeleteHugeAndDeep: --delete reads a directory too large to hold
// whole (made small here) a batch at a time, on either side, and deletes
// exactly what SRC lacks there; and it works down a deep chain, where what
// SRC lacks is 150 levels down.
func TestDeleteHugeAndDeep(t *testing.T) {
	defer walk.SetHugeDir(40)()
	src := deepChain(t, 150)
	dst := filepath.Join(t.TempDir(), "dst")
	for i := range 300 {
		writeFile(t, filepath.Join(src, "huge", fmt.Sprintf("s%03d", i)), "in SRC", 0o644, t0)
	}
	sum, err := processCopy(t, src, dst, 2)
	if err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	// What DST has and SRC lacks: many names in the huge directory, a
	// directory there, and a file and a directory at the bottom of the
	// chain; and SRC's side of the huge directory shrinks below the limit
	// in a second run.
	bottom := dst + strings.Repeat("/d", 150)
	var extras []string
	for i := range 200 {
		extras = append(extras, filepath.Join(dst, "huge", fmt.Sprintf("x%03d", i)))
	}
	extras = append(extras, filepath.Join(dst, "huge", "xdir", "f"), bottom+"/gone", bottom+"/gonedir/f")
	for _, p := range extras {
		writeFile(t, p, "extra", 0o644, t0)
	}
	sum, err = processCopyOpts(t, copier.Options{Src: src, Dst: dst, Workers: 2, Delete: true})
	if err != nil {
		t.Fatalf("--delete: %v (%v)", err, sum.Errors)
	}
	if sum.Deleted != 203 { // 200 files, xdir, gone, gonedir
		t.Errorf("%d deleted, want 203", sum.Deleted)
	}
	assertSameTree(t, src, dst)
	for i := range 270 {
		must(t, os.Remove(filepath.Join(src, "huge", fmt.Sprintf("s%03d", i))))
	}
	fixDirTimes(t, src)
	sum, err = processCopyOpts(t, copier.Options{Src: src, Dst: dst, Workers: 2, Delete: true})
	if err != nil || sum.Deleted != 270 {
		t.Errorf("--delete after SRC shrank: %v, %d deleted, want 270", err, sum.Deleted)
	}
	assertSameTree(t, src, dst)
}

// TestRaceSwapDeepChain: a chain 100 deep is copied by worker processes
// while, just before the coordinator makes the directory 90 deep, a
// directory of DST is swapped for a symlink to a directory outside: 80
// deep, below the directory 64 deep that the coordinator keeps open, or
// 30 deep, above it (the kept one, renamed aside with it, goes on being
// used). Either way nothing outside changes and nothing from outside
// reaches DST; the swap below the kept directory is reported.
func TestRaceSwapDeepChain(t *testing.T) {
	for _, at := range []int{80, 30} {
		t.Run(fmt.Sprint("swapped ", at, " deep"), func(t *testing.T) {
			base := t.TempDir()
			src, dst, outside := filepath.Join(base, "src"), filepath.Join(base, "dst"), filepath.Join(base, "outside")
			secret := fmt.Sprintf("SECRET-%d", at)
			writeFile(t, filepath.Join(outside, "d", "f"), secret, 0o644, t0)
			p := src
			must(t, os.Mkdir(src, 0o755))
			for i := 1; i <= 100; i++ {
				p += "/d"
				must(t, os.Mkdir(p, 0o755))
				if i >= 60 {
					writeFile(t, p+"/f", fmt.Sprint("at depth ", i), 0o644, t0)
				}
			}
			fixDirTimes(t, src)
			outBefore, srcBefore := snapshotTree(t, outside), snapshotTree(t, src)
			victim, trigger := dst+strings.Repeat("/d", at), dst+strings.Repeat("/d", 90)
			swapped := false
			old := beneath.TestHook
			beneath.TestHook = func(op beneath.Op, path string) {
				if op == beneath.OpMkdir && path == trigger && !swapped {
					swapped = true
					must(t, os.Rename(victim, victim+".aside"))
					must(t, os.Symlink(outside, victim))
				}
			}
			t.Cleanup(func() { beneath.TestHook = old })
			sum, err := processCopy(t, src, dst, 2)
			beneath.TestHook = old
			if !swapped {
				t.Fatal("the swap never happened")
			}
			t.Logf("copy: %v", err)
			if len(sum.Errors) > 0 {
				t.Logf("first error: %v", sum.Errors[0])
			}
			assertUnchanged(t, "OUTSIDE", outBefore, snapshotTree(t, outside))
			assertUnchanged(t, "SRC", srcBefore, snapshotTree(t, src))
			assertNothingFrom(t, dst, secret)
			if at > 64 && (!errors.Is(err, copier.ErrIncomplete) || len(sum.Errors) == 0) {
				t.Errorf("copy: %v with %d errors; want the swap reported", err, len(sum.Errors))
			}
		})
	}
}
