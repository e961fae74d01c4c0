//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/treecheck"
)

// A real system tree is copied with pcopy and with cp -a, and each copy is
// compared with the source entry by entry: type, mode, owner, size and
// content, mtime, symlink target, xattrs and ACLs, device numbers and
// hard-link groups (treecheck). pcopy must reproduce it exactly, as cp -a
// does. Root only: parts of /etc are root's alone.
func TestFidelityOnSystemTrees(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the system trees are fully readable by root only")
	}
	cp, err := exec.LookPath("cp")
	if err != nil {
		t.Skip("no cp to compare with")
	}
	for _, tree := range []string{"/etc", "/usr/share/doc", "everything"} {
		t.Run(tree, func(t *testing.T) {
			synthetic := tree == "everything"
			if synthetic {
				tree = everythingTree(t)
			}
			if _, err := os.Stat(tree); err != nil {
				t.Skip(err)
			}
			out := t.TempDir()
			byPcopy, byCp := filepath.Join(out, "pcopy"), filepath.Join(out, "cp")
			if code, stderr := runPcopy(t, "-q", tree, byPcopy); code != exitOK {
				t.Fatalf("pcopy exit %d:\n%s", code, stderr)
			}
			diffs, err := treecheck.Compare(tree, byPcopy, treecheck.Options{})
			must(t, err)
			if len(diffs) > 0 {
				t.Errorf("pcopy's copy differs from %s in %d ways:\n%s", tree, len(diffs), strings.Join(diffs[:min(len(diffs), 20)], "\n"))
			}

			// cp -a's copy, compared the same way: on the system trees it
			// must be exact too (else the comparison is at fault); on the
			// synthetic one it fails past PATH_MAX, which is only logged.
			cpOut, cpErr := exec.Command(cp, "-a", tree, byCp).CombinedOutput()
			diffs, err = treecheck.Compare(tree, byCp, treecheck.Options{})
			must(t, err)
			if cpErr != nil || len(diffs) > 0 {
				report := t.Errorf
				if synthetic {
					report = t.Logf
				}
				report("cp -a: %v, %d differences:\n%s\n%s", cpErr, len(diffs), firstLine(string(cpOut)),
					strings.Join(diffs[:min(len(diffs), 5)], "\n"))
			}
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line[:min(len(line), 200)]
}

// everythingTree makes a tree with each kind of entry and metadata cp -a
// keeps: hard links across directories, owners, set-ID bits, user,
// trusted and security (file capability) xattrs, access and default ACLs, a sparse file, FIFO, socket and
// device nodes, dangling and looping symlinks with their own times, odd
// names, and a path longer than PATH_MAX.
func everythingTree(t *testing.T) string {
	src := filepath.Join(t.TempDir(), "everything")
	must(t, os.MkdirAll(filepath.Join(src, "d", "sub"), 0o755))
	put := func(rel, data string, mode os.FileMode) string {
		p := filepath.Join(src, rel)
		must(t, os.WriteFile(p, []byte(data), mode))
		return p
	}
	f := put("f", "hello", 0o640)
	must(t, os.Chown(f, 1234, 5678))
	xattr := func(p, name string, value []byte) {
		if err := unix.Lsetxattr(p, name, value, 0); err != nil {
			t.Skipf("%s on %s: %v", name, p, err)
		}
	}
	xattr(f, "user.color", []byte("blue"))
	xattr(f, "trusted.note", []byte("root's"))
	// cap_net_raw+ep (VFS_CAP_REVISION_2): a chown made after it would
	// drop it.
	xattr(f, "security.capability", []byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	// u::rwx u:65534:rwx g::r-x m::rwx o::r-x
	acl := []byte{2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255, 2, 0, 7, 0, 254, 255, 0, 0,
		4, 0, 5, 0, 255, 255, 255, 255, 16, 0, 7, 0, 255, 255, 255, 255, 32, 0, 5, 0, 255, 255, 255, 255}
	xattr(filepath.Join(src, "d", "sub"), "system.posix_acl_access", acl)
	xattr(filepath.Join(src, "d"), "system.posix_acl_default", acl)
	h := put("h1", "linked", 0o644)
	must(t, os.Link(h, filepath.Join(src, "d", "h2")))
	must(t, os.Link(h, filepath.Join(src, "d", "sub", "h3")))
	must(t, os.Chown(filepath.Join(src, "d"), 65534, 65534))
	suid := put("suid", "#!/bin/sh\n", 0o755)
	must(t, os.Chown(suid, 0, 4321))
	must(t, os.Chmod(suid, 0o755|os.ModeSetuid|os.ModeSetgid))
	sparse := put("sparse", "", 0o644)
	must(t, os.Truncate(sparse, 10<<20))
	fh, err := os.OpenFile(sparse, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	fh.WriteString("end")
	fh.Close()
	must(t, unix.Mkfifo(filepath.Join(src, "fifo"), 0o600))
	must(t, unix.Mknod(filepath.Join(src, "sock"), unix.S_IFSOCK|0o755, 0))
	must(t, unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(t, unix.Mknod(filepath.Join(src, "loop"), unix.S_IFBLK|0o660, int(unix.Mkdev(7, 200))))
	for link, target := range map[string]string{"link": "f", "dangling": "nowhere", "loop1": "loop2", "loop2": "loop1"} {
		must(t, os.Symlink(target, filepath.Join(src, link)))
	}
	must(t, os.Lchown(filepath.Join(src, "link"), 4321, 8765))
	put("new\nline", "a", 0o644)
	put("bad\xff\xfeutf8", "b", 0o644)
	put(strings.Repeat("n", 255), "c", 0o644)
	dir, err := unix.Open(src, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, err)
	for i := range 18 {
		name := fmt.Sprintf("%02d", i) + strings.Repeat("x", 248)
		must(t, unix.Mkdirat(dir, name, 0o755))
		next, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		must(t, err)
		unix.Close(dir)
		dir = next
	}
	fd, err := unix.Openat(dir, "deepest", unix.O_WRONLY|unix.O_CREAT, 0o600)
	must(t, err)
	unix.Write(fd, []byte("past PATH_MAX"))
	unix.Close(fd)
	unix.Close(dir)
	// Times last: a symlink's own, then the directories', bottom up.
	ts := []unix.Timespec{unix.NsecToTimespec(981173106123456789), unix.NsecToTimespec(981173106123456789)}
	must(t, unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, "link"), ts, unix.AT_SYMLINK_NOFOLLOW))
	for _, d := range []string{"d/sub", "d", "."} {
		must(t, os.Chtimes(filepath.Join(src, d), time.Unix(1041379200, 5), time.Unix(1041379200, 5)))
	}
	return src
}
