package copier_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/treecheck"
)

// Holes in a sparse file stay holes: the copy has the same bytes but
// allocates only the data regions.
func TestSparseFileKeepsHoles(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "sparse")
	f, err := os.Create(src)
	must(t, err)
	data := bytes.Repeat([]byte("data"), 1<<18) // 1 MiB
	for _, off := range []int64{0, 64 << 20, 200 << 20} {
		_, err := f.WriteAt(data, off)
		must(t, err)
	}
	must(t, f.Truncate(300<<20)) // and a hole at the end
	must(t, f.Close())
	if allocated(t, src) > 8<<20 {
		t.Skip("this filesystem does not make sparse files")
	}

	dst := filepath.Join(dir, "copy")
	if _, err := osCopy(src, dst); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(src)
	b, _ := os.ReadFile(dst)
	if !bytes.Equal(a, b) {
		t.Fatalf("content differs (%d bytes, want %d)", len(b), len(a))
	}
	if got := allocated(t, dst); got > 8<<20 {
		t.Errorf("copy allocates %d bytes for 3 MiB of data in 300 MiB: holes were filled", got)
	}
}

func allocated(t *testing.T, name string) int64 {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Stat(name, &st))
	return st.Blocks * 512
}

// mountImage makes a filesystem image of size bytes with the mkfs command
// given (the image's path is appended), mounts it with the mount options
// opts, and returns the mount point; it is unmounted when the test ends.
// The test is skipped where that cannot be done.
func mountImage(t *testing.T, size int64, opts string, mkfs ...string) string {
	t.Helper()
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
	must(t, os.Mkdir(mnt, 0o755))
	f, err := os.Create(img)
	must(t, err)
	must(t, f.Truncate(size))
	must(t, f.Close())
	if out, err := exec.Command(mkfs[0], append(mkfs[1:], img)...).CombinedOutput(); err != nil {
		t.Skipf("%s: %v: %s", mkfs[0], err, out)
	}
	if out, err := exec.Command("mount", "-o", opts, img, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount an image with -o %s here: %v: %s", opts, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	return mnt
}

// On a filesystem with reflinks (XFS here), a copy shares the source's
// extents: it takes no new space. (pcopy asks with FICLONE; recent kernels
// would also remap within copy_file_range, older ones copy the bytes.)
// Needs root, xfsprogs and loop devices; skipped without them.
func TestReflinkOnXFS(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a filesystem image needs root")
	}
	if _, err := exec.LookPath("mkfs.xfs"); err != nil {
		t.Skip("no mkfs.xfs (Debian package xfsprogs)")
	}
	mnt := mountImage(t, 512<<20, "loop", "mkfs.xfs", "-q", "-m", "reflink=1")

	src := filepath.Join(mnt, "src")
	data := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "big"), data, 0o644))
	unix.Sync()
	before := freeBytes(t, mnt)
	if _, err := osCopy(src, filepath.Join(mnt, "dst")); err != nil {
		t.Fatal(err)
	}
	unix.Sync()
	got, err := os.ReadFile(filepath.Join(mnt, "dst", "big"))
	must(t, err)
	if !bytes.Equal(got, data) {
		t.Fatal("reflinked copy differs from the source")
	}
	if used := before - freeBytes(t, mnt); used > 8<<20 {
		t.Errorf("copying 64 MiB used %d bytes of the filesystem: not a reflink", used)
	}
}

// skipIfFull skips the test when err says the disk holding the test's
// files is full (a machine short of space), and fails it on another error.
func skipIfFull(t *testing.T, err error) {
	t.Helper()
	if errors.Is(err, unix.ENOSPC) || err != nil && strings.Contains(err.Error(), "no space left on device") {
		t.Skipf("the disk is full: %v", err)
	}
	must(t, err)
}

func freeBytes(t *testing.T, path string) int64 {
	t.Helper()
	var s unix.Statfs_t
	must(t, unix.Statfs(path, &s))
	return int64(s.Bfree) * s.Bsize
}

// A large file is copied in parts by several workers at once, into one
// temporary file finished once: the copy is exact and nothing is left.
func TestLargeFileCopiedInParts(t *testing.T) {
	copier.SetMinPart(t.Cleanup, 1<<20)
	exe, err := os.Executable()
	must(t, err)
	split := func(src, dst string, spawn copier.Spawner, workers int) (copier.Summary, error) {
		return copier.Copy(context.Background(), copier.Options{Src: src, Dst: dst, Fs: afero.NewOsFs(),
			Workers: workers, Spawn: spawn, SplitSize: 1 << 20})
	}
	var mu sync.Mutex
	partsBy := map[int]int{}
	copier.SetSentHook(t.Cleanup, func(s copier.Sent) {
		mu.Lock()
		partsBy[s.Worker] += s.Parts
		mu.Unlock()
	})
	src := filepath.Join(t.TempDir(), "src")
	big := make([]byte, 7<<20+12345) // not a multiple of the part size
	for i := range big {
		big[i] = byte(i * 7 / 3)
	}
	must(t, os.MkdirAll(filepath.Join(src, "sub"), 0o755))
	skipIfFull(t, os.WriteFile(filepath.Join(src, "sub", "big"), big, 0o640))
	must(t, os.WriteFile(filepath.Join(src, "small"), []byte("small"), 0o644))
	must(t, os.Chtimes(filepath.Join(src, "sub", "big"), t0, t0))
	must(t, os.Chtimes(filepath.Join(src, "sub"), t0, t0))

	copies := map[string]func(src, dst string) (copier.Summary, error){
		"in-process workers": func(src, dst string) (copier.Summary, error) { return split(src, dst, nil, 2) },
		"worker processes": func(src, dst string) (copier.Summary, error) {
			return split(src, dst, copier.Exec(exe, "pcopy-test"), 3)
		},
	}
	for name, copy := range copies {
		clear(partsBy)
		dst := filepath.Join(t.TempDir(), "dst")
		sum, err := copy(src, dst)
		if err != nil {
			for _, e := range sum.Errors {
				skipIfFull(t, e.Err)
			}
			t.Fatalf("%s: %v", name, err)
		}
		assertSameTree(t, src, dst)
		if sum.Files != 2 || sum.Bytes != int64(len(big))+5 {
			t.Errorf("%s: summary %d files %d bytes, want 2 and %d", name, sum.Files, sum.Bytes, len(big)+5)
		}
		mu.Lock()
		if len(partsBy) < 2 {
			t.Errorf("%s: parts went to workers %v, want several", name, partsBy)
		}
		mu.Unlock()
	}

	// A single large file, as SRC itself.
	dst := filepath.Join(t.TempDir(), "one")
	if _, err := split(filepath.Join(src, "sub", "big"), dst, copier.Exec(exe, "pcopy-test"), 2); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, big) {
		t.Error("single large file: content differs")
	}
	if left := treecheck.TempFiles(filepath.Dir(dst), copier.TempPrefix); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// With -L, a large file reached through a symlink, split: finishing
	// it compares the file followed, not the link.
	viaLink := filepath.Join(t.TempDir(), "links")
	must(t, os.MkdirAll(viaLink, 0o755))
	must(t, os.Symlink(filepath.Join(src, "sub", "big"), filepath.Join(viaLink, "big")))
	dst = filepath.Join(t.TempDir(), "deref")
	if _, err := copier.Copy(context.Background(), copier.Options{Src: viaLink, Dst: dst, Fs: afero.NewOsFs(),
		Workers: 2, Spawn: copier.Exec(exe, "pcopy-test"), SplitSize: 1 << 20, Dereference: true}); err != nil {
		t.Fatalf("-L, split: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "big")); !bytes.Equal(got, big) {
		t.Error("-L, split: content differs")
	}
}

// Where DST has a default ACL, it (not the umask) shapes the mode of what
// is created in it, and gives it ACLs; pcopy must still give each entry
// the source's mode, and no ACL the source does not have.
func TestModesUnderDefaultACL(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	writeFile(t, filepath.Join(src, "f644"), "a", 0o644, t0)
	writeFile(t, filepath.Join(src, "sub", "x755"), "b", 0o755, t0)
	must(t, os.Chmod(filepath.Join(src, "sub"), 0o755))
	must(t, os.Mkdir(dst, 0o755))
	// u::rwx u:nobody:rwx g::--- m::rwx o::--- as a default ACL.
	acl := aclXattr(aclEntry{tag: aclUserObj, perm: 7}, aclEntry{tag: aclUser, perm: 7, id: 65534},
		aclEntry{tag: aclGroupObj}, aclEntry{tag: aclMask, perm: 7}, aclEntry{tag: aclOther})
	if err := unix.Setxattr(dst, "system.posix_acl_default", acl, 0); err != nil {
		t.Skipf("cannot set a default ACL here: %v", err)
	}
	for _, workers := range []int{1, 2} {
		out := filepath.Join(dst, fmt.Sprint("run", workers))
		if _, err := copier.Copy(context.Background(), copier.Options{Src: src, Dst: out, Fs: afero.NewOsFs(), Workers: workers}); err != nil {
			t.Fatal(err)
		}
		for rel, want := range map[string]os.FileMode{"f644": 0o644, "sub": 0o755 | os.ModeDir, "sub/x755": 0o755} {
			info, err := os.Lstat(filepath.Join(out, rel))
			if err != nil || info.Mode() != want {
				t.Errorf("%s: mode %v (%v), want %v", rel, info.Mode(), err, want)
			}
		}
		diffs, err := treecheck.Compare(src, out, treecheck.Options{})
		must(t, err)
		for _, d := range diffs {
			t.Error(d) // an inherited ACL shows as an xattr
		}
	}
}

// A destination that fills up (a 1 MiB tmpfs): what does not fit is
// counted, with the filesystem's mount point, the room it needs (a
// hard-linked file's once) and the room left, not listed as errors;
// nothing half-written or temporary is left, what DST held before is
// intact, the files that fit are copied, and the copy ends rather than
// hangs.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	mnt := filepath.Join(t.TempDir(), "small")
	must(t, os.Mkdir(mnt, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })

	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "a-small"), []byte("fits"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "b-big"), bytes.Repeat([]byte("x"), 3<<20), 0o644))
	must(t, os.Link(filepath.Join(src, "b-big"), filepath.Join(src, "c-link")))
	must(t, os.WriteFile(filepath.Join(src, "keep"), bytes.Repeat([]byte("n"), 2<<20), 0o644))
	dst := filepath.Join(mnt, "dst")
	must(t, os.Mkdir(dst, 0o755))
	must(t, os.WriteFile(filepath.Join(dst, "keep"), []byte("old and precious"), 0o644))

	sum, err := processCopy(t, src, dst, 2)
	if !errors.Is(err, copier.ErrIncomplete) {
		t.Fatalf("err = %v, want some entries failed", err)
	}
	for _, e := range sum.Errors {
		t.Errorf("error listed: %v", e)
	}
	var st unix.Statfs_t
	must(t, unix.Statfs(mnt, &st))
	free := int64(st.Bavail) * st.Bsize
	if len(sum.Full) != 1 {
		t.Fatalf("Full = %v, want one filesystem", sum.Full)
	}
	if f := *sum.Full[0]; f.Mount != mnt || f.Quota || f.Files != 3 || f.Bytes != 5<<20 || f.AtLeast || f.Free != free {
		t.Errorf("Full = %+v, want %s full, 3 files of 5 MiB not copied, %d bytes free", f, mnt, free)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "keep")); string(got) != "old and precious" {
		t.Errorf("keep = %d bytes, want the old content intact", len(got))
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "a-small")); string(got) != "fits" {
		t.Errorf("a-small = %q: what fits is not copied", got)
	}
	for _, name := range []string{"b-big", "c-link"} {
		if _, err := os.Lstat(filepath.Join(dst, name)); err == nil {
			t.Errorf("%s reached its name half-written", name)
		}
	}
	if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// --fsync flushes every copied file before it gets its name (and each
// directory once its entries are in); the copy is the same.
func TestFsyncFlushesEveryFile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for i := range 12 {
		writeFile(t, filepath.Join(src, fmt.Sprintf("d%d/f%d", i%3, i)), fmt.Sprint("data ", i), 0o644, t0)
	}
	for _, fsync := range []bool{false, true} {
		n := copier.CountFsyncs(t.Cleanup)
		dst := filepath.Join(t.TempDir(), "dst")
		fsys := afero.NewOsFs()
		if _, err := copier.Copy(context.Background(), copier.Options{Src: src, Dst: dst, Fs: fsys, Workers: 2,
			Spawn: copier.InProcess(fsys), Fsync: fsync}); err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		if fsync {
			want = 12
		}
		if n.Load() != want {
			t.Errorf("fsync %v: %d files flushed, want %d", fsync, n.Load(), want)
		}
		assertSameTree(t, src, dst)
	}
}
