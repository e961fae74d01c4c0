package copier_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/beneath"
)

// The race tests: a hostile user who can write below SRC or DST swaps a
// directory for a symlink to somewhere else (RENAME_EXCHANGE, atomic) at
// the moment pcopy is about to act on a path through it. pcopy runs as
// root over such trees, so whatever the moment, nothing outside SRC and
// DST may change, nothing from outside may reach DST, and the entries the
// swap spoiled are reported.

// swapEnv carries a swapSpec, as JSON, to the worker processes of this
// test binary (see installSwapHook, called in TestMain).
const swapEnv = "PCOPY_TEST_SWAP"

// swapSpec says when to swap which directory for a symlink.
type swapSpec struct {
	Op     beneath.Op `json:"op"`
	Suffix string     `json:"suffix,omitempty"` // the operation's path ends with this,
	InDir  string     `json:"in_dir,omitempty"` // or the directory holding it does
	// AfterOp (for the coordinator's hook: one process) ignores matches
	// until an operation of this kind was seen.
	AfterOp beneath.Op `json:"after_op,omitempty"`
	Dir     string     `json:"dir"`    // the directory swapped
	Target  string     `json:"target"` // what the symlink put in its place points to
	// Marker is created with O_EXCL by the one process that swaps, so the
	// swap happens once across all processes, and says how it went.
	Marker string `json:"marker"`
}

// noOpenat2Env, set, has worker processes of this test binary resolve
// paths component by component, as on a kernel without openat2.
const noOpenat2Env = "PCOPY_TEST_NO_OPENAT2"

// installSwapHook sets beneath.TestHook in a worker process from swapEnv
// (and turns openat2 off if noOpenat2Env says so).
func installSwapHook() {
	if os.Getenv(noOpenat2Env) != "" {
		beneath.DisableOpenat2(true)
	}
	s := os.Getenv(swapEnv)
	if s == "" {
		return
	}
	var spec swapSpec
	if err := json.Unmarshal([]byte(s), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "worker: bad %s: %v\n", swapEnv, err)
		os.Exit(2)
	}
	beneath.TestHook = spec.hook()
}

func (s swapSpec) matches(op beneath.Op, p string) bool {
	if op != s.Op {
		return false
	}
	return s.Suffix != "" && strings.HasSuffix(p, s.Suffix) ||
		s.InDir != "" && strings.HasSuffix(filepath.Dir(p), s.InDir)
}

// hook returns the test hook: on the first operation that matches, it
// swaps (once across processes) and returns, so that the operation goes
// on against the swapped tree.
func (s swapSpec) hook() func(beneath.Op, string) {
	var mu sync.Mutex
	armed, done := s.AfterOp == "", false
	return func(op beneath.Op, p string) {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		if !armed {
			armed = op == s.AfterOp
			return
		}
		if !s.matches(op, p) {
			return
		}
		done = true
		s.swap(op, p)
	}
}

// swapLink is where the symlink is prepared, beside the directory; after
// the exchange the directory itself is there.
func swapLink(dir string) string { return dir + ".swap" }

func (s swapSpec) swap(op beneath.Op, p string) {
	f, err := os.OpenFile(s.Marker, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return // another process swapped, or failed to: its marker says
	}
	defer f.Close()
	link := swapLink(s.Dir)
	if err := os.Symlink(s.Target, link); err != nil {
		fmt.Fprintf(f, "FAILED: symlink: %v", err)
		return
	}
	if err := unix.Renameat2(unix.AT_FDCWD, s.Dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
		fmt.Fprintf(f, "FAILED: exchange: %v", err)
		return
	}
	fmt.Fprintf(f, "swapped at %s %s in pid %d", op, p, os.Getpid())
}

// raceTree is one test's world: SRC, DST, and OUTSIDE, which holds a
// directory and a file a swapped directory's symlink points to.
type raceTree struct {
	base, src, dst  string
	outside         string // the root of what must never change
	outDir, outFile string // the symlinks' targets
	secret          string // in every file of OUTSIDE, never in SRC
}

var srcNames = []string{"top.txt", "f1", "f2", "big", "hl", "hl2", "link", "b", "ro", "owned", "extra", "extra2", "xdir"}

// newRaceTree builds SRC:
//
//	top.txt          3 KiB 0644
//	a/               0755
//	  b/             0750, xattr user.mark
//	    f1           3 KiB 0644
//	  big            1 MiB 0644
//	  f1             4 KiB 0600
//	  f2             2 KiB 0755
//	  hl             2 KiB 0644, a hard link with h/hl2
//	  link -> f1
//	  owned/         0755, uid/gid 65534 as root
//	    f1           1 KiB 0644, uid/gid 65534 as root
//	  ro/            0555
//	    f1           1 KiB 0444
//	h/
//	  hl2            the same file as a/hl
//
// and OUTSIDE: dir/ with a fake shadow file and a file or directory at
// every name SRC uses, each holding the secret (mode 0600, owned by
// 65534, for several), and file, mode 0600; both carry the secret as an
// extended attribute too.
func newRaceTree(t *testing.T) *raceTree {
	t.Helper()
	base := t.TempDir()
	tr := &raceTree{base: base, src: filepath.Join(base, "src"), dst: filepath.Join(base, "dst"),
		outside: filepath.Join(base, "outside"), secret: fmt.Sprintf("SECRET-%016x", rand.Uint64())}
	tr.outDir, tr.outFile = filepath.Join(tr.outside, "dir"), filepath.Join(tr.outside, "file")
	root := os.Geteuid() == 0
	t.Cleanup(func() {
		// Read-only directories (a/ro, and its copies) would keep their
		// entries from being removed by a user other than root.
		filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})

	kib := func(n int, name string) string {
		line := fmt.Sprintf("%s: the source's own data\n", name)
		return strings.Repeat(line, n*1024/len(line)+1)[:n*1024]
	}
	src := tr.src
	writeFile(t, filepath.Join(src, "top.txt"), kib(3, "top"), 0o644, t0)
	writeFile(t, filepath.Join(src, "a", "b", "f1"), kib(3, "a/b/f1"), 0o644, t0.Add(1))
	writeFile(t, filepath.Join(src, "a", "big"), kib(1024, "a/big"), 0o644, t0.Add(2))
	writeFile(t, filepath.Join(src, "a", "f1"), kib(4, "a/f1"), 0o600, t0.Add(3))
	writeFile(t, filepath.Join(src, "a", "f2"), kib(2, "a/f2"), 0o755, t0.Add(4))
	writeFile(t, filepath.Join(src, "a", "hl"), kib(2, "a/hl"), 0o644, t0.Add(5))
	must(t, os.Symlink("f1", filepath.Join(src, "a", "link")))
	writeFile(t, filepath.Join(src, "a", "owned", "f1"), kib(1, "a/owned/f1"), 0o644, t0.Add(6))
	writeFile(t, filepath.Join(src, "a", "ro", "f1"), kib(1, "a/ro/f1"), 0o444, t0.Add(7))
	must(t, os.MkdirAll(filepath.Join(src, "h"), 0o755))
	must(t, os.Link(filepath.Join(src, "a", "hl"), filepath.Join(src, "h", "hl2")))
	setxattr(t, filepath.Join(src, "a", "b"), "user.mark", []byte("the source's own attribute"))
	if root {
		must(t, os.Lchown(filepath.Join(src, "a", "owned", "f1"), 65534, 65534))
		must(t, os.Lchown(filepath.Join(src, "a", "owned"), 65534, 65534))
	}
	fixDirTimes(t, src)
	must(t, os.Chmod(filepath.Join(src, "a", "b"), 0o750))
	must(t, os.Chmod(filepath.Join(src, "a", "ro"), 0o555))
	for i, d := range []string{"a/b", "a/owned", "a/ro", "a", "h", "."} {
		mt := t0.Add(time.Duration(i+1) * time.Hour)
		must(t, os.Chtimes(filepath.Join(src, d), mt, mt))
	}

	// OUTSIDE.
	secretData := func(name string) string {
		return fmt.Sprintf("%s: outside, not to be read or changed: %s\n", name, tr.secret)
	}
	shadow := fmt.Sprintf("root:$6$%s$fake:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n", tr.secret)
	writeFile(t, filepath.Join(tr.outDir, "shadow"), shadow, 0o600, t0.Add(-time.Hour))
	for i, name := range srcNames {
		p := filepath.Join(tr.outDir, name)
		switch name {
		case "b", "xdir", "owned", "ro": // directories in SRC or DST: a directory here too
			writeFile(t, filepath.Join(p, "f1"), secretData(name+"/f1"), 0o600, t0.Add(-time.Minute))
			writeFile(t, filepath.Join(p, "inner"), secretData(name+"/inner"), 0o644, t0.Add(-time.Minute))
			must(t, os.Chtimes(p, t0.Add(-time.Minute), t0.Add(-time.Minute)))
		default:
			mode := os.FileMode(0o644)
			if i%2 == 0 {
				mode = 0o600
			}
			writeFile(t, p, secretData(name), mode, t0.Add(-time.Duration(i)*time.Second))
		}
	}
	writeFile(t, tr.outFile, secretData("file"), 0o600, t0.Add(-2*time.Hour))
	setxattr(t, tr.outDir, "user.secret", []byte(tr.secret))
	setxattr(t, tr.outFile, "user.secret", []byte(tr.secret))
	setxattr(t, filepath.Join(tr.outDir, "shadow"), "user.secret", []byte(tr.secret))
	if root {
		for _, p := range []string{"dir/shadow", "dir/f1", "dir/big", "dir/b/f1", "dir/b", "file"} {
			must(t, os.Lchown(filepath.Join(tr.outside, p), 65534, 65534))
		}
	}
	must(t, os.Chmod(tr.outDir, 0o750))
	must(t, os.Chtimes(tr.outDir, t0.Add(-3*time.Hour), t0.Add(-3*time.Hour)))
	must(t, os.Chtimes(tr.outside, t0.Add(-3*time.Hour), t0.Add(-3*time.Hour)))
	return tr
}

// treeSnapshot records every entry below root (root included), without
// following symlinks: type, mode, owner, size, link count, mtime (to the
// nanosecond), content (by hash), symlink target and extended attributes.
type treeSnapshot map[string]string

// snapshotTree takes a treeSnapshot of root; the mtimes of the entries
// named in noMtime (relative to root) are left out.
func snapshotTree(t *testing.T, root string, noMtime ...string) treeSnapshot {
	t.Helper()
	snap := treeSnapshot{}
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var b strings.Builder
		fmt.Fprintf(&b, "type=%o mode=%04o uid=%d gid=%d size=%d nlink=%d", st.Mode&unix.S_IFMT, st.Mode&0o7777, st.Uid, st.Gid, st.Size, st.Nlink)
		if !slices.Contains(noMtime, rel) {
			fmt.Fprintf(&b, " mtime=%d", st.Mtim.Nano())
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " sha256=%x", sha256.Sum256(data))
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " -> %q", target)
		}
		for _, x := range xattrsOf(p) {
			fmt.Fprintf(&b, " xattr %s", x)
		}
		snap[rel] = b.String()
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot of %s: %v", root, err)
	}
	return snap
}

// xattrsOf lists the extended attributes of p itself as name=value.
func xattrsOf(p string) []string {
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil
	}
	var out []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" {
			continue
		}
		v := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(p, name, v)
		if err != nil {
			out = append(out, fmt.Sprintf("%s (%v)", name, err))
			continue
		}
		out = append(out, fmt.Sprintf("%s=%q", name, v[:m]))
	}
	sort.Strings(out)
	return out
}

// assertUnchanged fails for every difference between two snapshots of
// what (a tree that must not change).
func assertUnchanged(t *testing.T, what string, before, after treeSnapshot) {
	t.Helper()
	var keys []string
	for k := range before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		b, inBefore := before[k]
		a, inAfter := after[k]
		switch {
		case !inAfter:
			t.Errorf("%s changed: %s was removed (was %s)", what, k, b)
		case !inBefore:
			t.Errorf("%s changed: %s appeared (%s)", what, k, a)
		case a != b:
			t.Errorf("%s changed: %s\n\tbefore: %s\n\tafter:  %s", what, k, b, a)
		}
	}
}

// assertNothingFrom fails if any file below dst holds secret, or any
// entry's extended attributes do: data from OUTSIDE reached DST. Symlinks
// are not followed (the swap's own symlink points outside).
func assertNothingFrom(t *testing.T, dst, secret string) {
	t.Helper()
	filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("walk %s: %v", p, err)
			}
			return nil
		}
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Errorf("read %s: %v", p, err)
			} else if bytes.Contains(data, []byte(secret)) {
				t.Errorf("data from OUTSIDE reached DST: %s holds the secret", p)
			}
		}
		for _, x := range xattrsOf(p) {
			if strings.Contains(x, secret) {
				t.Errorf("an extended attribute from OUTSIDE reached DST: %s has %s", p, x)
			}
		}
		return nil
	})
}

// undoSwap puts the directory back where the swap took it from and
// removes the symlink, if the swap happened.
func undoSwap(t *testing.T, dir string) {
	t.Helper()
	link := swapLink(dir)
	li, err1 := os.Lstat(dir)
	di, err2 := os.Lstat(link)
	if err1 == nil && err2 == nil && li.Mode()&fs.ModeSymlink != 0 && di.IsDir() {
		must(t, unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE))
	}
	if li, err := os.Lstat(link); err == nil && li.Mode()&fs.ModeSymlink != 0 {
		must(t, os.Remove(link))
	}
}

// swapCase is one operation raced by a swap.
type swapCase struct {
	name    string
	op      beneath.Op
	suffix  string     // the operation's path ends with this,
	inDir   string     // or the directory holding it does
	afterOp beneath.Op // (coordinator) matches count only after this operation
	swap    string     // the directory swapped, relative to the test's base
	coord   bool       // the operation runs in the coordinator (this process), not in a worker
	root    bool       // needs root
	prep    func(t *testing.T, tr *raceTree, opts copier.Options)
	opts    func(o *copier.Options)
	// legit, when set, says why the copy may succeed: the operation,
	// raced, lands on the symlink itself, inside DST, which is not an
	// error; nothing outside changes (checked all the same).
	legit string
}

// rerun copies SRC to DST once before the raced run, which then finds DST
// as a complete earlier copy left it.
func rerun(t *testing.T, tr *raceTree, opts copier.Options) {
	t.Helper()
	opts.Delete, opts.Update, opts.SplitSize = false, copier.UpdateChanged, 0
	if sum, err := processCopyOpts(t, opts); err != nil {
		t.Fatalf("the copy before the raced run: %v (%v)", err, sum.Errors)
	}
}

// withExtras is rerun, then DST gets entries SRC lacks, which --delete
// removes: at names OUTSIDE's directory has too.
func withExtras(t *testing.T, tr *raceTree, opts copier.Options) {
	t.Helper()
	rerun(t, tr, opts)
	writeFile(t, filepath.Join(tr.dst, "a", "extra"), "DST's own extra file", 0o644, t0)
	writeFile(t, filepath.Join(tr.dst, "a", "b", "extra2"), "DST's own extra file", 0o644, t0)
	writeFile(t, filepath.Join(tr.dst, "a", "xdir", "inner"), "DST's own extra file", 0o644, t0)
	writeFile(t, filepath.Join(tr.dst, "a", "xdir", "f1"), "DST's own extra file", 0o644, t0)
}

func raceCases() []swapCase {
	deleteOpts := func(o *copier.Options) { o.Delete = true }
	split := func(o *copier.Options) { o.SplitSize = 512 << 10 }
	return []swapCase{
		// The coordinator's operations.
		{name: "mkdir of a DST directory, its parent swapped", op: beneath.OpMkdir, suffix: "/dst/a/b", swap: "dst/a", coord: true},
		// A finished DST directory gets its owner, xattrs, mode and times
		// through one descriptor of it, opened without following a
		// symlink (OpOpenDir): whatever is at its name then, only that
		// directory is changed, and anything else is reported.
		{name: "mode of a DST directory when finished, itself swapped", op: beneath.OpOpenDir, suffix: "/dst/a/ro", swap: "dst/a/ro", coord: true},
		{name: "mode of a DST directory when finished, its parent swapped", op: beneath.OpOpenDir, suffix: "/dst/a/ro", swap: "dst/a", coord: true},
		{name: "owner of a DST directory when finished, itself swapped", op: beneath.OpOpenDir, suffix: "/dst/a/owned", swap: "dst/a/owned", coord: true, root: true},
		{name: "owner of a DST directory when finished, its parent swapped", op: beneath.OpOpenDir, suffix: "/dst/a/owned", swap: "dst/a", coord: true, root: true},
		{name: "times and xattrs of a DST directory when finished, itself swapped", op: beneath.OpOpenDir, suffix: "/dst/a/b", swap: "dst/a/b", coord: true},
		{name: "times and xattrs of a DST directory when finished, its parent swapped", op: beneath.OpOpenDir, suffix: "/dst/a/b", swap: "dst/a", coord: true},
		// A source directory's extended attributes are read by the
		// coordinator when the directory is finished (a/b has one), through a
		// descriptor of a/b (OpOpenDir): they
		// must come from a/b itself, never through the symlink, and the
		// swap be reported, as a worker reports a file's.
		{name: "xattrs of a SRC directory when finished, itself swapped", op: beneath.OpOpenDir, suffix: "/src/a/b", swap: "src/a/b", coord: true},
		{name: "unlink by --delete, the DST directory deleted from swapped", op: beneath.OpUnlink, suffix: "/dst/a/extra", swap: "dst/a", coord: true,
			prep: withExtras, opts: deleteOpts},
		{name: "unlink by --delete, the DST directory deleted swapped", op: beneath.OpUnlink, suffix: "/dst/a/xdir", swap: "dst/a/xdir", coord: true,
			prep: withExtras, opts: deleteOpts,
			legit: "what is removed is the symlink itself, an entry of DST that SRC lacks; the directory (now beside it) is not entered"},
		{name: "unlink by --delete inside a directory being removed, that directory swapped", op: beneath.OpUnlink, suffix: "/dst/a/xdir/inner", swap: "dst/a/xdir", coord: true,
			prep: withExtras, opts: deleteOpts},
		{name: "times set after --delete, the parent swapped", op: beneath.OpTimes, afterOp: beneath.OpUnlink, suffix: "/dst/a/b", swap: "dst/a", coord: true,
			prep: withExtras, opts: deleteOpts},
		{name: "removal of a stale temporary file, its DST directory swapped", op: beneath.OpUnlink, suffix: "-1-00000000deadbeef.tmp", swap: "dst/a", coord: true,
			prep: withStaleTemp},
		{name: "open of a split file's temporary file to finish it, its DST directory swapped", op: beneath.OpOpen, inDir: "/dst/a", swap: "dst/a", coord: true,
			opts: split},
		{name: "rename of a split file into place, its DST directory swapped", op: beneath.OpRename, suffix: "/dst/a/big", swap: "dst/a", coord: true,
			opts: split},

		// The workers' operations. The fast path opens a regular file's
		// source, and creates, links and renames its copy, relative to
		// its directories' descriptors (OpOpenDir): those calls pass no
		// hook. So OpOpen is a symlink's readlink, or a source opened to
		// compare it (--checksum); OpCreate, OpTimes and OpRename are a
		// symlink's copy.
		{name: "open of a SRC directory", op: beneath.OpOpenDir, suffix: "/src/a", swap: "src/a"},
		{name: "open of a SRC symlink (readlink)", op: beneath.OpOpen, suffix: "/src/a/link", swap: "src/a"},
		{name: "open of a SRC file to compare it (--checksum re-run)", op: beneath.OpOpen, suffix: "/src/a/f1", swap: "src/a",
			prep: rerun, opts: func(o *copier.Options) { o.Update = copier.UpdateChecksum }},
		{name: "open of a DST directory to create files in it", op: beneath.OpOpenDir, suffix: "/dst/a", swap: "dst/a"},
		{name: "create of a symlink in DST", op: beneath.OpCreate, inDir: "/dst/a", swap: "dst/a"},
		{name: "times of a new symlink in DST", op: beneath.OpTimes, inDir: "/dst/a", swap: "dst/a"},
		// linkat's target is reached with beneath.Dir, which calls no
		// hook: the swap comes as the worker opens the link's own DST
		// directory, just before.
		{name: "hard link, the DST directory of the file linked to swapped", op: beneath.OpOpenDir, suffix: "/dst/h", swap: "dst/a"},
		{name: "rename of a symlink into place (re-run)", op: beneath.OpRename, suffix: "/dst/a/link", swap: "dst/a",
			prep: func(t *testing.T, tr *raceTree, opts copier.Options) {
				rerun(t, tr, opts)
				link := filepath.Join(tr.src, "a", "link")
				must(t, os.Remove(link))
				must(t, os.Symlink("f2", link))
			}},
		{name: "chmod of a DST file found up to date (re-run)", op: beneath.OpChmod, suffix: "/dst/a/f2", swap: "dst/a",
			legit: "the worker works through the directory it holds open: the mode goes to the very file it looked at, in that directory, renamed aside within DST",
			prep: func(t *testing.T, tr *raceTree, opts copier.Options) {
				rerun(t, tr, opts)
				must(t, os.Chmod(filepath.Join(tr.dst, "a", "f2"), 0o700))
			}},
	}
}

// withStaleTemp is rerun, then DST/a gets a temporary file of a run that
// died, which the next run removes.
func withStaleTemp(t *testing.T, tr *raceTree, opts copier.Options) {
	t.Helper()
	rerun(t, tr, opts)
	dead := exec.Command("true")
	must(t, dead.Run())
	name := fmt.Sprintf("%s%d-1-00000000deadbeef.tmp", copier.TempPrefix, dead.Process.Pid)
	p := filepath.Join(tr.dst, "a", name)
	writeFile(t, p, "half a file", 0o600, t0)
	markAsPcopyTemp(t, p)
	// OUTSIDE has a file of that name too.
	writeFile(t, filepath.Join(tr.outDir, name), "outside: "+tr.secret, 0o600, t0)
	must(t, os.Chtimes(tr.outDir, t0.Add(-3*time.Hour), t0.Add(-3*time.Hour)))
}

// TestRaceSwapDirForSymlink swaps, at the moment of each kind of
// operation below SRC or DST, the directory it goes through (or acts on)
// for a symlink to a directory outside, and to a file outside, with real
// worker processes; see raceCases. After each run: nothing outside
// changed, nothing from outside is in DST, SRC is as it was (the swap
// undone), and the spoiled entries are reported (or the run's success is
// right, as the case says).
func TestRaceSwapDirForSymlink(t *testing.T) {
	root := os.Geteuid() == 0
	var exercised []string
	for _, c := range raceCases() {
		for _, v := range []struct {
			target    string
			noOpenat2 bool
		}{{"dir", false}, {"file", false}, {"dir", true}, {"file", true}} {
			target := v.target
			name := c.name + "/to an outside " + target
			if v.noOpenat2 {
				name += ", without openat2"
			}
			t.Run(name, func(t *testing.T) {
				if c.root && !root {
					t.Skip("needs root: a source owned by another user")
				}
				if v.noOpenat2 {
					// Every process resolves component by component, as
					// on a kernel before 5.6.
					beneath.DisableOpenat2(true)
					t.Cleanup(func() { beneath.DisableOpenat2(false) })
					t.Setenv(noOpenat2Env, "1")
				}
				tr := newRaceTree(t)
				opts := copier.Options{Src: tr.src, Dst: tr.dst, Workers: 2}
				if c.opts != nil {
					c.opts(&opts)
				}
				if opts.SplitSize > 0 {
					copier.SetMinPart(t.Cleanup, 1<<20)
				}
				if c.prep != nil {
					c.prep(t, tr, opts)
				}
				spec := swapSpec{Op: c.op, Suffix: c.suffix, InDir: c.inDir, AfterOp: c.afterOp,
					Dir: filepath.Join(tr.base, c.swap), Target: tr.outDir, Marker: filepath.Join(tr.base, "swap.done")}
				if target == "file" {
					spec.Target = tr.outFile
				}
				inSrc := strings.HasPrefix(c.swap, "src/")
				outBefore := snapshotTree(t, tr.outside)
				var noMtime []string
				if inSrc {
					// The swap itself changes the mtime of the directory
					// holding the swapped one.
					noMtime = append(noMtime, filepath.Dir(strings.TrimPrefix(c.swap, "src/")))
				}
				srcBefore := snapshotTree(t, tr.src, noMtime...)

				where := "a worker"
				if c.coord {
					where = "the coordinator"
					old := beneath.TestHook
					beneath.TestHook = spec.hook()
					t.Cleanup(func() { beneath.TestHook = old })
				} else {
					js, err := json.Marshal(spec)
					must(t, err)
					t.Setenv(swapEnv, string(js))
				}
				sum, err := processCopyOpts(t, opts)
				if c.coord {
					beneath.TestHook = nil
				}

				marker, merr := os.ReadFile(spec.Marker)
				if merr != nil {
					t.Fatalf("the swap never happened: no %s %s in %s matched (%v); copy: %v", c.op, c.suffix+c.inDir, where, merr, err)
				}
				if !strings.HasPrefix(string(marker), "swapped") {
					t.Fatalf("the swap failed: %s", marker)
				}
				t.Logf("%s in %s: %s; %s -> %s", c.op, where, marker, c.swap, strings.TrimPrefix(spec.Target, tr.base+"/"))
				t.Logf("copy: err=%v, %d errors, %d warnings", err, len(sum.Errors), len(sum.Warnings))
				for i, e := range sum.Errors {
					if i == 5 {
						t.Logf("  ... %d more", len(sum.Errors)-i)
						break
					}
					t.Logf("  error: %v", e)
				}
				for _, w := range sum.Warnings {
					t.Logf("  warning: %s", w)
				}

				// (a) Nothing outside SRC and DST changed, and SRC is as it was.
				assertUnchanged(t, "OUTSIDE", outBefore, snapshotTree(t, tr.outside))
				if inSrc {
					undoSwap(t, filepath.Join(tr.base, c.swap))
				}
				assertUnchanged(t, "SRC", srcBefore, snapshotTree(t, tr.src, noMtime...))
				// (b) Nothing from outside reached DST.
				assertNothingFrom(t, tr.dst, tr.secret)
				// (c) What the swap spoiled is reported.
				reported := errors.Is(err, copier.ErrIncomplete) && len(sum.Errors) > 0
				switch {
				case err != nil && !errors.Is(err, copier.ErrIncomplete):
					t.Errorf("copy failed as a whole: %v; want some entries reported (ErrIncomplete)", err)
				case !reported && c.legit == "":
					t.Errorf("copy: err=%v with %d errors; want the swapped entry reported (ErrIncomplete)", err, len(sum.Errors))
				case !reported:
					t.Logf("succeeded, as it may: %s", c.legit)
				}
				outcome := "reported"
				if !reported {
					outcome = "succeeded"
				}
				resolve := "openat2"
				if v.noOpenat2 {
					resolve = "by component"
				}
				exercised = append(exercised, fmt.Sprintf("%-8s in %-15s %-5s %-12s %s (%s)", c.op, where, target, resolve, c.name, outcome))
			})
		}
	}
	t.Logf("operations exercised (each swap confirmed by its marker):\n\t%s", strings.Join(exercised, "\n\t"))
}

// TestRaceSwapStress copies a tree of 2000 small files in 40 directories
// 20 times (into a new DST, or again into the last), and mirrors it
// (--delete) 5 times, while a goroutine keeps exchanging a directory of
// DST, or of SRC, with a symlink to a directory or a file outside, back
// and forth at random moments (in the --delete runs, from the first
// deletion on: a swap during the copy makes it fail, and then nothing is
// deleted). After every run, nothing outside changed and nothing from
// outside is in DST.
func TestRaceSwapStress(t *testing.T) {
	if testing.Short() {
		t.Skip("a stress test: not with -short")
	}
	base := t.TempDir()
	src, dst, outside := filepath.Join(base, "src"), filepath.Join(base, "dst"), filepath.Join(base, "outside")
	secret := fmt.Sprintf("SECRET-%016x", rand.Uint64())
	const dirs, perDir, extras = 40, 50, 30
	for d := range dirs {
		for f := range perDir {
			writeFile(t, filepath.Join(src, fmt.Sprintf("d%02d", d), fmt.Sprintf("f%03d", f)),
				strings.Repeat(fmt.Sprintf("d%02d/f%03d ", d, f), 10+f), 0o644, t0.Add(time.Duration(f)))
		}
	}
	fixDirTimes(t, src)
	outDir, outFile := filepath.Join(outside, "dir"), filepath.Join(outside, "file")
	for f := range perDir {
		writeFile(t, filepath.Join(outDir, fmt.Sprintf("f%03d", f)), "outside: "+secret, 0o600, t0)
	}
	for e := range extras {
		writeFile(t, filepath.Join(outDir, fmt.Sprintf("extra%02d", e)), "outside: "+secret, 0o644, t0)
	}
	writeFile(t, outFile, "outside: "+secret, 0o600, t0)
	setxattr(t, outDir, "user.secret", []byte(secret))
	setxattr(t, outFile, "user.secret", []byte(secret))
	if os.Geteuid() == 0 {
		must(t, os.Lchown(outFile, 65534, 65534))
		must(t, os.Lchown(filepath.Join(outDir, "f000"), 65534, 65534))
	}
	must(t, os.Chtimes(outDir, t0, t0))
	outBefore := snapshotTree(t, outside)

	type run struct{ inSrc, delete, fresh bool }
	var runs []run
	for i := range 20 {
		runs = append(runs, run{inSrc: i%2 == 1, fresh: i%4 < 2})
	}
	for range 5 {
		runs = append(runs, run{delete: true})
	}
	var swaps, reported, deleted int64
	for i, r := range runs {
		if r.fresh {
			must(t, os.RemoveAll(dst))
		}
		name := fmt.Sprintf("d%02d", 7+i) // a directory no earlier run swapped
		dir := filepath.Join(dst, name)
		if r.inSrc {
			dir = filepath.Join(src, name)
		}
		target := outDir
		if i%3 == 2 {
			target = outFile
		}
		start := make(chan struct{})
		if r.delete {
			// DST's own files, which SRC lacks: many in the directory
			// swapped, one in each other.
			for d := range dirs {
				n := 1
				if d == 7+i {
					n = extras
				}
				for e := range n {
					writeFile(t, filepath.Join(dst, fmt.Sprintf("d%02d", d), fmt.Sprintf("extra%02d", e)), "DST's own", 0o644, t0)
				}
			}
			var once sync.Once
			beneath.TestHook = func(op beneath.Op, p string) {
				if op == beneath.OpUnlink {
					once.Do(func() { close(start) })
				}
			}
		} else {
			close(start)
		}
		var n atomic.Int64
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			select {
			case <-start:
			case <-stop:
				return
			}
			link := swapLink(dir)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := os.Lstat(link); err != nil {
					os.Symlink(target, link) // DST's --delete may have removed it
				}
				if unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE) == nil {
					n.Add(1)
				}
				time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond)
			}
		}()
		sum, err := processCopyOpts(t, copier.Options{Src: src, Dst: dst, Workers: 2, Delete: r.delete})
		close(stop)
		<-done
		beneath.TestHook = nil
		swaps += n.Load()
		deleted += sum.Deleted

		// Put things back: the directory at its name, no symlink left.
		if li, err := os.Lstat(dir); err == nil && li.Mode()&fs.ModeSymlink != 0 {
			if di, err := os.Lstat(swapLink(dir)); err == nil && di.IsDir() {
				must(t, unix.Renameat2(unix.AT_FDCWD, dir, unix.AT_FDCWD, swapLink(dir), unix.RENAME_EXCHANGE))
			} else if !r.inSrc {
				must(t, os.Remove(dir)) // --delete removed the directory, then beside it
			} else {
				t.Fatalf("run %d: %s is a symlink and the directory is gone from beside it", i, dir)
			}
		}
		if li, err := os.Lstat(swapLink(dir)); err == nil && (li.Mode()&fs.ModeSymlink != 0 || !r.inSrc) {
			must(t, os.RemoveAll(swapLink(dir)))
		}
		if r.inSrc {
			// What the copy made of SRC's symlink, or of the directory
			// beside it, in DST: the next runs would stop at it.
			must(t, os.RemoveAll(filepath.Join(dst, name)))
			must(t, os.RemoveAll(swapLink(filepath.Join(dst, name))))
		}

		if err != nil {
			reported++
			if !errors.Is(err, copier.ErrIncomplete) {
				t.Errorf("run %d: copy failed as a whole: %v", i, err)
			}
		}
		t.Logf("run %2d (%s, delete=%v, fresh=%v): %d swaps; err=%v, %d errors, %d deleted", i, strings.TrimPrefix(dir, base+"/"), r.delete, r.fresh, n.Load(), err, len(sum.Errors), sum.Deleted)
		for j, e := range sum.Errors {
			if j < 3 {
				t.Logf("\t%v", e)
			}
		}
		assertUnchanged(t, fmt.Sprintf("OUTSIDE after run %d", i), outBefore, snapshotTree(t, outside))
		assertNothingFrom(t, dst, secret)
		if t.Failed() {
			t.FailNow()
		}
	}
	if swaps == 0 {
		t.Fatal("no swap happened")
	}
	if deleted == 0 {
		t.Error("no --delete run deleted anything: the deletions were not raced")
	}
	t.Logf("%d runs, %d swaps, %d runs reported entries spoiled by a swap, %d entries deleted", len(runs), swaps, reported, deleted)
}

// bindMount bind-mounts dir at mnt (made here) for the rest of the test,
// or skips it where that is not allowed.
func bindMount(t *testing.T, dir, mnt string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("bind mounts need root")
	}
	must(t, os.MkdirAll(mnt, 0o755))
	if err := unix.Mount(dir, mnt, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount %s at %s: %v", dir, mnt, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
}

// --delete from SRC, reached through a bind mount of a directory of DST
// that holds it, removes neither that directory nor anything below it (SRC
// included), and says so.
func TestRaceBindMountDeleteKeepsSource(t *testing.T) {
	base := t.TempDir()
	dd := filepath.Join(base, "dd")
	writeFile(t, filepath.Join(dd, "sub", "src", "f"), "the source", 0o644, t0)
	writeFile(t, filepath.Join(dd, "sub", "src", "d", "g"), "more of the source", 0o600, t0)
	writeFile(t, filepath.Join(dd, "sub", "beside-src"), "kept too", 0o644, t0)
	writeFile(t, filepath.Join(dd, "old"), "DST's own: deleted", 0o644, t0)
	fixDirTimes(t, dd)
	bm := filepath.Join(base, "bm")
	bindMount(t, filepath.Join(dd, "sub"), bm)
	before := snapshotTree(t, filepath.Join(dd, "sub"))

	sum, err := processCopyOpts(t, copier.Options{Src: filepath.Join(bm, "src"), Dst: dd, Workers: 2, Delete: true,
		DeleteUnrelated: true}) // dd shares no name with SRC: past that guard, to the identity check
	t.Logf("copy: err=%v, errors %v, warnings %q", err, sum.Errors, sum.Warnings)
	if !errors.Is(err, copier.ErrIncomplete) || len(sum.Errors) == 0 {
		t.Errorf("err = %v (%d errors), want the refusal to delete sub reported (ErrIncomplete)", err, len(sum.Errors))
	}
	refused := false
	for _, e := range sum.Errors {
		refused = refused || e.Path == "sub" && errors.Is(e, beneath.ErrProtected)
	}
	if !refused {
		t.Errorf("errors %v do not say sub was kept as it holds SRC", sum.Errors)
	}
	assertUnchanged(t, "dd/sub (holding SRC)", before, snapshotTree(t, filepath.Join(dd, "sub")))
	if b, err := os.ReadFile(filepath.Join(dd, "d", "g")); err != nil || string(b) != "more of the source" {
		t.Errorf("dd/d/g: %q, %v; want SRC's d/g copied", b, err)
	}
}

// A DST inside SRC only through a bind mount (SRC s, DST s/inner/dst
// named bm2/dst, bm2 a bind mount of s/inner) is not copied into itself:
// the walk does not enter it, and says so.
func TestRaceBindMountDestinationInsideSource(t *testing.T) {
	for _, exists := range []bool{false, true} {
		t.Run(fmt.Sprintf("dst exists %v", exists), func(t *testing.T) {
			base := t.TempDir()
			s := filepath.Join(base, "s")
			writeFile(t, filepath.Join(s, "top"), "top", 0o644, t0)
			writeFile(t, filepath.Join(s, "inner", "x"), "inner x", 0o644, t0)
			writeFile(t, filepath.Join(s, "zzz", "y"), "after inner", 0o644, t0)
			if exists {
				writeFile(t, filepath.Join(s, "inner", "dst", "old"), "DST's own", 0o644, t0)
			}
			fixDirTimes(t, s)
			bm2 := filepath.Join(base, "bm2")
			bindMount(t, filepath.Join(s, "inner"), bm2)

			sum, err := processCopyOpts(t, copier.Options{Src: s, Dst: filepath.Join(bm2, "dst"), Workers: 2})
			t.Logf("copy: err=%v, errors %v, warnings %q", err, sum.Errors, sum.Warnings)
			var re *copier.RefusedError
			if errors.As(err, &re) {
				t.Logf("refused before anything was written: %v", err)
				return
			}
			real := filepath.Join(s, "inner", "dst")
			if _, err := os.Lstat(filepath.Join(real, "inner", "dst")); err == nil {
				t.Errorf("DST was copied into itself: %s exists", filepath.Join(real, "inner", "dst"))
			}
			warned := false
			for _, w := range sum.Warnings {
				warned = warned || strings.Contains(w, "inner/dst") && strings.Contains(w, "is DST itself")
			}
			if !warned {
				t.Errorf("warnings %q do not say inner/dst, is DST and was not copied into itself", sum.Warnings)
			}
			for _, f := range []string{"top", "inner/x", "zzz/y"} {
				if _, err := os.Lstat(filepath.Join(real, f)); err != nil {
					t.Errorf("%s not copied: %v", f, err)
				}
			}
		})
	}
}

// Another user who can write a directory of DST puts there, in advance, a
// file of their own with the size and mtime of a set-user-ID program of
// root's in SRC. Run as root, a re-run must not take it for the copy and
// chown it to root and chmod it set-user-ID (a root shell for them): it
// copies the file anew, replacing theirs by rename, and leaves their inode
// as it was.
func TestRerunNeverChownsAFileInPlace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: owners are kept as root")
	}
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "shared", "tool"), "root's program", 0o755, t0)
	must(t, os.Chown(filepath.Join(src, "shared", "tool"), 0, 0))
	must(t, os.Chmod(filepath.Join(src, "shared", "tool"), 0o4755|os.ModeSetuid))
	must(t, os.Chtimes(filepath.Join(src, "shared"), t0, t0))
	dst := filepath.Join(t.TempDir(), "dst")
	if _, err := processCopy(t, src, dst, 2); err != nil {
		t.Fatal(err)
	}

	// The other user's file, where the copy was.
	planted := filepath.Join(dst, "shared", "tool")
	must(t, os.Remove(planted))
	writeFile(t, planted, "evil's program", 0o755, t0) // the same size
	must(t, os.Chown(planted, 65534, 65534))
	// Held open, as its owner could, to look at the inode afterwards.
	fd, err := unix.Open(planted, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	must(t, err)
	defer unix.Close(fd)
	var st unix.Stat_t
	must(t, unix.Fstat(fd, &st))
	must(t, os.Chtimes(filepath.Join(dst, "shared"), t0, t0))

	sum, err := processCopy(t, src, dst, 2)
	if err != nil || sum.Files != 1 {
		t.Fatalf("re-run: %v, %d files copied, want the planted one replaced (%v)", err, sum.Files, sum.Errors)
	}
	assertSameTree(t, src, dst)
	// Their inode, still open to them, is as they left it: theirs, not
	// set-user-ID; the name now holds root's program.
	var now, named unix.Stat_t
	must(t, unix.Fstat(fd, &now))
	if now.Uid != 65534 || now.Gid != 65534 || now.Mode != st.Mode {
		t.Errorf("the planted file was changed: owner %d:%d mode %o, want 65534:65534 mode %o", now.Uid, now.Gid, now.Mode, st.Mode)
	}
	must(t, unix.Lstat(planted, &named))
	if named.Ino == st.Ino {
		t.Errorf("the planted file was kept at its name (inode %d)", st.Ino)
	}
}

// A directory pcopy makes is private (0700) while it is filled, whatever
// its final mode: another user can neither add to it nor rename it away
// (which needs write permission on it) nor replace it before it is
// finished. It gets its exact mode when finished.
func TestDirectoriesArePrivateWhileFilled(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, filepath.Join(src, "shared", "f"), "data", 0o644, t0)
	must(t, os.Chmod(filepath.Join(src, "shared"), 0o777))
	must(t, os.Chtimes(filepath.Join(src, "shared"), t0, t0))
	dst := filepath.Join(t.TempDir(), "dst")
	var mu sync.Mutex
	var seen []string
	old := beneath.TestHook
	beneath.TestHook = func(op beneath.Op, p string) {
		// Workers in this process open the directory to fill it.
		if op == beneath.OpOpenDir && strings.HasPrefix(p, dst) {
			var st unix.Stat_t
			if unix.Lstat(p, &st) == nil {
				mu.Lock()
				seen = append(seen, fmt.Sprintf("%s %o", strings.TrimPrefix(p, dst), st.Mode&0o7777))
				mu.Unlock()
			}
		}
	}
	t.Cleanup(func() { beneath.TestHook = old })
	if _, err := copier.Copy(context.Background(), copier.Options{Src: src, Dst: dst, Workers: 2, Fs: afero.NewOsFs()}); err != nil {
		t.Fatal(err)
	}
	beneath.TestHook = old
	mu.Lock()
	defer mu.Unlock()
	filled := false
	for _, s := range seen {
		if strings.HasPrefix(s, "/shared ") {
			filled = true
			if s != "/shared 700" {
				t.Errorf("while filled: %s, want /shared 700", s)
			}
		}
	}
	if !filled {
		t.Fatalf("the hook never saw DST/shared opened to be filled (saw %q)", seen)
	}
	assertSameTree(t, src, dst) // 0777 once finished
}
