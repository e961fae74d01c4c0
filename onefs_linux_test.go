package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// -x does not cross into another filesystem (a tmpfs) or a bind mount (a
// directory of the same filesystem mounted again) below SRC: their mount
// points are made, empty; a dry run does not list what is in them; a
// re-run changes nothing. Without -x both are copied.
func TestOneFileSystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	dir := t.TempDir()
	pcopy := pcopyIn(t, dir)
	src, other := filepath.Join(dir, "src"), filepath.Join(dir, "other")
	for _, d := range []string{"src/sub", "src/tmp", "src/bind", "other"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	must(t, os.WriteFile(filepath.Join(src, "a"), []byte("a"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "sub/b"), []byte("b"), 0o644))
	must(t, os.WriteFile(filepath.Join(other, "d"), []byte("d"), 0o644))
	if err := unix.Mount("tmpfs", filepath.Join(src, "tmp"), "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(filepath.Join(src, "tmp"), unix.MNT_DETACH) })
	must(t, os.WriteFile(filepath.Join(src, "tmp/c"), []byte("c"), 0o644))
	must(t, unix.Mount(other, filepath.Join(src, "bind"), "", unix.MS_BIND, ""))
	t.Cleanup(func() { unix.Unmount(filepath.Join(src, "bind"), unix.MNT_DETACH) })

	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(pcopy, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("pcopy %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	dst := filepath.Join(dir, "dst")
	if out := run("-x", "-n", src, dst); strings.Contains(out, "tmp/c") || strings.Contains(out, "bind/d") || !strings.Contains(out, "would copy sub/b") {
		t.Errorf("the dry run with -x lists:\n%s", out)
	}
	run("-x", "-q", src, dst)
	for _, p := range []string{"a", "sub/b"} {
		if _, err := os.Stat(filepath.Join(dst, p)); err != nil {
			t.Errorf("%s not copied: %v", p, err)
		}
	}
	for _, p := range []string{"tmp", "bind"} {
		names, err := os.ReadDir(filepath.Join(dst, p))
		if err != nil || len(names) != 0 {
			t.Errorf("the mount point %s: %v, %d entries; want it made, empty", p, err, len(names))
		}
	}
	if out := run("-x", "-n", src, dst); strings.Contains(out, "would copy") {
		t.Errorf("a re-run with -x would copy:\n%s", out)
	}
	all := filepath.Join(dir, "all")
	run("-q", src, all)
	for _, p := range []string{"tmp/c", "bind/d"} {
		if _, err := os.Stat(filepath.Join(all, p)); err != nil {
			t.Errorf("without -x, %s not copied: %v", p, err)
		}
	}
}
