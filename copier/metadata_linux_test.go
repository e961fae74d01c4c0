package copier_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/longpath"
	"github.com/pcopy/pcopy/internal/treecheck"
)

// ACL entry tags, as the kernel stores them in system.posix_acl_* xattrs.
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclMask     = 0x10
	aclOther    = 0x20
)

type aclEntry struct {
	tag, perm uint16
	id        uint32
}

// aclXattr encodes an ACL the way setfacl(1) stores it.
func aclXattr(entries ...aclEntry) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2) // version
	for _, e := range entries {
		id := e.id
		if e.tag != aclUser {
			id = ^uint32(0)
		}
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	return b
}

// rwx r-x for user 65534, like setfacl -m u:nobody:rwx with a mask.
var nobodyACL = aclXattr(aclEntry{tag: aclUserObj, perm: 7}, aclEntry{tag: aclUser, perm: 7, id: 65534},
	aclEntry{tag: aclGroupObj, perm: 5}, aclEntry{tag: aclMask, perm: 7}, aclEntry{tag: aclOther, perm: 5})

func setxattr(t *testing.T, path, name string, value []byte) {
	t.Helper()
	if err := unix.Lsetxattr(path, name, value, 0); err != nil {
		if err == unix.ENOTSUP {
			t.Skipf("%s: this filesystem does not store %s: %v", path, name, err)
		}
		t.Fatal(err)
	}
}

// As root, a copy keeps every owner and group (numeric), extended
// attributes and ACLs on files, empty files, directories and symlinks,
// set-ID bits that a chown would clear, and the group of files made in a
// set-group-ID directory of DST. With NoOwner, copies belong to root.
func TestProcessKeepsOwnersXattrsACLs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving files away needs root")
	}
	t0 := time.Date(2020, 5, 6, 7, 8, 9, 123456789, time.UTC)
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "f"), "data", 0o4755, t0)
	must(t, os.Chown(filepath.Join(src, "f"), 1234, 5678))
	must(t, os.Chmod(filepath.Join(src, "f"), 0o4755|os.ModeSetuid)) // after the chown that clears it
	setxattr(t, filepath.Join(src, "f"), "user.color", []byte("blue"))
	setxattr(t, filepath.Join(src, "f"), "system.posix_acl_access", nobodyACL)
	writeFile(t, filepath.Join(src, "empty"), "", 0o640, t0)
	must(t, os.Chown(filepath.Join(src, "empty"), 4321, 8765))
	setxattr(t, filepath.Join(src, "empty"), "user.empty", []byte("yes\x00binary\xff"))
	setxattr(t, filepath.Join(src, "empty"), "trusted.root-only", []byte("t"))
	writeFile(t, filepath.Join(src, "d", "inner"), "inner", 0o600, t0)
	must(t, os.Chown(filepath.Join(src, "d"), 1111, 2222))
	setxattr(t, filepath.Join(src, "d"), "user.dir", []byte("yes"))
	setxattr(t, filepath.Join(src, "d"), "system.posix_acl_default", nobodyACL)
	must(t, os.Symlink("f", filepath.Join(src, "link")))
	must(t, os.Lchown(filepath.Join(src, "link"), 3333, 4444))
	// A set-group-ID directory already in DST gives what is made in it its
	// group; the copy must still get the source's.
	writeFile(t, filepath.Join(src, "sgid", "mine"), "root's", 0o644, t0)
	writeFile(t, filepath.Join(src, "sgid", "subdir", "deeper"), "root's too", 0o644, t0) // subdir inherits the group in DST
	must(t, os.Chmod(filepath.Join(src, "sgid"), 0o2775|os.ModeSetgid))
	must(t, os.Chown(filepath.Join(src, "sgid"), 0, 9999))
	for _, p := range []string{"d", "sgid/subdir", "sgid", ""} {
		must(t, os.Chtimes(filepath.Join(src, p), t0, t0))
	}

	dstWithSgid := func() string {
		dst := filepath.Join(t.TempDir(), "dst")
		must(t, os.MkdirAll(filepath.Join(dst, "sgid"), 0o755))
		must(t, os.Chown(filepath.Join(dst, "sgid"), 0, 9999))
		must(t, os.Chmod(filepath.Join(dst, "sgid"), 0o775|os.ModeSetgid))
		return dst
	}
	dst := dstWithSgid()
	sum, err := processCopy(t, src, dst, 2)
	if err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	if len(sum.Warnings) > 0 {
		t.Errorf("warnings: %q", sum.Warnings)
	}
	assertSameTree(t, src, dst)

	dst2 := dstWithSgid()
	if _, err := processCopyOpts(t, copier.Options{Src: src, Dst: dst2, Workers: 2, NoOwner: true}); err != nil {
		t.Fatal(err)
	}
	diffs, err := treecheck.Compare(src, dst2, treecheck.Options{})
	must(t, err)
	for _, d := range diffs {
		if !strings.Contains(d, ": owner ") {
			t.Errorf("NoOwner: %s", d)
		}
	}
	// Only the owners differ: those of f, empty, d and link, and the
	// group of what is made in sgid, which it takes from its directory.
	if len(diffs) != 7 || !strings.Contains(strings.Join(diffs, "\n"), `"sgid/subdir/deeper": owner 0:9999, want 0:0`) {
		t.Errorf("NoOwner: %d owners differ, want 7 with sgid's group below sgid:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}

	// A re-run copies anew a file whose source got another owner (chown
	// changes no mtime), rather than chown the file at its name, which
	// may be anyone's; a symlink is made again anyway.
	must(t, os.Lchown(filepath.Join(src, "link"), 5555, 6666))
	must(t, os.Chown(filepath.Join(src, "f"), 7777, 8888))
	must(t, os.Chmod(filepath.Join(src, "f"), 0o4755|os.ModeSetuid))
	// A file capability, which the chown of the copy would drop.
	setxattr(t, filepath.Join(src, "f"), "security.capability", []byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	sum, err = processCopy(t, src, dst, 2)
	if err != nil || sum.Files != 1 {
		t.Fatalf("re-run: %v, %d files copied, want 1 (f) (%v)", err, sum.Files, sum.Errors)
	}
	assertSameTree(t, src, dst)
}

// fixtureEnv names a source tree that root made for the unprivileged run
// of a test (see rerunAsNobody).
const fixtureEnv = "PCOPY_TEST_FIXTURE"

// sourceForNobody, as root, makes a source tree with build and runs the
// calling test again as nobody on it (rerunAsNobody), and returns false;
// in that run, it returns the tree and true.
func sourceForNobody(t *testing.T, build func(src string)) (string, bool) {
	t.Helper()
	if os.Geteuid() == 0 {
		dir, err := os.MkdirTemp("", "pcopy-fixture-")
		must(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		must(t, os.Chmod(dir, 0o755))
		src := filepath.Join(dir, "src")
		must(t, os.Mkdir(src, 0o755))
		build(src)
		t.Setenv(fixtureEnv, src)
		rerunAsNobody(t)
		return "", false
	}
	src := os.Getenv(fixtureEnv)
	if src == "" {
		t.Skip("needs a source tree made by root")
	}
	return src, true
}

// A user who is not root keeps what can be kept, silently, as cp -a does:
// contents, modes, times and extended attributes, and owns the copies of
// files that root owns; no warning, no error.
func TestProcessUnprivilegedKeepsWhatItCan(t *testing.T) {
	src, ok := sourceForNobody(t, func(src string) {
		writeFile(t, filepath.Join(src, "roots"), "root's file", 0o644, t0)
		setxattr(t, filepath.Join(src, "roots"), "user.k", []byte("v"))
		writeFile(t, filepath.Join(src, "sub", "empty"), "", 0o644, t0)
		must(t, os.Chown(filepath.Join(src, "sub", "empty"), 1234, 5678))
		must(t, os.Chtimes(filepath.Join(src, "sub"), t0, t0))
	})
	if !ok {
		return
	}
	dst := filepath.Join(t.TempDir(), "dst")
	sum, err := processCopy(t, src, dst, 2)
	if err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	if len(sum.Warnings) > 0 {
		t.Errorf("warnings: %q", sum.Warnings)
	}
	diffs, err := treecheck.Compare(src, dst, treecheck.Options{})
	must(t, err)
	me := fmt.Sprintf(": owner %d:%d, want ", os.Geteuid(), os.Getegid())
	for _, d := range diffs {
		if !strings.Contains(d, me) {
			t.Error(d)
		}
	}
}

// Files that share an inode in SRC share one in DST, also when their
// names are far apart and copied by different workers; each is copied
// once. A re-run links nothing again, and a separate file at a link's
// name in DST is replaced by the link.
func TestProcessKeepsHardLinks(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	const groups = 60
	for i := range groups {
		first := filepath.Join(src, fmt.Sprintf("a%d/f%02d", i%3, i))
		writeFile(t, first, fmt.Sprint("shared ", i), 0o640, t0)
		for j, dir := range []string{"b", fmt.Sprintf("c/%d", i%5)} {
			must(t, os.MkdirAll(filepath.Join(src, dir), 0o755))
			must(t, os.Link(first, filepath.Join(src, dir, fmt.Sprintf("l%02d-%d", i, j))))
		}
		writeFile(t, filepath.Join(src, fmt.Sprintf("a%d/single%02d", i%3, i)), "alone", 0o644, t0)
	}
	fixDirTimes(t, src)
	dst := filepath.Join(t.TempDir(), "dst")
	sum, err := processCopy(t, src, dst, 2)
	if err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	if sum.Files != 2*groups || sum.Hardlinks != 2*groups || sum.Bytes != int64(groups*len("alone"))+sharedBytes(groups) {
		t.Errorf("copied %d files (%d bytes) and %d links; want %d files, each copied once, and %d links",
			sum.Files, sum.Bytes, sum.Hardlinks, 2*groups, 2*groups)
	}
	assertSameTree(t, src, dst)

	// DST gets a file of its own at one link's name.
	stray := filepath.Join(dst, "b", "l07-0")
	must(t, os.Remove(stray))
	must(t, os.WriteFile(stray, []byte("not linked"), 0o644))
	sum, err = processCopy(t, src, dst, 2)
	if err != nil {
		t.Fatalf("re-run: %v (%v)", err, sum.Errors)
	}
	if sum.Files != 0 || sum.Hardlinks != 1 || sum.Unchanged != 4*groups-1 {
		t.Errorf("re-run: %d files, %d links, %d unchanged; want 0, 1 (the stray file replaced), %d",
			sum.Files, sum.Hardlinks, sum.Unchanged, 4*groups-1)
	}
	assertSameTree(t, src, dst)
}

func sharedBytes(groups int) int64 {
	var n int64
	for i := range groups {
		n += int64(len(fmt.Sprint("shared ", i)))
	}
	return n
}

// fixDirTimes sets every directory's times below root (root too) to t0,
// as building a tree left them at now. Paths may be of any length.
func fixDirTimes(t *testing.T, root string) {
	t.Helper()
	p, done := longpath.Short(root)
	entries, err := os.ReadDir(p)
	done()
	must(t, err)
	for _, e := range entries {
		if e.IsDir() {
			fixDirTimes(t, filepath.Join(root, e.Name()))
		}
	}
	p, done = longpath.Short(root)
	defer done()
	must(t, os.Chtimes(p, t0, t0))
}

// When the copy of a file's first name fails, its next name is copied in
// its place and the others link to that: one failure, not three.
func TestProcessHardLinkFirstCopyFails(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "a", "first"), "shared", 0o644, t0)
	must(t, os.MkdirAll(filepath.Join(src, "b"), 0o755))
	must(t, os.Link(filepath.Join(src, "a", "first"), filepath.Join(src, "b", "second")))
	must(t, os.Link(filepath.Join(src, "a", "first"), filepath.Join(src, "b", "third")))
	t.Setenv(poisonEnv, "a/first") // kills every worker that copies it
	dst := filepath.Join(t.TempDir(), "dst")
	sum, err := processCopy(t, src, dst, 2)
	if !errors.Is(err, copier.ErrIncomplete) || len(sum.Errors) != 1 || sum.Errors[0].Path != "a/first" {
		t.Fatalf("err = %v, errors %v; want a/first failed", err, sum.Errors)
	}
	var second, third unix.Stat_t
	must(t, unix.Stat(filepath.Join(dst, "b", "second"), &second))
	must(t, unix.Stat(filepath.Join(dst, "b", "third"), &third))
	if second.Ino != third.Ino || second.Nlink != 2 {
		t.Errorf("b/second and b/third: inodes %d, %d with %d links; want one inode, 2 links", second.Ino, third.Ino, second.Nlink)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "b", "third")); string(got) != "shared" {
		t.Errorf("b/third = %q", got)
	}
}

// FIFOs, sockets and device nodes are made again, never opened (a FIFO
// opened for reading would wait for a writer forever); without root,
// device nodes are skipped with a warning and the rest is made.
func TestProcessSpecialFiles(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src, 0o755))
	must(t, unix.Mkfifo(filepath.Join(src, "fifo"), 0o640))
	must(t, unix.Mknod(filepath.Join(src, "sock"), unix.S_IFSOCK|0o755, 0))
	root := os.Geteuid() == 0
	if root {
		must(t, unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must(t, unix.Mknod(filepath.Join(src, "loop"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 200))))
	}
	for _, name := range []string{"fifo", "sock", "null", "loop"} {
		ts := []unix.Timespec{unix.NsecToTimespec(t0.UnixNano()), unix.NsecToTimespec(t0.UnixNano())}
		unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, name), ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	fixDirTimes(t, src)
	dst := filepath.Join(t.TempDir(), "dst")
	sum, err := processCopy(t, src, dst, 2)
	if err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	assertSameTree(t, src, dst)
	if want := map[bool]int64{true: 4, false: 2}[root]; sum.Specials != want {
		t.Errorf("%d special files made, want %d", sum.Specials, want)
	}
}

// As nobody, the device nodes root made in SRC are skipped, each with a
// warning, and the FIFO is still made.
func TestProcessDeviceNodesNeedRoot(t *testing.T) {
	src, ok := sourceForNobody(t, func(src string) {
		must(t, unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must(t, unix.Mkfifo(filepath.Join(src, "fifo"), 0o644))
	})
	if !ok {
		return
	}
	dst := filepath.Join(t.TempDir(), "dst")
	sum, err := processCopy(t, src, dst, 2)
	if err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	if len(sum.Warnings) != 1 || sum.Warnings[0] != "null: skipped: character device (making device nodes needs root)" {
		t.Errorf("warnings %q, want null skipped", sum.Warnings)
	}
	if fi, err := os.Lstat(filepath.Join(dst, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo not made: %v", err)
	}
	if sum.Specials != 1 {
		t.Errorf("%d special files made, want 1", sum.Specials)
	}
}

// Access times are kept to the nanosecond on files, empty files,
// directories and symlinks. (They are set ahead of now, so that reading
// the source for the copy does not change them, under relatime.)
func TestProcessKeepsAtimes(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "d", "f"), "data", 0o644, t0)
	writeFile(t, filepath.Join(src, "d", "empty"), "", 0o644, t0)
	must(t, os.Symlink("f", filepath.Join(src, "d", "link")))
	recent := time.Now().Add(time.Hour).Truncate(time.Second).Add(123456789)
	for i, rel := range []string{"d/f", "d/empty", "d/link", "d", "."} {
		at := unix.NsecToTimespec(recent.Add(time.Duration(i)).UnixNano())
		mt := unix.NsecToTimespec(t0.UnixNano())
		must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, rel), []unix.Timespec{at, mt}, unix.AT_SYMLINK_NOFOLLOW))
	}
	var before, after unix.Stat_t
	must(t, unix.Stat(filepath.Join(src, "d", "f"), &before))
	if _, err := os.ReadFile(filepath.Join(src, "d", "f")); err != nil {
		t.Fatal(err)
	}
	must(t, unix.Stat(filepath.Join(src, "d", "f"), &after))
	if before.Atim != after.Atim {
		t.Skip("this filesystem changes access times on every read (strictatime)")
	}
	dst := filepath.Join(t.TempDir(), "dst")
	if sum, err := processCopy(t, src, dst, 2); err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	diffs, err := treecheck.Compare(src, dst, treecheck.Options{Atime: true})
	must(t, err)
	for _, d := range diffs {
		t.Error(d)
	}
}

// Copying between filesystems (a tmpfs to the test's disk): no reflink,
// no copy_file_range between them on older kernels, and still the same
// tree, metadata included.
func TestProcessCopyAcrossFilesystems(t *testing.T) {
	shm, err := os.MkdirTemp("/dev/shm", "pcopy-test-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	var a, b unix.Stat_t
	must(t, unix.Stat(shm, &a))
	must(t, unix.Stat(t.TempDir(), &b))
	if a.Dev == b.Dev {
		t.Skip("/dev/shm and the test's temporary directory are one filesystem")
	}
	src := filepath.Join(shm, "src")
	writeFile(t, filepath.Join(src, "f"), strings.Repeat("data", 100000), 0o640, t0)
	writeFile(t, filepath.Join(src, "sub", "g"), "g", 0o600, t0)
	if err := unix.Setxattr(filepath.Join(src, "f"), "user.k", []byte("v"), 0); err != nil {
		t.Logf("no user xattrs on /dev/shm (%v): copied without", err)
	}
	must(t, os.Link(filepath.Join(src, "f"), filepath.Join(src, "sub", "f-link")))
	must(t, os.Symlink("../f", filepath.Join(src, "sub", "link")))
	fixDirTimes(t, src)
	dst := filepath.Join(t.TempDir(), "dst")
	if sum, err := processCopy(t, src, dst, 2); err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	assertSameTree(t, src, dst)
	back := filepath.Join(shm, "back")
	if sum, err := processCopy(t, dst, back, 2); err != nil {
		t.Fatalf("copy back: %v (%v)", err, sum.Errors)
	}
	assertSameTree(t, src, back)
}

// On a filesystem mounted grpid (BSD groups), what is made in a directory
// takes its group, set-group-ID or not: copies must still get their
// source's group. Needs root and a loop device.
func TestProcessOwnersOnGrpidMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	mnt := mountImage(t, 32<<20, "loop,grpid", "mkfs.ext4", "-q", "-F")
	must(t, os.Chown(mnt, 0, 100)) // another group, not set-group-ID

	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "f"), "data", 0o644, t0)
	writeFile(t, filepath.Join(src, "empty"), "", 0o644, t0)
	writeFile(t, filepath.Join(src, "sub", "g"), "g", 0o600, t0)
	must(t, os.Symlink("f", filepath.Join(src, "link")))
	must(t, unix.Mkfifo(filepath.Join(src, "fifo"), 0o644))
	fixDirTimes(t, src)
	dst := filepath.Join(mnt, "copy")
	if sum, err := processCopy(t, src, dst, 2); err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	assertSameTree(t, src, dst)
}

// A re-run updates the extended attributes of a file whose content, size
// and time are unchanged, as rsync -X does: a value changed, one added,
// one only the copy has removed. A dry run changes none.
func TestRerunUpdatesXattrs(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	writeFile(t, filepath.Join(src, "f"), "data", 0o644, t0)
	f, g := filepath.Join(src, "f"), filepath.Join(dst, "f")
	if err := unix.Setxattr(f, "user.k", []byte("v1"), 0); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	if sum, err := processCopy(t, src, dst, 2); err != nil {
		t.Fatalf("copy: %v (%v)", err, sum.Errors)
	}
	must(t, unix.Setxattr(f, "user.k", []byte("v2"), 0))
	must(t, unix.Setxattr(f, "user.new", []byte("n"), 0))
	must(t, unix.Setxattr(g, "user.stale", []byte("s"), 0))
	if sum, err := processCopyOpts(t, copier.Options{Src: src, Dst: dst, Workers: 2, DryRun: true}); err != nil || sum.Unchanged != 1 {
		t.Fatalf("dry run: %v, %d unchanged", err, sum.Unchanged)
	}
	if v := getXattr(g, "user.k"); v != "v1" {
		t.Errorf("a dry run changed user.k to %q", v)
	}
	sum, err := processCopy(t, src, dst, 2)
	if err != nil || sum.Files != 0 || sum.Unchanged != 1 {
		t.Fatalf("re-run: %v, %d copied, %d unchanged; want the file left and its attributes updated", err, sum.Files, sum.Unchanged)
	}
	for name, want := range map[string]string{"user.k": "v2", "user.new": "n", "user.stale": ""} {
		if got := getXattr(g, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	assertSameTree(t, src, dst)
}

func getXattr(path, name string) string {
	buf := make([]byte, 256)
	n, err := unix.Getxattr(path, name, buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}
