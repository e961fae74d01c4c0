package copier_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/copier"
)

// osCopy copies on the real filesystem with in-process workers.
func osCopy(src, dst string) (copier.Summary, error) {
	return copier.Copy(context.Background(), copier.Options{Src: src, Dst: dst, Fs: afero.NewOsFs(), Workers: 2})
}

func symlinkTree(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a", "f"), "A", 0o644, t0)
	writeFile(t, filepath.Join(dir, "a", "sub", "g"), "G", 0o644, t0)
	writeFile(t, filepath.Join(dir, "b", "f"), "B", 0o644, t0)
	must(t, os.Mkdir(filepath.Join(dir, "m"), 0o755))
	must(t, os.Symlink("../a/sub", filepath.Join(dir, "m", "link")))
	return dir
}

// A DST that is a symlink into SRC is inside SRC: refused, and nothing is
// written into the source.
func TestRefuseDestinationLinkedIntoSource(t *testing.T) {
	dir := symlinkTree(t)
	must(t, os.Symlink("a/sub", filepath.Join(dir, "into")))
	for _, dst := range []string{"into", "into/deeper/new"} {
		_, err := osCopy(filepath.Join(dir, "a"), filepath.Join(dir, dst))
		var re *copier.RefusedError
		if !errors.As(err, &re) {
			t.Fatalf("copy a to %s: err = %v, want a refusal", dst, err)
		}
		if names, _ := os.ReadDir(filepath.Join(dir, "a", "sub")); len(names) != 1 {
			t.Errorf("refused copy to %s wrote into the source: %d entries in a/sub", dst, len(names))
		}
	}
}

// "link/.." means the parent of link's target, as the kernel sees it, not
// the directory holding link.
func TestDotDotAfterSymlinkFollowsTheKernel(t *testing.T) {
	dir := symlinkTree(t)
	dst := filepath.Join(dir, "out")
	// Not filepath.Join: it would clean the ".." away.
	if _, err := osCopy(dir+"/m/link/..", dst); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "f")); err != nil || string(b) != "A" {
		t.Errorf("out/f = %q, %v; want a's f", b, err)
	}
	if _, err := os.Stat(filepath.Join(dst, "sub", "g")); err != nil {
		t.Errorf("out/sub/g: %v", err)
	}
}

// A file copied onto a symlink replaces the link; the link's target, which
// may be anywhere, is not written.
func TestFileReplacesSymlinkNotItsTarget(t *testing.T) {
	dir := symlinkTree(t)
	writeFile(t, filepath.Join(dir, "outside.txt"), "untouched", 0o644, t0)
	must(t, os.Symlink("outside.txt", filepath.Join(dir, "lnk")))
	if _, err := osCopy(filepath.Join(dir, "b", "f"), filepath.Join(dir, "lnk")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "outside.txt")); string(b) != "untouched" {
		t.Errorf("the link's target was overwritten: %q", b)
	}
	if info, err := os.Lstat(filepath.Join(dir, "lnk")); err != nil || !info.Mode().IsRegular() {
		t.Errorf("lnk is %v, %v; want the copied regular file", info, err)
	}
}
