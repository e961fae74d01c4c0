//go:build unix

package copier_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcopy/pcopy/copier"
)

// --delete never touches anything outside DST (README: "a symlink in DST
// is removed, not followed"): a symlink in DST that SRC lacks goes as a
// link, and what it points to, outside DST, stays as it was; a file
// outside DST named like an entry deleted from DST stays too.

// mirrorBase makes, in a fresh temporary directory: SRC; DST, an earlier
// copy of it with extra entries, among them symlinks to a directory and a
// file outside DST; and, outside DST, that directory and a file beside
// DST named like one of DST's extras.
func mirrorBase(t *testing.T) (base, src, dst string) {
	t.Helper()
	base = t.TempDir()
	src, dst = filepath.Join(base, "src"), filepath.Join(base, "dst")
	outside := filepath.Join(base, "outside")

	writeFile(t, filepath.Join(src, "keep"), "new", 0o644, t0)
	writeFile(t, filepath.Join(src, "dir", "keep2"), "kept", 0o644, t0)

	writeFile(t, filepath.Join(dst, "keep"), "old", 0o644, t0.Add(-time.Hour))
	writeFile(t, filepath.Join(dst, "dir", "keep2"), "kept", 0o644, t0)
	writeFile(t, filepath.Join(dst, "extra"), "extra in DST", 0o644, t0)
	writeFile(t, filepath.Join(dst, "extradir", "a"), "a", 0o644, t0)
	writeFile(t, filepath.Join(dst, "extradir", "sub", "b"), "b", 0o644, t0)
	writeFile(t, filepath.Join(dst, "dir", "extra"), "extra in DST/dir", 0o644, t0)
	must(t, os.Symlink("../outside", filepath.Join(dst, "link")))                               // relative, to a directory
	must(t, os.Symlink(outside, filepath.Join(dst, "dir", "abslink")))                          // absolute, to a directory
	must(t, os.Symlink(filepath.Join(outside, "extra"), filepath.Join(dst, "dir", "filelink"))) // to a file

	writeFile(t, filepath.Join(outside, "extra"), "outside, named like an extra", 0o644, t0)
	writeFile(t, filepath.Join(outside, "extradir", "a"), "outside a", 0o644, t0)
	writeFile(t, filepath.Join(outside, "dir", "extra"), "outside dir/extra", 0o644, t0)
	writeFile(t, filepath.Join(outside, "keep"), "outside keep", 0o644, t0)
	writeFile(t, filepath.Join(base, "extra"), "beside DST, named like an extra", 0o644, t0)

	for _, d := range []string{filepath.Join(src, "dir"), src} {
		must(t, os.Chtimes(d, t0.Add(time.Minute), t0.Add(time.Minute)))
	}
	for _, d := range []string{filepath.Join(outside, "extradir"), filepath.Join(outside, "dir"), outside} {
		must(t, os.Chtimes(d, t0, t0))
	}
	return base, src, dst
}

// snapshot describes every entry below root, and root, without following
// symlinks: type, mode, mtime and content or target.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.Walk(root, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		desc := fmt.Sprintf("%v %d", info.Mode(), info.ModTime().UnixNano())
		switch {
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(data)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		snap[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func assertSnapshot(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for rel, desc := range before {
		if after[rel] != desc {
			t.Errorf("%s: %s was %q, now %q", what, rel, desc, after[rel])
		}
	}
	for rel, desc := range after {
		if _, ok := before[rel]; !ok {
			t.Errorf("%s: %s appeared: %q", what, rel, desc)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestDeleteNeverLeavesDst(t *testing.T) {
	base, src, dst := mirrorBase(t)
	outside := filepath.Join(base, "outside")
	before := snapshot(t, outside)
	beside := snapshot(t, filepath.Join(base, "extra"))

	var mu sync.Mutex
	var deleted []string
	sum, err := copier.Copy(context.Background(), copier.Options{Src: src, Dst: dst, Workers: 2, Delete: true,
		OnAction: func(a copier.Action, rel, host string, err error) {
			if a == copier.Deleted {
				mu.Lock()
				deleted = append(deleted, rel)
				mu.Unlock()
			}
		}})
	if err != nil {
		t.Fatalf("err = %v (errors %v)", err, sum.Errors)
	}

	// DST is SRC's mirror: nothing more, nothing less.
	got := snapshot(t, dst)
	if keys, want := strings.Join(sortedKeys(got), " "), ". dir dir/keep2 keep"; keys != want {
		t.Errorf("DST holds %q, want %q", keys, want)
	}
	assertSameTree(t, src, dst) // contents, modes and mtimes: directories got their times back
	sort.Strings(deleted)
	if want := "dir/abslink dir/extra dir/filelink extra extradir link"; strings.Join(deleted, " ") != want || sum.Deleted != 6 {
		t.Errorf("deleted %q (%d), want %q (6)", strings.Join(deleted, " "), sum.Deleted, want)
	}

	// Outside DST, nothing changed: not what the symlinks pointed to, not
	// the files named like the extras.
	assertSnapshot(t, "outside DST", before, snapshot(t, outside))
	assertSnapshot(t, "beside DST", beside, snapshot(t, filepath.Join(base, "extra")))
}

// Where DST has a symlink and SRC a directory, the copy reports it and
// writes nothing through the link; as the copy had an error, --delete
// deletes nothing, here or through the link.
func TestDeleteWithSymlinkForADirectoryDeletesNothing(t *testing.T) {
	base, src, dst := mirrorBase(t)
	outside := filepath.Join(base, "outside")
	must(t, os.RemoveAll(filepath.Join(dst, "dir")))
	must(t, os.Symlink(filepath.Join(outside, "dir"), filepath.Join(dst, "dir")))
	before := snapshot(t, outside)
	dstBefore := snapshot(t, dst)

	sum, err := copier.Copy(context.Background(), copier.Options{Src: src, Dst: dst, Workers: 2, Delete: true})
	if !errors.Is(err, copier.ErrIncomplete) || len(sum.Errors) != 1 || sum.Errors[0].Path != "dir" ||
		!strings.Contains(sum.Errors[0].Error(), "not a directory; not replaced") {
		t.Fatalf("err = %v, errors %v; want dir reported as a symlink in the way", err, sum.Errors)
	}
	if sum.Deleted != 0 {
		t.Errorf("%d entries deleted after a copy with an error, want none", sum.Deleted)
	}
	assertSnapshot(t, "outside DST", before, snapshot(t, outside))
	// In DST only keep changed (it was copied); the extras are all there.
	delete(dstBefore, "keep")
	delete(dstBefore, ".")
	after := snapshot(t, dst)
	delete(after, "keep")
	delete(after, ".")
	assertSnapshot(t, "DST", dstBefore, after)
}
