package beneath_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/beneath"
)

// eachMode runs f as a subtest twice: resolving with openat2, and component
// by component (as on a kernel without openat2). DisableOpenat2 is global:
// these tests do not run in parallel.
func eachMode(t *testing.T, f func(t *testing.T, byComponent bool)) {
	t.Helper()
	for _, m := range []struct {
		name        string
		byComponent bool
	}{{"openat2", false}, {"by-component", true}} {
		t.Run(m.name, func(t *testing.T) {
			if !m.byComponent {
				requireOpenat2(t)
			}
			beneath.DisableOpenat2(m.byComponent)
			t.Cleanup(func() { beneath.DisableOpenat2(false) })
			f(t, m.byComponent)
		})
	}
}

// requireOpenat2 skips the test where the kernel has no openat2: there the
// package silently resolves component by component, and the openat2 run
// would test nothing new.
func requireOpenat2(t *testing.T) {
	t.Helper()
	fd, err := unix.Openat2(unix.AT_FDCWD, ".", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		t.Skipf("no openat2 here: %v", err)
	}
	unix.Close(fd)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// hold holds root (not followed) for the rest of the test.
func hold(t *testing.T, root string, follow bool) {
	t.Helper()
	t.Cleanup(beneath.Hold(root, follow))
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, content string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func lstat(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Lstat(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// readFd reads what is left in the file fd.
func readFd(t *testing.T, fd int) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

// dirNames lists the open directory fd.
func dirNames(t *testing.T, fd int) []string {
	t.Helper()
	var names []string
	buf := make([]byte, 8192)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	slices.Sort(names)
	return names
}

// entryState is what a snapshot records of one entry: all that an
// operation let through a symlink could change.
type entryState struct {
	Mode         uint32
	Ino          uint64
	Nlink        uint64
	Uid, Gid     uint32
	Size         int64
	Mtime, Ctime int64
	Content      string // a file's contents, a symlink's target
	Xattrs       string
}

func stateOf(t *testing.T, p string) entryState {
	t.Helper()
	st := lstat(t, p)
	e := entryState{
		Mode: st.Mode, Ino: st.Ino, Nlink: uint64(st.Nlink), Uid: st.Uid, Gid: st.Gid, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		e.Content = readFile(t, p)
	case unix.S_IFLNK:
		s, err := os.Readlink(p)
		if err != nil {
			t.Fatal(err)
		}
		e.Content = s
	}
	e.Xattrs = xattrs(t, p)
	return e
}

// xattrs lists the extended attributes of p itself, with their values.
func xattrs(t *testing.T, p string) string {
	t.Helper()
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err == unix.ENOTSUP || err == unix.EOPNOTSUPP {
		return ""
	}
	if err != nil {
		t.Fatalf("llistxattr %s: %v", p, err)
	}
	var names []string
	for _, s := range strings.Split(string(buf[:n]), "\x00") {
		if s != "" {
			names = append(names, s)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		v := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			t.Fatalf("lgetxattr %s %s: %v", p, name, err)
		}
		b.WriteString(name + "=" + string(v[:m]) + "\n")
	}
	return b.String()
}

// snapshot records every entry of dir, dir included, by its path relative
// to dir, but those at or below skip.
func snapshot(t *testing.T, dir string, skip ...string) map[string]entryState {
	t.Helper()
	m := map[string]entryState{}
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if slices.Contains(skip, p) {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		m[rel] = stateOf(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// snapshotDiff says how the tree at dir differs from before ("" if not).
func snapshotDiff(t *testing.T, dir string, before map[string]entryState, skip ...string) string {
	t.Helper()
	after := snapshot(t, dir, skip...)
	var diffs []string
	for name, b := range before {
		a, ok := after[name]
		switch {
		case !ok:
			diffs = append(diffs, name+": removed")
		case a != b:
			diffs = append(diffs, name+": changed from "+fmtState(b)+" to "+fmtState(a))
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			diffs = append(diffs, name+": created")
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "\n")
}

func fmtState(e entryState) string { return fmt.Sprintf("%+v", e) }

func assertUnchanged(t *testing.T, dir string, before map[string]entryState, skip ...string) {
	t.Helper()
	if d := snapshotDiff(t, dir, before, skip...); d != "" {
		t.Errorf("%s changed:\n%s", dir, d)
	}
}

// errIs reports whether err is want, for an error or an errno.
func errIs(err, want error) bool {
	if want == nil {
		return err == nil
	}
	return errors.Is(err, want)
}

// swapFixture is a held root with a directory a, listed and used, then
// moved out of the root and replaced by a symlink to outside the root.
type swapFixture struct {
	base, root, out string
	target          string // of the symlink at root/a
}

// Symlink targets for the swap.
const (
	toDir    = "outside dir"
	toDirRel = "outside dir, relative target"
	toFile   = "outside file"
)

// newSwapFixture makes base/outside (x, d/f, l -> x) and base/root
// (a/x, a/d/f, a/l -> x, y), holds base/root and uses root/a/x once, as
// when a copy is under way. swap then moves root/a to base/listed and puts
// the symlink in its place: an operation that reached either the symlink's
// target or the directory moved (had a descriptor of it been kept) changes
// what is outside the root, which f.outside snapshots.
func newSwapFixture(t *testing.T, kind string) swapFixture {
	t.Helper()
	base := t.TempDir()
	f := swapFixture{base: base, root: filepath.Join(base, "root"), out: filepath.Join(base, "outside")}
	for _, d := range []string{f.out, filepath.Join(f.root, "a")} {
		mkdir(t, filepath.Join(d, "d"))
		writeFile(t, filepath.Join(d, "x"), "x in "+d, 0o644)
		writeFile(t, filepath.Join(d, "d", "f"), "f in "+d, 0o644)
		symlink(t, "x", filepath.Join(d, "l"))
	}
	writeFile(t, filepath.Join(f.root, "y"), "y in root", 0o644)
	if err := unix.Lsetxattr(filepath.Join(f.out, "x"), "user.pcopy", []byte("outside"), 0); err != nil &&
		err != unix.ENOTSUP && err != unix.EOPNOTSUPP {
		t.Fatal(err)
	}
	switch kind {
	case toDir:
		f.target = f.out
	case toDirRel:
		f.target = "../outside"
	case toFile:
		f.target = filepath.Join(f.out, "x")
	default:
		t.Fatalf("bad kind %q", kind)
	}
	hold(t, f.root, false)
	var st unix.Stat_t
	if err := beneath.Lstat(filepath.Join(f.root, "a", "x"), &st); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f swapFixture) swap(t *testing.T) {
	t.Helper()
	a := filepath.Join(f.root, "a")
	if err := os.Rename(a, filepath.Join(f.base, "listed")); err != nil {
		t.Fatal(err)
	}
	symlink(t, f.target, a)
	// By path, root/a/x now leads outside: what the package must not do.
	if f.target != filepath.Join(f.out, "x") {
		if in, out := lstat(t, filepath.Join(a, "x")), lstat(t, filepath.Join(f.out, "x")); in.Ino != out.Ino {
			t.Fatalf("fixture: %s/x is not %s/x by path", a, f.out)
		}
	}
}

func (f swapFixture) p(rel string) string { return filepath.Join(f.root, rel) }

// outside snapshots all that is outside the root.
func (f swapFixture) outside(t *testing.T) map[string]entryState {
	t.Helper()
	return snapshot(t, f.base, f.root)
}

func (f swapFixture) assertOutsideUnchanged(t *testing.T, before map[string]entryState) {
	t.Helper()
	assertUnchanged(t, f.base, before, f.root)
}

// closeIfOpen closes fd and returns err, for operations that open.
func closeIfOpen(fd int, err error) error {
	if err == nil {
		unix.Close(fd)
	}
	return err
}

// swapOps act on paths below root/a once a is a symlink. Each, if it got
// through, would change the tree outside (or read it). wantComponent, if
// set, is the error expected when resolving component by component, where
// it differs from ErrSymlink.
var swapOps = []struct {
	name          string
	needRoot      bool
	wantComponent error
	run           func(f swapFixture) error
}{
	{name: "Mkdir", run: func(f swapFixture) error { return beneath.Mkdir(f.p("a/new"), 0o777) }},
	{name: "Open O_CREAT|O_WRONLY", run: func(f swapFixture) error {
		fd, err := beneath.Open(f.p("a/new"), unix.O_CREAT|unix.O_WRONLY, 0o666)
		if err == nil {
			unix.Write(fd, []byte("written through the symlink"))
			unix.Close(fd)
		}
		return err
	}},
	{name: "Open O_CREAT|O_TRUNC|O_WRONLY existing", run: func(f swapFixture) error {
		fd, err := beneath.Open(f.p("a/x"), unix.O_CREAT|unix.O_TRUNC|unix.O_WRONLY, 0o666)
		if err == nil {
			unix.Write(fd, []byte("written through the symlink"))
			unix.Close(fd)
		}
		return err
	}},
	{name: "Open O_RDONLY", run: func(f swapFixture) error {
		return closeIfOpen(beneath.Open(f.p("a/x"), unix.O_RDONLY, 0))
	}},
	{name: "OpenDir", run: func(f swapFixture) error {
		return closeIfOpen(beneath.OpenDir(f.p("a/d")))
	}},
	{name: "Lstat", run: func(f swapFixture) error {
		var st unix.Stat_t
		return beneath.Lstat(f.p("a/x"), &st)
	}},
	{name: "Stat", run: func(f swapFixture) error {
		var st unix.Stat_t
		return beneath.Stat(f.p("a/l"), &st)
	}},
	{name: "Chmod", run: func(f swapFixture) error { return beneath.Chmod(f.p("a/x"), 0o777) }},
	{name: "Chmod dir", run: func(f swapFixture) error { return beneath.Chmod(f.p("a/d"), 0o700) }},
	{name: "Lchown", needRoot: true, run: func(f swapFixture) error { return beneath.Lchown(f.p("a/x"), 4321, 4321) }},
	{name: "Lutimes", run: func(f swapFixture) error { return beneath.Lutimes(f.p("a/x"), 1e9, 2e9) }},
	{name: "Remove", run: func(f swapFixture) error { return beneath.Remove(f.p("a/x")) }},
	{name: "Remove symlink", run: func(f swapFixture) error { return beneath.Remove(f.p("a/l")) }},
	{name: "Rename from", run: func(f swapFixture) error { return beneath.Rename(f.p("a/x"), f.p("moved")) }},
	{name: "Rename to", run: func(f swapFixture) error { return beneath.Rename(f.p("y"), f.p("a/new")) }},
	{name: "Rename over", run: func(f swapFixture) error { return beneath.Rename(f.p("y"), f.p("a/x")) }},
	{name: "Symlink", run: func(f swapFixture) error { return beneath.Symlink("x", f.p("a/new")) }},
	{name: "Readlink", run: func(f swapFixture) error {
		_, err := beneath.Readlink(f.p("a/l"))
		return err
	}},
	{name: "RemoveAll dir", run: func(f swapFixture) error { return beneath.RemoveAll(f.p("a/d"), nil) }},
	{name: "RemoveAll file", run: func(f swapFixture) error { return beneath.RemoveAll(f.p("a/x"), nil) }},
	{name: "XattrPath", run: func(f swapFixture) error {
		p, done, err := beneath.XattrPath(f.p("a/x"))
		if err != nil {
			return err
		}
		defer done()
		buf := make([]byte, 256)
		if _, err := unix.Lgetxattr(p, "user.pcopy", buf); err != nil {
			return err
		}
		return unix.Lsetxattr(p, "user.pcopy", []byte("set through the symlink"), 0)
	}},
}

// TestSymlinkedComponentRefused: with a directory below a held root
// replaced by a symlink (to a directory or a file outside), no operation
// on a path through it gets through, and nothing outside changes.
func TestSymlinkedComponentRefused(t *testing.T) {
	for _, kind := range []string{toDir, toDirRel, toFile} {
		t.Run(kind, func(t *testing.T) {
			eachMode(t, func(t *testing.T, byComponent bool) {
				for _, op := range swapOps {
					t.Run(op.name, func(t *testing.T) {
						if op.needRoot {
							requireRoot(t)
						}
						f := newSwapFixture(t, kind)
						f.swap(t)
						before := f.outside(t)
						err := op.run(f)
						want := error(beneath.ErrSymlink)
						if byComponent && op.wantComponent != nil {
							want = op.wantComponent
						}
						if !errIs(err, want) {
							t.Errorf("%s through %s: got error %v, want %v", op.name, kind, err, want)
						}
						f.assertOutsideUnchanged(t, before)
					})
				}
			})
		})
	}
}

// TestSwapAtHook swaps the directory at the last moment, from the test
// hook called just before the operation, as a hostile user racing the copy
// would.
func TestSwapAtHook(t *testing.T) {
	eachMode(t, func(t *testing.T, byComponent bool) {
		for _, op := range swapOps {
			t.Run(op.name, func(t *testing.T) {
				if op.needRoot {
					requireRoot(t)
				}
				f := newSwapFixture(t, toDir)
				swapped := false
				var before map[string]entryState
				beneath.TestHook = func(beneath.Op, string) {
					if !swapped {
						swapped = true
						f.swap(t)
						before = f.outside(t)
					}
				}
				t.Cleanup(func() { beneath.TestHook = nil })
				err := op.run(f)
				if !swapped {
					t.Fatalf("%s: the hook was not called", op.name)
				}
				want := error(beneath.ErrSymlink)
				if byComponent && op.wantComponent != nil {
					want = op.wantComponent
				}
				if !errIs(err, want) {
					t.Errorf("%s: got error %v, want %v", op.name, err, want)
				}
				f.assertOutsideUnchanged(t, before)
			})
		}
	})
}

// TestSymlinkAtLastComponent: root/a itself a symlink to outside. The
// operations act on the symlink, not on what it points to (but Stat, which
// follows the last component by definition).
func TestSymlinkAtLastComponent(t *testing.T) {
	for _, kind := range []string{toDir, toFile} {
		t.Run(kind, func(t *testing.T) {
			eachMode(t, func(t *testing.T, byComponent bool) {
				tests := []struct {
					name     string
					needRoot bool
					run      func(t *testing.T, f swapFixture) error
					want     error
					check    func(t *testing.T, f swapFixture) // after the operation
				}{
					{name: "Open O_RDONLY", want: unix.ELOOP, run: func(t *testing.T, f swapFixture) error {
						return closeIfOpen(beneath.Open(f.p("a"), unix.O_RDONLY, 0))
					}},
					{name: "Open O_CREAT|O_TRUNC|O_WRONLY", want: unix.ELOOP, run: func(t *testing.T, f swapFixture) error {
						return closeIfOpen(beneath.Open(f.p("a"), unix.O_CREAT|unix.O_TRUNC|unix.O_WRONLY, 0o666))
					}},
					// The kernel checks O_DIRECTORY before O_NOFOLLOW: a
					// symlink at the name itself gives ENOTDIR, openat2 or not,
					// which OpenDir tells apart from a file there.
					{name: "OpenDir", want: beneath.ErrSymlink, run: func(t *testing.T, f swapFixture) error {
						return closeIfOpen(beneath.OpenDir(f.p("a")))
					}},
					{name: "Chmod", want: unix.EOPNOTSUPP, run: func(t *testing.T, f swapFixture) error { return beneath.Chmod(f.p("a"), 0o700) }},
					{name: "Mkdir", want: unix.EEXIST, run: func(t *testing.T, f swapFixture) error { return beneath.Mkdir(f.p("a"), 0o700) }},
					{name: "Lchown", needRoot: true, run: func(t *testing.T, f swapFixture) error { return beneath.Lchown(f.p("a"), 4321, 4321) },
						check: func(t *testing.T, f swapFixture) {
							if st := lstat(t, f.p("a")); st.Uid != 4321 || st.Gid != 4321 {
								t.Errorf("symlink owner %d:%d, want 4321:4321", st.Uid, st.Gid)
							}
						}},
					{name: "Lutimes", run: func(t *testing.T, f swapFixture) error { return beneath.Lutimes(f.p("a"), 1e9, 2e9) },
						check: func(t *testing.T, f swapFixture) {
							if st := lstat(t, f.p("a")); st.Mtim.Nano() != 2e9 || st.Atim.Nano() != 1e9 {
								t.Errorf("symlink times %d, %d; want 1e9, 2e9", st.Atim.Nano(), st.Mtim.Nano())
							}
						}},
					{name: "Remove", run: func(t *testing.T, f swapFixture) error { return beneath.Remove(f.p("a")) },
						check: func(t *testing.T, f swapFixture) {
							if exists(t, f.p("a")) {
								t.Error("the symlink is still there")
							}
						}},
					{name: "RemoveAll", run: func(t *testing.T, f swapFixture) error { return beneath.RemoveAll(f.p("a"), nil) },
						check: func(t *testing.T, f swapFixture) {
							if exists(t, f.p("a")) {
								t.Error("the symlink is still there")
							}
						}},
					{name: "Rename", run: func(t *testing.T, f swapFixture) error { return beneath.Rename(f.p("a"), f.p("b")) },
						check: func(t *testing.T, f swapFixture) {
							if st := lstat(t, f.p("b")); st.Mode&unix.S_IFMT != unix.S_IFLNK {
								t.Errorf("renamed: mode %o, want a symlink", st.Mode)
							}
						}},
					{name: "Readlink", run: func(t *testing.T, f swapFixture) error {
						s, err := beneath.Readlink(f.p("a"))
						if err == nil && s != f.target {
							t.Errorf("Readlink = %q, want %q", s, f.target)
						}
						return err
					}},
					{name: "Lstat", run: func(t *testing.T, f swapFixture) error {
						var st unix.Stat_t
						err := beneath.Lstat(f.p("a"), &st)
						if err == nil && st.Mode&unix.S_IFMT != unix.S_IFLNK {
							t.Errorf("Lstat mode %o, want a symlink", st.Mode)
						}
						return err
					}},
					{name: "Stat follows the last component", run: func(t *testing.T, f swapFixture) error {
						var st unix.Stat_t
						err := beneath.Stat(f.p("a"), &st)
						if want := lstat(t, f.target); err == nil && st.Ino != want.Ino {
							t.Errorf("Stat ino %d, want %d (the target's)", st.Ino, want.Ino)
						}
						return err
					}},
					{name: "XattrPath", want: unix.ENODATA, run: func(t *testing.T, f swapFixture) error {
						p, done, err := beneath.XattrPath(f.p("a"))
						if err != nil {
							return err
						}
						defer done()
						_, err = unix.Lgetxattr(p, "user.pcopy", make([]byte, 256))
						return err
					}},
				}
				for _, tt := range tests {
					t.Run(tt.name, func(t *testing.T) {
						if tt.needRoot {
							requireRoot(t)
						}
						f := newSwapFixture(t, kind)
						f.swap(t)
						before := f.outside(t)
						if err := tt.run(t, f); !errIs(err, tt.want) {
							t.Errorf("got error %v, want %v", err, tt.want)
						}
						if tt.check != nil {
							tt.check(t, f)
						}
						f.assertOutsideUnchanged(t, before)
					})
				}
			})
		})
	}
}

// newTree makes base/root with a/b/f ("hello", 0644), a/b/l -> f, a/b/e
// (empty), a/b/n/m, and holds it.
func newTree(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	mkdir(t, filepath.Join(root, "a", "b", "e"))
	mkdir(t, filepath.Join(root, "a", "b", "n"))
	writeFile(t, filepath.Join(root, "a", "b", "f"), "hello", 0o644)
	writeFile(t, filepath.Join(root, "a", "b", "n", "m"), "m", 0o644)
	symlink(t, "f", filepath.Join(root, "a", "b", "l"))
	hold(t, root, false)
	return root
}

// TestOperationsBelowRoot: each operation does what it says on real
// directories below a held root.
func TestOperationsBelowRoot(t *testing.T) {
	tests := []struct {
		name     string
		needRoot bool
		run      func(t *testing.T, root string)
	}{
		{name: "Mkdir", run: func(t *testing.T, root string) {
			p := filepath.Join(root, "a", "b", "new")
			if err := beneath.Mkdir(p, 0o750); err != nil {
				t.Fatal(err)
			}
			if st := lstat(t, p); st.Mode != unix.S_IFDIR|0o750 {
				t.Errorf("mode %o, want dir 0750", st.Mode)
			}
		}},
		{name: "Mkdir at the root's top", run: func(t *testing.T, root string) {
			p := filepath.Join(root, "new")
			if err := beneath.Mkdir(p, 0o750); err != nil {
				t.Fatal(err)
			}
			if st := lstat(t, p); st.Mode != unix.S_IFDIR|0o750 {
				t.Errorf("mode %o, want dir 0750", st.Mode)
			}
		}},
		{name: "Open O_CREAT|O_WRONLY", run: func(t *testing.T, root string) {
			p := filepath.Join(root, "a", "b", "new")
			fd, err := beneath.Open(p, unix.O_CREAT|unix.O_WRONLY|unix.O_EXCL, 0o640)
			if err != nil {
				t.Fatal(err)
			}
			_, err = unix.Write(fd, []byte("new file"))
			unix.Close(fd)
			if err != nil {
				t.Fatal(err)
			}
			if st := lstat(t, p); st.Mode != unix.S_IFREG|0o640 {
				t.Errorf("mode %o, want file 0640", st.Mode)
			}
			if s := readFile(t, p); s != "new file" {
				t.Errorf("content %q", s)
			}
		}},
		{name: "Open O_RDONLY", run: func(t *testing.T, root string) {
			fd, err := beneath.Open(filepath.Join(root, "a", "b", "f"), unix.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if s := readFd(t, fd); s != "hello" {
				t.Errorf("read %q, want hello", s)
			}
		}},
		{name: "Open O_RDONLY of a symlink", run: func(t *testing.T, root string) {
			_, err := beneath.Open(filepath.Join(root, "a", "b", "l"), unix.O_RDONLY, 0)
			if err != unix.ELOOP {
				t.Errorf("got %v, want ELOOP", err)
			}
		}},
		{name: "OpenDir", run: func(t *testing.T, root string) {
			fd, err := beneath.OpenDir(filepath.Join(root, "a", "b"))
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if got, want := dirNames(t, fd), []string{"e", "f", "l", "n"}; !slices.Equal(got, want) {
				t.Errorf("names %q, want %q", got, want)
			}
		}},
		{name: "OpenDir of the root", run: func(t *testing.T, root string) {
			fd, err := beneath.OpenDir(root)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			if got, want := dirNames(t, fd), []string{"a"}; !slices.Equal(got, want) {
				t.Errorf("names %q, want %q", got, want)
			}
		}},
		{name: "OpenDir of a file", run: func(t *testing.T, root string) {
			_, err := beneath.OpenDir(filepath.Join(root, "a", "b", "f"))
			if err != unix.ENOTDIR {
				t.Errorf("got %v, want ENOTDIR", err)
			}
		}},
		{name: "Lstat", run: func(t *testing.T, root string) {
			for _, name := range []string{"f", "l", "e"} {
				p := filepath.Join(root, "a", "b", name)
				var st unix.Stat_t
				if err := beneath.Lstat(p, &st); err != nil {
					t.Fatal(err)
				}
				if want := lstat(t, p); st.Ino != want.Ino || st.Mode != want.Mode {
					t.Errorf("%s: ino %d mode %o, want %d %o", name, st.Ino, st.Mode, want.Ino, want.Mode)
				}
			}
		}},
		{name: "Stat follows the last component", run: func(t *testing.T, root string) {
			var st unix.Stat_t
			if err := beneath.Stat(filepath.Join(root, "a", "b", "l"), &st); err != nil {
				t.Fatal(err)
			}
			if want := lstat(t, filepath.Join(root, "a", "b", "f")); st.Ino != want.Ino {
				t.Errorf("ino %d, want %d (f's)", st.Ino, want.Ino)
			}
		}},
		{name: "Lstat missing", run: func(t *testing.T, root string) {
			var st unix.Stat_t
			if err := beneath.Lstat(filepath.Join(root, "a", "nothing", "f"), &st); err != unix.ENOENT {
				t.Errorf("got %v, want ENOENT", err)
			}
		}},
		{name: "Chmod", run: func(t *testing.T, root string) {
			for _, name := range []string{"f", "e"} {
				p := filepath.Join(root, "a", "b", name)
				if err := beneath.Chmod(p, 0o600|unix.S_ISGID); err != nil {
					t.Fatal(err)
				}
				if st := lstat(t, p); st.Mode&0o7777 != 0o600|unix.S_ISGID {
					t.Errorf("%s: mode %o, want 2600", name, st.Mode)
				}
			}
		}},
		{name: "Lchown", needRoot: true, run: func(t *testing.T, root string) {
			p := filepath.Join(root, "a", "b", "f")
			if err := beneath.Lchown(p, 1234, 5678); err != nil {
				t.Fatal(err)
			}
			if st := lstat(t, p); st.Uid != 1234 || st.Gid != 5678 {
				t.Errorf("owner %d:%d, want 1234:5678", st.Uid, st.Gid)
			}
			if err := beneath.Lchown(p, -1, 42); err != nil {
				t.Fatal(err)
			}
			if st := lstat(t, p); st.Uid != 1234 || st.Gid != 42 {
				t.Errorf("owner %d:%d, want 1234:42", st.Uid, st.Gid)
			}
		}},
		{name: "Lutimes", run: func(t *testing.T, root string) {
			p := filepath.Join(root, "a", "b", "e")
			const at, mt = 1_000_000_123, 2_000_000_456
			if err := beneath.Lutimes(p, at, mt); err != nil {
				t.Fatal(err)
			}
			if st := lstat(t, p); st.Atim.Nano() != at || st.Mtim.Nano() != mt {
				t.Errorf("times %d, %d; want %d, %d", st.Atim.Nano(), st.Mtim.Nano(), int64(at), int64(mt))
			}
		}},
		{name: "Remove", run: func(t *testing.T, root string) {
			for _, name := range []string{"f", "l", "e"} {
				p := filepath.Join(root, "a", "b", name)
				if err := beneath.Remove(p); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if exists(t, p) {
					t.Errorf("%s still there", name)
				}
			}
			if err := beneath.Remove(filepath.Join(root, "a", "b", "n")); err != unix.ENOTEMPTY {
				t.Errorf("Remove of a full directory: got %v, want ENOTEMPTY", err)
			}
			if err := beneath.Remove(filepath.Join(root, "a", "b", "f")); err != unix.ENOENT {
				t.Errorf("Remove of a missing file: got %v, want ENOENT", err)
			}
		}},
		{name: "Rename", run: func(t *testing.T, root string) {
			oldp, newp := filepath.Join(root, "a", "b", "f"), filepath.Join(root, "a", "g")
			ino := lstat(t, oldp).Ino
			if err := beneath.Rename(oldp, newp); err != nil {
				t.Fatal(err)
			}
			if exists(t, oldp) || lstat(t, newp).Ino != ino {
				t.Error("not renamed")
			}
		}},
		{name: "Symlink and Readlink", run: func(t *testing.T, root string) {
			p := filepath.Join(root, "a", "b", "s")
			if err := beneath.Symlink("../../elsewhere", p); err != nil {
				t.Fatal(err)
			}
			if s, err := os.Readlink(p); err != nil || s != "../../elsewhere" {
				t.Errorf("os.Readlink = %q, %v", s, err)
			}
			if s, err := beneath.Readlink(p); err != nil || s != "../../elsewhere" {
				t.Errorf("Readlink = %q, %v", s, err)
			}
		}},
		{name: "Readlink of a long target", run: func(t *testing.T, root string) {
			target := strings.Repeat("t/", 600) + "end" // past the first buffer
			p := filepath.Join(root, "a", "long")
			symlink(t, target, p)
			if s, err := beneath.Readlink(p); err != nil || s != target {
				t.Errorf("Readlink = %d bytes, %v; want %d bytes", len(s), err, len(target))
			}
		}},
		{name: "RemoveAll", run: func(t *testing.T, root string) {
			p := filepath.Join(root, "a")
			if err := beneath.RemoveAll(p, nil); err != nil {
				t.Fatal(err)
			}
			if exists(t, p) {
				t.Error("still there")
			}
			if err := beneath.RemoveAll(p, nil); err != nil {
				t.Errorf("RemoveAll of a missing path: %v", err)
			}
		}},
		{name: "XattrPath", run: func(t *testing.T, root string) {
			p := filepath.Join(root, "a", "b", "f")
			xp, done, err := beneath.XattrPath(p)
			if err != nil {
				t.Fatal(err)
			}
			defer done()
			if err := unix.Lsetxattr(xp, "user.pcopy", []byte("v"), 0); err == unix.ENOTSUP || err == unix.EOPNOTSUPP {
				t.Skipf("no user xattrs here: %v", err)
			} else if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 16)
			if n, err := unix.Lgetxattr(p, "user.pcopy", buf); err != nil || string(buf[:n]) != "v" {
				t.Errorf("by path: %q, %v", buf[:n], err)
			}
			if n, err := unix.Lgetxattr(xp, "user.pcopy", buf); err != nil || string(buf[:n]) != "v" {
				t.Errorf("through XattrPath: %q, %v", buf[:n], err)
			}
		}},
	}
	eachMode(t, func(t *testing.T, _ bool) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.needRoot {
					requireRoot(t)
				}
				tt.run(t, newTree(t))
			})
		}
	})
}

// deepTree makes below dir a chain of directories with 200-byte names,
// through descriptors, until the path is longer than PATH_MAX. It returns
// the bottom's path, the names, and an O_PATH descriptor of dir and of
// each directory of the chain (closed at cleanup).
func deepTree(t *testing.T, dir string) (string, []string, []int) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fds := []int{fd}
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	var names []string
	p := dir
	for i := 0; len(p) <= unix.PathMax+400; i++ {
		name := strings.Repeat(string(rune('a'+i%26)), 200)
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		if fd, err = unix.Openat(fd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err != nil {
			t.Fatal(err)
		}
		fds = append(fds, fd)
		names = append(names, name)
		p += "/" + name
	}
	return p, names, fds
}

// TestLongPath: below a held root, a path longer than PATH_MAX works (the
// openat2 route gives ENAMETOOLONG and falls back to components), and a
// symlink deep in it is still refused.
func TestLongPath(t *testing.T) {
	eachMode(t, func(t *testing.T, _ bool) {
		base := t.TempDir()
		root := filepath.Join(base, "root")
		mkdir(t, root)
		deep, names, fds := deepTree(t, root)
		bottom := fds[len(fds)-1]
		if len(deep) <= unix.PathMax {
			t.Fatalf("path of %d bytes, not past PATH_MAX", len(deep))
		}
		hold(t, root, false)

		sub := deep + "/sub"
		if err := beneath.Mkdir(sub, 0o750); err != nil {
			t.Fatalf("Mkdir: %v", err)
		}
		var st unix.Stat_t
		if err := unix.Fstatat(bottom, "sub", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode != unix.S_IFDIR|0o750 {
			t.Fatalf("sub: mode %o, %v; want dir 0750", st.Mode, err)
		}
		f := sub + "/f"
		fd, err := beneath.Open(f, unix.O_CREAT|unix.O_WRONLY|unix.O_EXCL, 0o640)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		unix.Write(fd, []byte("deep"))
		unix.Close(fd)
		if err := unix.Fstatat(bottom, "sub/f", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Size != 4 {
			t.Fatalf("sub/f: size %d, %v; want 4", st.Size, err)
		}
		var bst unix.Stat_t
		if err := beneath.Lstat(f, &bst); err != nil || bst.Ino != st.Ino || bst.Size != 4 {
			t.Errorf("Lstat: ino %d size %d, %v; want ino %d size 4", bst.Ino, bst.Size, err, st.Ino)
		}
		if err := beneath.Chmod(f, 0o600); err != nil {
			t.Errorf("Chmod: %v", err)
		}
		if err := unix.Fstatat(bottom, "sub/f", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode != unix.S_IFREG|0o600 {
			t.Errorf("after Chmod: mode %o, %v", st.Mode, err)
		}
		dfd, err := beneath.OpenDir(sub)
		if err != nil {
			t.Fatalf("OpenDir: %v", err)
		}
		if got := dirNames(t, dfd); !slices.Equal(got, []string{"f"}) {
			t.Errorf("OpenDir lists %q", got)
		}
		unix.Close(dfd)
		if err := beneath.Remove(f); err != nil {
			t.Errorf("Remove: %v", err)
		}
		if err := unix.Fstatat(bottom, "sub/f", &st, unix.AT_SYMLINK_NOFOLLOW); err != unix.ENOENT {
			t.Errorf("after Remove: %v, want ENOENT", err)
		}
		if err := beneath.Remove(sub); err != nil {
			t.Errorf("Remove dir: %v", err)
		}

		// A directory halfway down moved out of the root and swapped for
		// a symlink to outside: neither the bottom, used above, nor its
		// sibling, not used yet, is reached any more.
		if err := unix.Mkdirat(fds[len(fds)-2], "sib", 0o755); err != nil {
			t.Fatal(err)
		}
		sib := filepath.Dir(deep) + "/sib"
		if len(sib) <= unix.PathMax {
			t.Fatalf("sibling path of %d bytes, not past PATH_MAX", len(sib))
		}
		out := filepath.Join(base, "outside")
		mkdir(t, out)
		writeFile(t, filepath.Join(out, "x"), "outside", 0o644)
		k := len(names) / 2
		basefd, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(basefd)
		if err := unix.Renameat(fds[k], names[k], basefd, "listed"); err != nil {
			t.Fatal(err)
		}
		if err := unix.Symlinkat(out, fds[k], names[k]); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, out)
		for _, dir := range []string{deep, sib} {
			if err := beneath.Mkdir(dir+"/sub2", 0o777); !errors.Is(err, beneath.ErrSymlink) {
				t.Errorf("Mkdir through the symlink: %v, want ErrSymlink", err)
			}
			fd, err = beneath.Open(dir+"/x", unix.O_CREAT|unix.O_WRONLY, 0o666)
			if !errors.Is(err, beneath.ErrSymlink) {
				t.Errorf("Open through the symlink: %v, want ErrSymlink", err)
			}
			closeIfOpen(fd, err)
			var st unix.Stat_t
			if err := beneath.Lstat(dir, &st); !errors.Is(err, beneath.ErrSymlink) {
				t.Errorf("Lstat through the symlink: %v, want ErrSymlink", err)
			}
		}
		for _, name := range []string{"sub2", "x"} {
			var st unix.Stat_t
			if err := unix.Fstatat(fds[len(fds)-1], name, &st, unix.AT_SYMLINK_NOFOLLOW); err != unix.ENOENT {
				t.Errorf("%s made in the directory moved out of the root (%v)", name, err)
			}
		}
		var st2 unix.Stat_t
		for _, name := range []string{"sub2", "x"} {
			if err := unix.Fstatat(fds[len(fds)-2], "sib/"+name, &st2, unix.AT_SYMLINK_NOFOLLOW); err != unix.ENOENT {
				t.Errorf("sib/%s made in the directory moved out of the root (%v)", name, err)
			}
		}
		assertUnchanged(t, out, before)
	})
}

// TestSymlinkItself: Chmod of a symlink fails (EOPNOTSUPP) and changes
// nothing; Lchown and Lutimes act on the symlink, not its target.
func TestSymlinkItself(t *testing.T) {
	eachMode(t, func(t *testing.T, _ bool) {
		for _, link := range []string{"to inside", "to outside"} {
			t.Run(link, func(t *testing.T) {
				base := t.TempDir()
				root, out := filepath.Join(base, "root"), filepath.Join(base, "outside")
				mkdir(t, filepath.Join(root, "a"))
				mkdir(t, out)
				writeFile(t, filepath.Join(root, "a", "target"), "inside", 0o640)
				writeFile(t, filepath.Join(out, "target"), "outside", 0o640)
				target := "target"
				if link == "to outside" {
					target = filepath.Join(out, "target")
				}
				l := filepath.Join(root, "a", "l")
				symlink(t, target, l)
				hold(t, root, false)
				targetPath := filepath.Join(root, "a", "target")
				if link == "to outside" {
					targetPath = filepath.Join(out, "target")
				}

				tgt, outside := stateOf(t, targetPath), snapshot(t, out)
				ls := stateOf(t, l)
				if err := beneath.Chmod(l, 0o600); err != unix.EOPNOTSUPP {
					t.Errorf("Chmod of a symlink: %v, want EOPNOTSUPP", err)
				}
				if got := stateOf(t, l); got != ls {
					t.Errorf("Chmod changed the symlink: %s, was %s", fmtState(got), fmtState(ls))
				}
				if got := stateOf(t, targetPath); got != tgt {
					t.Errorf("Chmod changed the target: %s, was %s", fmtState(got), fmtState(tgt))
				}

				if os.Geteuid() == 0 {
					if err := beneath.Lchown(l, 1234, 5678); err != nil {
						t.Errorf("Lchown: %v", err)
					}
					if st := lstat(t, l); st.Uid != 1234 || st.Gid != 5678 {
						t.Errorf("Lchown: symlink owner %d:%d, want 1234:5678", st.Uid, st.Gid)
					}
				}
				const at, mt = 1_000_000_007, 3_000_000_009
				if err := beneath.Lutimes(l, at, mt); err != nil {
					t.Errorf("Lutimes: %v", err)
				}
				if st := lstat(t, l); st.Atim.Nano() != at || st.Mtim.Nano() != mt {
					t.Errorf("Lutimes: symlink times %d, %d; want %d, %d", st.Atim.Nano(), st.Mtim.Nano(), int64(at), int64(mt))
				}
				if got := stateOf(t, targetPath); got != tgt {
					t.Errorf("Lchown/Lutimes changed the target: %s, was %s", fmtState(got), fmtState(tgt))
				}
				assertUnchanged(t, out, outside)
			})
		}
	})
}

func devIno(t *testing.T, p string) [2]uint64 {
	t.Helper()
	st := lstat(t, p)
	return [2]uint64{st.Dev, st.Ino}
}

// TestRemoveAllProtect: a directory the protect function names is neither
// entered nor removed; the rest is.
func TestRemoveAllProtect(t *testing.T) {
	tests := []struct {
		name    string
		protect string   // relative to root/t; "-" for none
		want    error    // from RemoveAll
		left    []string // what remains below root, sorted
	}{
		{name: "none", protect: "-", want: nil, left: nil},
		{name: "top", protect: ".", want: beneath.ErrProtected,
			left: []string{"t", "t/f", "t/p", "t/p/g", "t/q", "t/q/h"}},
		{name: "nested", protect: "p", want: beneath.ErrProtected,
			left: []string{"t", "t/p", "t/p/g"}},
	}
	eachMode(t, func(t *testing.T, _ bool) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				root := filepath.Join(t.TempDir(), "root")
				mkdir(t, filepath.Join(root, "t", "p"))
				mkdir(t, filepath.Join(root, "t", "q"))
				writeFile(t, filepath.Join(root, "t", "f"), "f", 0o644)
				writeFile(t, filepath.Join(root, "t", "p", "g"), "g", 0o644)
				writeFile(t, filepath.Join(root, "t", "q", "h"), "h", 0o644)
				hold(t, root, false)
				var protect func(dev, ino uint64) bool
				if tt.protect != "-" {
					id := devIno(t, filepath.Join(root, "t", tt.protect))
					protect = func(dev, ino uint64) bool { return [2]uint64{dev, ino} == id }
				}
				if err := beneath.RemoveAll(filepath.Join(root, "t"), protect); err != tt.want {
					t.Errorf("RemoveAll: %v, want %v", err, tt.want)
				}
				if got := listTree(t, root); !slices.Equal(got, tt.left) {
					t.Errorf("left %q, want %q", got, tt.left)
				}
			})
		}
	})
}

// listTree lists the paths below dir, relative to it, sorted.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestRemoveAllSymlinkToOutside: RemoveAll removes a symlink to a
// directory outside, never what it points to.
func TestRemoveAllSymlinkToOutside(t *testing.T) {
	eachMode(t, func(t *testing.T, _ bool) {
		for _, top := range []string{"tree", "symlink"} {
			t.Run(top, func(t *testing.T) {
				base := t.TempDir()
				root, out := filepath.Join(base, "root"), filepath.Join(base, "outside")
				mkdir(t, filepath.Join(out, "d"))
				writeFile(t, filepath.Join(out, "x"), "x", 0o644)
				writeFile(t, filepath.Join(out, "d", "y"), "y", 0o644)
				mkdir(t, filepath.Join(root, "t", "sub"))
				writeFile(t, filepath.Join(root, "t", "f"), "f", 0o644)
				symlink(t, out, filepath.Join(root, "t", "link"))
				symlink(t, filepath.Join(out, "d"), filepath.Join(root, "t", "sub", "link2"))
				symlink(t, out, filepath.Join(root, "toplink"))
				hold(t, root, false)
				before := snapshot(t, out)
				p := filepath.Join(root, "t")
				if top == "symlink" {
					p = filepath.Join(root, "toplink")
				}
				if err := beneath.RemoveAll(p, nil); err != nil {
					t.Fatalf("RemoveAll: %v", err)
				}
				if exists(t, p) {
					t.Errorf("%s still there", p)
				}
				assertUnchanged(t, out, before)
			})
		}
	})
}

// TestOutsideRoots: paths outside every held root (the root's parent, a
// sibling whose name starts with the root's) are used by path, symlinks
// followed; a root reached through a symlink is the user's choice.
func TestOutsideRoots(t *testing.T) {
	eachMode(t, func(t *testing.T, _ bool) {
		base := t.TempDir()
		root, real := filepath.Join(base, "root"), filepath.Join(base, "real")
		mkdir(t, filepath.Join(root, "a"))
		mkdir(t, real)
		mkdir(t, filepath.Join(base, "rootx"))
		writeFile(t, filepath.Join(real, "x"), "real x", 0o644)
		symlink(t, real, filepath.Join(base, "ln"))
		symlink(t, real, filepath.Join(base, "rootx", "ln"))
		symlink(t, real, filepath.Join(root, "ln"))
		hold(t, root, false)

		for _, p := range []string{filepath.Join(base, "ln", "x"), filepath.Join(base, "rootx", "ln", "x")} {
			fd, err := beneath.Open(p, unix.O_RDONLY, 0)
			if err != nil {
				t.Errorf("Open %s: %v", p, err)
				continue
			}
			if s := readFd(t, fd); s != "real x" {
				t.Errorf("Open %s read %q", p, s)
			}
			unix.Close(fd)
		}
		if err := beneath.Mkdir(filepath.Join(base, "ln", "made"), 0o755); err != nil {
			t.Errorf("Mkdir through a symlink outside the root: %v", err)
		} else if !exists(t, filepath.Join(real, "made")) {
			t.Error("Mkdir outside the root did not make real/made")
		}
		var st unix.Stat_t
		if err := beneath.Lstat(base, &st); err != nil || st.Ino != lstat(t, base).Ino {
			t.Errorf("Lstat of the root's parent: %v", err)
		}
		if err := beneath.Lstat(root, &st); err != nil || st.Ino != lstat(t, root).Ino {
			t.Errorf("Lstat of the root: %v", err)
		}
		// Below the root, the same symlink is not followed.
		if _, err := beneath.Open(filepath.Join(root, "ln", "x"), unix.O_RDONLY, 0); !errors.Is(err, beneath.ErrSymlink) {
			t.Errorf("Open below the root through a symlink: %v, want ErrSymlink", err)
		}

		for p, want := range map[string]bool{
			base:                                false,
			root:                                false,
			root + "/a":                         true,
			root + "/a/b/c":                     true,
			base + "/rootx/ln":                  false,
			filepath.Join(base, "ln", "x"):      false,
			filepath.Join(base, "root-x", "ln"): false,
		} {
			if got := beneath.Below(p); got != want {
				t.Errorf("Below(%s) = %v, want %v", p, got, want)
			}
		}
	})
}

// TestRootThroughSymlink: a root named through a symlink is reached by
// that symlink (the user named it), and below it nothing is followed.
func TestRootThroughSymlink(t *testing.T) {
	eachMode(t, func(t *testing.T, _ bool) {
		base := t.TempDir()
		root, out := filepath.Join(base, "root"), filepath.Join(base, "outside")
		mkdir(t, root)
		mkdir(t, out)
		symlink(t, root, filepath.Join(base, "rootln"))
		symlink(t, out, filepath.Join(root, "a"))
		named := filepath.Join(base, "rootln")
		hold(t, named, false)
		if err := beneath.Mkdir(named+"/d", 0o755); err != nil {
			t.Fatal(err)
		}
		if !exists(t, filepath.Join(root, "d")) {
			t.Error("Mkdir below a root named through a symlink did not make root/d")
		}
		before := snapshot(t, out)
		if err := beneath.Mkdir(named+"/a/d", 0o755); !errors.Is(err, beneath.ErrSymlink) {
			t.Errorf("Mkdir through a symlink below it: %v, want ErrSymlink", err)
		}
		assertUnchanged(t, out, before)
	})
}

// TestFollowedRoot: below a root held with follow, symlinks are followed;
// an inner root not followed still refuses them, and an inner followed
// root inside a refusing one follows them.
func TestFollowedRoot(t *testing.T) {
	eachMode(t, func(t *testing.T, _ bool) {
		base := t.TempDir()
		root, out := filepath.Join(base, "root"), filepath.Join(base, "outside")
		mkdir(t, filepath.Join(root, "s"))
		mkdir(t, out)
		writeFile(t, filepath.Join(out, "x"), "outside x", 0o644)
		symlink(t, out, filepath.Join(root, "link"))
		symlink(t, out, filepath.Join(root, "s", "link"))

		open := func(p string) (string, error) {
			t.Helper()
			fd, err := beneath.Open(p, unix.O_RDONLY, 0)
			if err != nil {
				return "", err
			}
			defer unix.Close(fd)
			return readFd(t, fd), nil
		}

		release := beneath.Hold(root, true)
		if s, err := open(root + "/link/x"); err != nil || s != "outside x" {
			t.Errorf("followed root: Open root/link/x = %q, %v", s, err)
		}
		if beneath.Below(root + "/link/x") {
			t.Error("Below is true below a followed root")
		}
		release()

		release = beneath.Hold(root, false)
		defer release()
		inner := beneath.Hold(root+"/s", true)
		defer inner()
		if s, err := open(root + "/s/link/x"); err != nil || s != "outside x" {
			t.Errorf("followed inner root: Open root/s/link/x = %q, %v", s, err)
		}
		if _, err := open(root + "/link/x"); !errors.Is(err, beneath.ErrSymlink) {
			t.Errorf("outer root not followed: Open root/link/x: %v, want ErrSymlink", err)
		}
	})
}

// TestHoldSlash: "/" held, everything else is below it.
func TestHoldSlash(t *testing.T) {
	dir := t.TempDir()
	hold(t, "/", false)
	if !beneath.Below(dir + "/x") {
		t.Errorf("Below(%s/x) = false with / held", dir)
	}
	if beneath.Below("/") {
		t.Error("Below(/) = true: a root is not below itself")
	}
	var st unix.Stat_t
	if err := beneath.Lstat(dir, &st); err != nil || st.Ino != lstat(t, dir).Ino {
		t.Errorf("Lstat(%s) below /: %v", dir, err)
	}
}

// TestHoldRefcount: holding twice and releasing once keeps the root; once
// fully released, a path below it is outside (symlinks followed, which the
// snapshot sees); a root held again after it was replaced is the new one.
func TestHoldRefcount(t *testing.T) {
	eachMode(t, func(t *testing.T, _ bool) {
		base := t.TempDir()
		root, out := filepath.Join(base, "root"), filepath.Join(base, "outside")
		mkdir(t, root)
		mkdir(t, out)
		writeFile(t, filepath.Join(out, "x"), "outside x", 0o644)
		symlink(t, out, filepath.Join(root, "a"))
		before := snapshot(t, out)

		r1 := beneath.Hold(root, false)
		r2 := beneath.Hold(root, false)
		if err := beneath.Mkdir(root+"/d1", 0o755); err != nil {
			t.Fatal(err)
		}
		r1()
		if !beneath.Below(root + "/a/x") {
			t.Error("released once of twice: no longer below the root")
		}
		if err := beneath.Mkdir(root+"/d2", 0o755); err != nil {
			t.Errorf("released once of twice: Mkdir: %v", err)
		}
		if err := beneath.Chmod(root+"/a/x", 0o600); !errors.Is(err, beneath.ErrSymlink) {
			t.Errorf("released once of twice: Chmod through the symlink: %v, want ErrSymlink", err)
		}
		assertUnchanged(t, out, before)

		r2()
		if beneath.Below(root + "/a/x") {
			t.Error("released: still below the root")
		}
		if err := beneath.Chmod(root+"/a/x", 0o600); err != nil {
			t.Errorf("released: Chmod by path through the symlink: %v", err)
		}
		// The snapshot sees what got through.
		if d := snapshotDiff(t, out, before); !strings.Contains(d, "x: changed") {
			t.Errorf("the chmod by path did not show in the snapshot: %q", d)
		}

		// Held again after the directory was replaced: the new one.
		if err := os.Rename(root, root+".old"); err != nil {
			t.Fatal(err)
		}
		mkdir(t, root)
		hold(t, root, false)
		if err := beneath.Mkdir(root+"/d3", 0o755); err != nil {
			t.Fatal(err)
		}
		if !exists(t, root+"/d3") || exists(t, root+".old/d3") {
			t.Error("a root held again used the descriptor of the directory released")
		}
	})
}

// TestIdentity: the device and inode of a directory and of each above it,
// found from the directory itself, not its path.
func TestIdentity(t *testing.T) {
	base := t.TempDir()
	p := filepath.Join(base, "a", "b")
	mkdir(t, p)
	symlink(t, p, filepath.Join(base, "ln"))
	deep, _, fds := deepTree(t, p)

	// chain is the identity of p and of each directory above it, by path.
	chain := func(p string) [][2]uint64 {
		var ids [][2]uint64
		for {
			ids = append(ids, devIno(t, p))
			if p == "/" {
				return ids
			}
			p = filepath.Dir(p)
		}
	}

	tests := []struct {
		name string
		path string
		want [][2]uint64 // the directory's identity, then above
	}{
		{name: "plain", path: p, want: chain(p)},
		{name: "through a symlink", path: filepath.Join(base, "ln"), want: chain(p)},
		{name: "root", path: "/", want: chain("/")},
		{name: "longer than PATH_MAX", path: deep, want: func() [][2]uint64 {
			var ids [][2]uint64
			for i := len(fds) - 1; i >= 0; i-- {
				var st unix.Stat_t
				if err := unix.Fstat(fds[i], &st); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, [2]uint64{st.Dev, st.Ino})
			}
			return append(ids, chain(filepath.Dir(p))...)
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev, ino, above, err := beneath.Identity(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			got := append([][2]uint64{{dev, ino}}, above...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Identity(%s) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		if _, _, _, err := beneath.Identity(filepath.Join(base, "nothing")); err != unix.ENOENT {
			t.Errorf("got %v, want ENOENT", err)
		}
	})
}

// TestIdentityBindMount: through a bind mount, the directories above show
// the mount's root as the original directory, which a protect function
// can then recognise.
func TestIdentityBindMount(t *testing.T) {
	requireRoot(t)
	base := t.TempDir()
	orig, mnt := filepath.Join(base, "orig", "src"), filepath.Join(base, "mnt", "m")
	mkdir(t, filepath.Join(orig, "sub"))
	writeFile(t, filepath.Join(orig, "sub", "f"), "source", 0o644)
	mkdir(t, mnt)
	if err := unix.Mount(orig, mnt, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})

	odev, oino, _, err := beneath.Identity(orig)
	if err != nil {
		t.Fatal(err)
	}
	if id := devIno(t, orig); id != [2]uint64{odev, oino} {
		t.Fatalf("Identity(%s) = %v, want %v", orig, [2]uint64{odev, oino}, id)
	}
	dev, ino, above, err := beneath.Identity(filepath.Join(mnt, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	if id := devIno(t, filepath.Join(orig, "sub")); id != [2]uint64{dev, ino} {
		t.Errorf("Identity(m/sub) = %v, want orig/src/sub's %v", [2]uint64{dev, ino}, id)
	}
	if len(above) < 2 {
		t.Fatalf("above = %v, too short", above)
	}
	if above[0] != [2]uint64{odev, oino} {
		t.Errorf("above[0] = %v, want the original directory's %v", above[0], [2]uint64{odev, oino})
	}
	if slices.Contains(above, devIno(t, filepath.Dir(orig))) {
		t.Errorf("above %v holds orig's parent: .. left the mount through the original", above)
	}
	if id := devIno(t, filepath.Dir(mnt)); above[1] != id {
		t.Errorf("above[1] = %v, want the mount point's parent %v", above[1], id)
	}

	// RemoveAll through the bind mount, with the source protected.
	eachMode(t, func(t *testing.T, _ bool) {
		hold(t, base, false)
		protect := func(d, i uint64) bool { return d == odev && i == oino }
		if err := beneath.RemoveAll(filepath.Join(base, "mnt"), protect); err != beneath.ErrProtected {
			t.Errorf("RemoveAll of a tree holding a bind mount of the source: %v, want ErrProtected", err)
		}
		if s := readFile(t, filepath.Join(orig, "sub", "f")); s != "source" {
			t.Errorf("source file now %q", s)
		}
	})
}

// Where a seccomp filter refuses openat2 with EPERM (some containers,
// systemd's SystemCallFilter=), every operation still works, component by
// component, and still refuses a symlinked directory.
func TestOpenat2RefusedBySeccomp(t *testing.T) {
	restore := beneath.FilterOpenat2()
	t.Cleanup(restore)
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "a", "b"), 0o755))
	outside := t.TempDir()
	must(os.Symlink(outside, filepath.Join(root, "link")))
	defer beneath.Hold(root, false)()
	fd, err := beneath.OpenDir(filepath.Join(root, "a", "b"))
	if err != nil {
		t.Fatalf("OpenDir with openat2 refused: %v, want it opened component by component", err)
	}
	unix.Close(fd)
	if err := beneath.Mkdir(filepath.Join(root, "a", "b", "c"), 0o755); err != nil {
		t.Errorf("Mkdir: %v", err)
	}
	if err := beneath.Mkdir(filepath.Join(root, "link", "x"), 0o755); !errors.Is(err, beneath.ErrSymlink) {
		t.Errorf("Mkdir through a symlink: %v, want ErrSymlink", err)
	}
	if _, err := os.Lstat(filepath.Join(outside, "x")); err == nil {
		t.Error("made outside the root")
	}
}
