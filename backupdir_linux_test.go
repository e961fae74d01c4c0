package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// --backup-dir on another filesystem than DST is refused before anything
// is written: a backup is a rename, never a copy of the data.
func TestBackupDirElsewhereIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	pcopy := pcopyIn(t, dir)
	src, dst, other := filepath.Join(dir, "src"), filepath.Join(dir, "dst"), filepath.Join(dir, "other")
	for _, d := range []string{src, dst, other} {
		must(t, os.Mkdir(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(src, "a"), []byte("new"), 0o644))
	must(t, os.WriteFile(filepath.Join(dst, "a"), []byte("old"), 0o644))
	if err := unix.Mount("tmpfs", other, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(other, unix.MNT_DETACH) })
	out, err := exec.Command(pcopy, "--backup-dir", filepath.Join(other, "bak"), src, dst).CombinedOutput()
	if exitCode(err) != exitUsage || !strings.Contains(string(out), "is on another filesystem than DST") {
		t.Errorf("exit %d:\n%s", exitCode(err), out)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "a")); string(b) != "old" {
		t.Errorf("DST's file was replaced: %q", b)
	}
	if _, err := os.Stat(filepath.Join(other, "bak")); err == nil {
		t.Error("the backup directory was made")
	}
}

// A replacement that fails after DST's file was moved to the backup
// directory puts it back: a failed copy replaces nothing. (Run as nobody,
// who cannot read the new source.)
func TestBackupDirFailedCopyRestores(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run pcopy as nobody")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	dir, pcopy := pcopyForNobody(t)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	must(t, os.Mkdir(src, 0o755))
	must(t, os.Mkdir(dst, 0o777))
	must(t, os.Chmod(dst, 0o777))
	must(t, os.Mkdir(filepath.Join(dir, "bak"), 0o777))
	must(t, os.Chmod(filepath.Join(dir, "bak"), 0o777))
	must(t, os.WriteFile(filepath.Join(src, "a"), []byte("secret new"), 0o600)) // root's alone
	must(t, os.WriteFile(filepath.Join(dst, "a"), []byte("old"), 0o666))
	old := time.Now().Add(-time.Hour)
	must(t, os.Chtimes(filepath.Join(dst, "a"), old, old))
	must(t, os.Chtimes(filepath.Join(dir, "bak"), old, old))
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", pcopy, "--no-owner", "--backup-dir", "../bak", src, dst)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if exitCode(err) != exitFailed || !strings.Contains(stderr.String(), "a: ") {
		t.Fatalf("exit %d, want %d:\n%s", exitCode(err), exitFailed, stderr.String())
	}
	if b, err := os.ReadFile(filepath.Join(dst, "a")); err != nil || string(b) != "old" {
		t.Errorf("DST's file after a failed replacement: %q, %v; want it back", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "bak", "a")); err == nil {
		t.Error("the file is still in the backup directory")
	}
	// It was there (moved in, then out: the directory's mtime says so),
	// not merely never moved.
	if info, err := os.Stat(filepath.Join(dir, "bak")); err != nil || !info.ModTime().After(old.Add(time.Minute)) {
		t.Errorf("the file was never moved to the backup directory (%v)", err)
	}
}
