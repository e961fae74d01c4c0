package copier

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// exchange swaps two entries atomically, as an attacker's renameat2 does.
func exchange(t *testing.T, a, b string) {
	t.Helper()
	if err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE); err != nil {
		t.Error(err)
	}
}

// A file copied in parts: while the parts are read, a directory above it
// is exchanged with another real directory holding a file of the same
// name and size, and put back before the parts are put together. Each part
// checks that it read the file listed, so the copy is never accepted with
// another file's bytes.
func TestSplitPartsReadOnlyTheFileListed(t *testing.T) {
	old := minPart
	minPart = 1 << 20
	t.Cleanup(func() { minPart = old })
	tmp := t.TempDir()
	src, dst, other := filepath.Join(tmp, "src"), filepath.Join(tmp, "dst"), filepath.Join(tmp, "other")
	size := 4 << 20
	for d, b := range map[string]byte{src: 'A', other: 'S'} {
		if err := os.MkdirAll(filepath.Join(d, "d"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "d", "big"), bytes.Repeat([]byte{b}, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var once, back sync.Once
	var mu sync.Mutex
	swapped := false
	worker.TestHook = func(j *wire.Job) {
		if j.Kind == wire.KindPart {
			once.Do(func() {
				exchange(t, filepath.Join(src, "d"), filepath.Join(other, "d"))
				mu.Lock()
				swapped = true
				mu.Unlock()
			})
		}
	}
	t.Cleanup(func() { worker.TestHook = nil })
	big := filepath.Join(src, "d", "big")
	beneath.TestHook = func(op beneath.Op, p string) {
		mu.Lock()
		defer mu.Unlock()
		if op == beneath.OpStat && p == big && swapped {
			back.Do(func() { exchange(t, filepath.Join(src, "d"), filepath.Join(other, "d")) })
		}
	}
	t.Cleanup(func() { beneath.TestHook = nil })
	_, err := Copy(context.Background(), Options{Src: src, Dst: dst, Workers: 2, SplitSize: 1 << 20})
	if !errors.Is(err, ErrIncomplete) {
		t.Errorf("err = %v, want the split file reported", err)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "d", "big")); err == nil && bytes.IndexByte(got, 'S') >= 0 {
		t.Errorf("DST/d/big holds bytes of another file")
	}
}

// An empty file is made without being read, but only once its name in SRC
// is seen to be the file listed: another file exchanged in for it is never
// made into a copy that mixes the listing (empty) with the other file's
// extended attributes.
func TestEmptyFileIsTheFileListed(t *testing.T) {
	tmp := t.TempDir()
	src, dst, other := filepath.Join(tmp, "src"), filepath.Join(tmp, "dst"), filepath.Join(tmp, "other")
	for _, d := range []string{filepath.Join(src, "d"), filepath.Join(other, "d")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "d", "e"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "d", "e"), []byte("another file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(other, "d", "e"), "user.from", []byte("other"), 0); err != nil {
		t.Skip("no user extended attributes here:", err)
	}
	var once sync.Once
	worker.TestHook = func(j *wire.Job) {
		if j.Rel == "d/e" {
			once.Do(func() { exchange(t, filepath.Join(src, "d", "e"), filepath.Join(other, "d", "e")) })
		}
	}
	t.Cleanup(func() { worker.TestHook = nil })
	sum, err := Copy(context.Background(), Options{Src: src, Dst: dst, Workers: 1})
	if err != nil || sum.Changed != 0 {
		// Seen to have changed, it is looked at again and copied as it
		// is now, whole: the other file, now SRC's.
		t.Logf("copy: %v, %d changed", err, sum.Changed)
	}
	data, rerr := os.ReadFile(filepath.Join(dst, "d", "e"))
	_, xerr := unix.Getxattr(filepath.Join(dst, "d", "e"), "user.from", make([]byte, 16))
	if rerr == nil && len(data) == 0 && xerr == nil {
		t.Errorf("DST/d/e is the empty file listed with the other file's extended attribute")
	}
	if rerr == nil && len(data) > 0 && xerr != nil {
		t.Errorf("DST/d/e has the other file's data without its extended attribute")
	}
}
