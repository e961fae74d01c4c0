package fastcopy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

func modeOf(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestChmodDstOnlyTheFileLookedAt: a re-run's mode fix goes to the file
// LstatDst looked at, never to one put at its name since: not when the
// directory the worker holds was renamed away and another made at its
// name between two jobs, nor when the file itself was replaced.
func TestChmodDstOnlyTheFileLookedAt(t *testing.T) {
	root := t.TempDir()
	d := filepath.Join(root, "D")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(d, 0o755))
	must(os.WriteFile(d+"/a", []byte("a"), 0o600))
	must(os.WriteFile(d+"/b", []byte("b"), 0o600))
	defer beneath.Hold(root, false)()
	o := New(tempname.Prefix, wire.Settings{}, false)
	defer o.Close()
	if _, err := o.LstatDst(d + "/a"); err != nil { // an earlier job in D: its descriptor held
		t.Fatal(err)
	}
	// Between jobs: D renamed away, another D with another b.
	must(os.Rename(d, root+"/D.old"))
	must(os.Mkdir(d, 0o755))
	must(os.WriteFile(d+"/b", []byte("someone else's"), 0o600))
	fi, err := o.LstatDst(d + "/b")
	must(err)
	must(o.ChmodDst(d+"/b", fi, 0o644))
	if m := modeOf(t, d+"/b"); m != 0o600 {
		t.Errorf("the file now at D/b got mode %o; want it left 0600", m)
	}
	if m := modeOf(t, root+"/D.old/b"); m != 0o644 {
		t.Errorf("the file looked at has mode %o, want 0644", m)
	}

	// The file itself replaced between the look and the chmod.
	fi, err = o.LstatDst(d + "/a")
	must(err)
	must(os.WriteFile(root+"/D.old/new", []byte("x"), 0o600))
	must(os.Rename(root+"/D.old/new", root+"/D.old/a"))
	if err := o.ChmodDst(d+"/a", fi, 0o644); !errors.Is(err, worker.ErrNotSame) {
		t.Errorf("ChmodDst of a replaced file: %v, want ErrNotSame", err)
	}
	if m := modeOf(t, root+"/D.old/a"); m != 0o600 {
		t.Errorf("the file put at the name got mode %o; want it left 0600", m)
	}
}
