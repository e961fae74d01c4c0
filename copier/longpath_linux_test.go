package copier_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/copier"
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
