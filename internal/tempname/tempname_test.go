package tempname

import (
	"fmt"
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

// dirLog is a Dir that records what is done to it.
type dirLog []string

func (d *dirLog) Rename(o, n string) error {
	*d = append(*d, "rename "+filepath.Base(o)[:7]+" "+n)
	if n == "busy" {
		return syscall.EISDIR
	}
	return nil
}

func (d *dirLog) Remove(name string) error {
	*d = append(*d, "remove "+filepath.Base(name)[:7])
	return nil
}

// A pending entry is removed by Cleanup unless Commit gave it its name,
// including after a Commit that failed; the zero Pending removes nothing.
func TestPending(t *testing.T) {
	for _, tc := range []struct {
		final string
		want  []string
	}{
		{"", []string{"remove .pcopy-"}},
		{"a", []string{"rename .pcopy- a"}},
		{"busy", []string{"rename .pcopy- busy", "remove .pcopy-"}},
	} {
		var d dirLog
		p, err := MakePending(&d, "", Prefix, func(string) error { return nil })
		if err != nil || p.Name == "" {
			t.Fatalf("MakePending = %+v, %v", p, err)
		}
		if tc.final != "" {
			if err := p.Commit(tc.final); (err != nil) != (tc.final == "busy") {
				t.Errorf("Commit(%q) = %v", tc.final, err)
			}
		}
		p.Cleanup()
		p.Cleanup()
		if fmt.Sprint(d) != fmt.Sprint(tc.want) {
			t.Errorf("final %q: did %q, want %q", tc.final, d, tc.want)
		}
	}
	var none Pending
	none.Cleanup()
	var d dirLog
	if _, err := MakePending(&d, "", "p", func(string) error { return syscall.EACCES }); err != syscall.EACCES || len(d) != 0 {
		t.Errorf("a failed MakePending = %v, and did %q", err, d)
	}
}
