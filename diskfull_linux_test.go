package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/treecheck"
	"github.com/pcopy/pcopy/progress"
)

// A DST that fills up (a 2 MiB tmpfs, 20 MB to copy) ends with one error
// line, not one per file: the filesystem's mount point, how many files were
// not copied, the room they need and the room left, then a hint; exit 1.
// What reached DST is whole, what DST held is intact, no temporary file is
// left, and the same command run again, once there is room, finishes the
// copy. With --json, the report says the same.
func TestDiskFullOneError(t *testing.T) {
	for _, withJSON := range []bool{false, true} {
		t.Run(fmt.Sprint("json=", withJSON), func(t *testing.T) {
			mnt := filepath.Join(t.TempDir(), "small")
			mountTmpfs(t, mnt, "2m")
			src := filepath.Join(t.TempDir(), "src")
			must(t, os.Mkdir(src, 0o755))
			for i := range 3 {
				must(t, os.WriteFile(filepath.Join(src, fmt.Sprint("a", i)), []byte("small"), 0o644))
			}
			for i := range 200 {
				must(t, os.WriteFile(filepath.Join(src, fmt.Sprintf("f%03d", i)), bytes.Repeat([]byte(fmt.Sprintf("%03d", i)), 100<<10/3), 0o644))
			}
			must(t, os.WriteFile(filepath.Join(src, "keep"), bytes.Repeat([]byte("n"), 3<<20), 0o644)) // never fits
			must(t, os.Mkdir(filepath.Join(src, "sub"), 0o755))
			must(t, os.WriteFile(filepath.Join(src, "sub", "s"), []byte("late"), 0o644))
			must(t, os.Symlink("s", filepath.Join(src, "sub", "link")))
			dst := filepath.Join(mnt, "dst")
			must(t, os.Mkdir(dst, 0o755))
			old := []byte("old and precious")
			must(t, os.WriteFile(filepath.Join(dst, "keep"), old, 0o644))

			var code int
			var stdout, stderr string
			if withJSON {
				r := runPcopyJSON(t, "--json", "-j", "2", src, dst)
				code, stdout, stderr = r.code, r.stdout, r.stderr
			} else {
				code, stderr = runPcopy(t, "-j", "2", src, dst)
			}
			t.Logf("stderr:\n%s", stderr)
			if code != exitFailed {
				t.Errorf("exit code %d, want %d", code, exitFailed)
			}
			if got, err := os.ReadFile(filepath.Join(dst, "keep")); err != nil || !bytes.Equal(got, old) {
				t.Errorf("DST's earlier keep was changed: %d bytes, %v", len(got), err)
			}
			files, needed := missingIn(t, src, dst, "keep")
			if files < 150 {
				t.Fatalf("only %d files not copied: the filesystem did not fill", files)
			}
			var st unix.Statfs_t
			must(t, unix.Statfs(mnt, &st))
			free := int64(st.Bavail) * st.Bsize

			var errorLines []string
			for _, line := range strings.Split(stderr, "\n") {
				if strings.HasPrefix(line, "pcopy: error: ") {
					errorLines = append(errorLines, line)
				}
			}
			want := fmt.Sprintf("pcopy: error: DST's filesystem, mounted at %s, is full: %d files not copied: %s needed, %s free now",
				mnt, files, progress.HumanBytes(needed), progress.HumanBytes(free))
			if len(errorLines) != 1 || errorLines[0] != want {
				t.Errorf("error lines:\n%s\nwant only:\n%s", strings.Join(errorLines, "\n"), want)
			}
			if !hasLine(stderr, "pcopy: hint: ", "run the same command again to finish the copy") {
				t.Error("no hint to run the same command again")
			}
			if !strings.Contains(stderr, fmt.Sprintf(", %d not copied for lack of room\n", files)) {
				t.Error("the summary line does not count the files not copied")
			}
			if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
			if withJSON {
				checkFullReport(t, stdout, mnt, files, needed, free)
				return
			}

			if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
				t.Fatalf("remount: %v: %s", err, out)
			}
			if code, stderr := runPcopy(t, "-j", "2", src, dst); code != exitOK {
				t.Fatalf("run again with room: exit %d:\n%s", code, stderr)
			}
			diffs, err := treecheck.Compare(src, dst, treecheck.Options{IgnoreRootTimes: true})
			must(t, err)
			if len(diffs) > 0 {
				t.Errorf("run again with room, DST differs:\n%s", strings.Join(diffs, "\n"))
			}
		})
	}
}

// A full filesystem mounted inside DST stops only the copy into it: the
// one error names its mount point, and the rest of DST is copied whole.
func TestDiskFullInsideDST(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for _, dir := range []string{"a-small", "z-rest"} {
		must(t, os.MkdirAll(filepath.Join(src, dir), 0o755))
		for i := range 10 {
			must(t, os.WriteFile(filepath.Join(src, dir, fmt.Sprint("f", i)), bytes.Repeat([]byte{byte(i)}, 300<<10), 0o644))
		}
	}
	dst := filepath.Join(t.TempDir(), "dst")
	inner := filepath.Join(dst, "a-small")
	mountTmpfs(t, inner, "1m")

	code, stderr := runPcopy(t, "-j", "2", src, dst)
	t.Logf("stderr:\n%s", stderr)
	if code != exitFailed {
		t.Errorf("exit code %d, want %d", code, exitFailed)
	}
	files, needed := missingIn(t, src, dst, "")
	want := fmt.Sprintf("pcopy: error: DST's filesystem, mounted at %s, is full: %d files not copied: %s needed, ", inner, files, progress.HumanBytes(needed))
	if n := strings.Count(stderr, "pcopy: error: "); n != 1 || !hasLine(stderr, want, "free now") {
		t.Errorf("want one error line %q...", want)
	}
	diffs, err := treecheck.Compare(filepath.Join(src, "z-rest"), filepath.Join(dst, "z-rest"), treecheck.Options{})
	must(t, err)
	if len(diffs) > 0 {
		t.Errorf("z-rest, on DST's own filesystem, was not copied whole:\n%s", strings.Join(diffs, "\n"))
	}
}

// mountTmpfs mounts a tmpfs of the given size on the directory mnt, made
// if missing, until the test ends; it skips the test where it cannot.
func mountTmpfs(t *testing.T, mnt, size string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	must(t, os.MkdirAll(mnt, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
}

// missingIn checks that each entry of src that dst has is a whole copy
// (held aside: DST's own older file, which must stay), and returns how
// many entries dst lacks, held included, and the size of the regular
// files among them.
func missingIn(t *testing.T, src, dst, held string) (files, size int64) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		d := filepath.Join(dst, rel)
		if info.Mode()&os.ModeSymlink != 0 {
			if target, err := os.Readlink(d); err != nil {
				files++
			} else if want, _ := os.Readlink(p); target != want {
				t.Errorf("%s: link to %q, want %q", rel, target, want)
			}
			return nil
		}
		got, err := os.ReadFile(d)
		if err != nil || rel == held {
			files++
			size += info.Size()
			return nil
		}
		if want, _ := os.ReadFile(p); !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes in DST, not a whole copy of its %d", rel, len(got), len(want))
		}
		return nil
	})
	must(t, err)
	return files, size
}

// checkFullReport checks what the JSON report says of a full DST.
func checkFullReport(t *testing.T, stdout, mnt string, files, needed, free int64) {
	t.Helper()
	var r struct {
		Failed    int               `json:"failed"`
		Errors    []json.RawMessage `json:"errors"`
		NotCopied int64             `json:"not_copied"`
		DstFull   []struct {
			Mount       string `json:"mount"`
			OverQuota   bool   `json:"over_quota"`
			Files       int64  `json:"files"`
			NeededBytes int64  `json:"needed_bytes"`
			AtLeast     bool   `json:"at_least"`
			FreeBytes   *int64 `json:"free_bytes"`
		} `json:"dst_full"`
	}
	must(t, json.Unmarshal([]byte(stdout), &r))
	if r.Failed != 0 || len(r.Errors) != 0 || r.NotCopied != files {
		t.Errorf("report: failed %d, %d errors, not_copied %d; want 0, 0, %d", r.Failed, len(r.Errors), r.NotCopied, files)
	}
	if len(r.DstFull) != 1 {
		t.Fatalf("report: dst_full has %d entries, want 1:\n%s", len(r.DstFull), stdout)
	}
	f := r.DstFull[0]
	if f.Mount != mnt || f.OverQuota || f.Files != files || f.NeededBytes != needed || f.AtLeast || f.FreeBytes == nil || *f.FreeBytes != free {
		t.Errorf("report: dst_full %+v, want %s full, %d files, %d bytes needed, %d free", f, mnt, files, needed, free)
	}
}
