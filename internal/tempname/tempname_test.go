package tempname

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

func TestNamesRoundTrip(t *testing.T) {
	name := filepath.Base(New("/d", ForWorker(4242, 3)))
	if !Is(name) {
		t.Fatalf("Is(%q) = false for a name New made", name)
	}
	if pid, ok := Pid(name); !ok || pid != 4242 {
		t.Errorf("Pid(%q) = %d, %v; want 4242", name, pid, ok)
	}
	if a, b := New("/d", "p"), New("/d", "p"); a == b {
		t.Errorf("two new names are the same: %s", a)
	}
}

// Names a user might give their own files are not taken for pcopy's.
func TestIsNot(t *testing.T) {
	for _, name := range []string{".pcopy-notes.txt", "pcopy-1-2-x.tmp", ".pcopy-1-2-x.tmp/", "a/.pcopy-1-2-x.tmp", ".pcopy-x-2-y.tmpl"} {
		if Is(name) {
			t.Errorf("Is(%q) = true", name)
		}
	}
	for _, name := range []string{".pcopy-x-1-2.tmp", ".pcopy--1-2.tmp", ".pcopy-0-1-2.tmp"} {
		if _, ok := Pid(name); ok {
			t.Errorf("Pid(%q) found a pid", name)
		}
	}
}

// Make tries another name while one is taken, never replacing it, and
// gives up after many; any other error is make's.
func TestMake(t *testing.T) {
	var tried []string
	name, err := Make("/d", "p", func(name string) error {
		tried = append(tried, name)
		if len(tried) < 3 {
			return &fs.PathError{Op: "open", Path: name, Err: syscall.EEXIST}
		}
		return nil
	})
	if err != nil || len(tried) != 3 || name != tried[2] || tried[0] == tried[1] {
		t.Errorf("Make = %q, %v after trying %v", name, err, tried)
	}
	if _, err := Make("/d", "p", func(string) error { return syscall.EACCES }); err != syscall.EACCES {
		t.Errorf("Make's error = %v, want make's own", err)
	}
	if _, err := Make("/d", "p", func(string) error { return fs.ErrExist }); err == nil {
		t.Error("Make succeeded with every name taken")
	}
}
