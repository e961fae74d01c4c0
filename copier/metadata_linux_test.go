package copier_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/copier"
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
	must(t, os.Chmod(filepath.Join(src, "sgid"), 0o2775|os.ModeSetgid))
	must(t, os.Chown(filepath.Join(src, "sgid"), 0, 9999))
	for _, p := range []string{"d", "sgid", ""} {
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
	// group of sgid/mine, which it takes from its directory.
	if len(diffs) != 5 || !strings.Contains(strings.Join(diffs, "\n"), `"sgid/mine": owner 0:9999, want 0:0`) {
		t.Errorf("NoOwner: %d owners differ, want 5 with sgid/mine's group from its directory:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
}

// fixtureEnv names a source tree that root made for the unprivileged run
// of a test (see rerunAsNobody).
const fixtureEnv = "PCOPY_TEST_FIXTURE"

// A user who is not root keeps what can be kept, silently, as cp -a does:
// contents, modes, times and extended attributes, and owns the copies of
// files that root owns; no warning, no error.
func TestProcessUnprivilegedKeepsWhatItCan(t *testing.T) {
	if os.Geteuid() == 0 {
		dir, err := os.MkdirTemp("", "pcopy-fixture-")
		must(t, err)
		t.Cleanup(func() { os.RemoveAll(dir) })
		must(t, os.Chmod(dir, 0o755))
		src := filepath.Join(dir, "src")
		writeFile(t, filepath.Join(src, "roots"), "root's file", 0o644, t0)
		setxattr(t, filepath.Join(src, "roots"), "user.k", []byte("v"))
		writeFile(t, filepath.Join(src, "sub", "empty"), "", 0o644, t0)
		must(t, os.Chown(filepath.Join(src, "sub", "empty"), 1234, 5678))
		must(t, os.Chtimes(filepath.Join(src, "sub"), t0, t0))
		t.Setenv(fixtureEnv, src)
		rerunAsNobody(t)
		return
	}
	src := os.Getenv(fixtureEnv)
	if src == "" {
		t.Skip("needs a source tree with files of other owners, made by root")
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
