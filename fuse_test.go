//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/treecheck"
	"github.com/pcopy/pcopy/progress"
)

// A source disk with bad blocks: reading two files fails with EIO part way
// through. Each is reported with its path and the reason, no part of it
// reaches DST, and every other file is copied; exit 1.
func TestReadErrors(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a"), 100)
	writeFile(t, filepath.Join(src, "broken"), 1<<20)
	writeFile(t, filepath.Join(src, "large"), 1<<20) // read in full: the faults are per file
	must(t, os.Mkdir(filepath.Join(src, "sub"), 0o755))
	writeFile(t, filepath.Join(src, "sub", "broken2"), 1<<20)
	writeFile(t, filepath.Join(src, "sub", "c"), 5000)
	mnt := mountFaulty(t, src, syscall.EIO)
	dst := filepath.Join(t.TempDir(), "dst")

	code, stderr := runPcopy(t, "-j", "2", mnt, dst)
	t.Logf("stderr:\n%s", stderr)
	if code != exitFailed {
		t.Errorf("exit code %d, want %d", code, exitFailed)
	}
	for _, want := range []string{"pcopy: error: broken: ", "pcopy: error: sub/broken2: "} {
		if !hasLine(stderr, want, "input/output error") {
			t.Errorf("no error line %q...input/output error; stderr:\n%s", want, stderr)
		}
	}
	diffs, err := treecheck.Compare(src, dst, treecheck.Options{})
	must(t, err)
	want := []string{`"broken": missing in destination`, `"sub/broken2": missing in destination`}
	if strings.Join(diffs, "\n") != strings.Join(want, "\n") {
		t.Errorf("destination differs from the source:\n%s\nwant only:\n%s", strings.Join(diffs, "\n"), strings.Join(want, "\n"))
	}
	if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// A destination that fails writes past 1 MiB of any file: a disk with bad
// blocks (EIO), or one over its quota (EDQUOT; this kernel has no quota
// support for ext4, XFS or tmpfs, so FUSE plays it). Bad blocks: the two
// large files are reported with their paths and the reason, and the small
// files are copied. Over quota: from the first write refused, nothing more
// is written, and one error names the filesystem and counts what was not
// copied. Either way the older copy of one that DST held stays whole, what
// reached DST is whole, no temporary file is left, and the exit code is 1.
func TestWriteErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		errno  syscall.Errno
		reason string // each large file's error; "": one error for all
	}{
		{"bad blocks", syscall.EIO, "input/output error"},
		{"over quota", syscall.EDQUOT, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := t.TempDir()
			writeFile(t, filepath.Join(src, "a"), 100)
			writeFile(t, filepath.Join(src, "big"), 2<<20)
			must(t, os.Mkdir(filepath.Join(src, "sub"), 0o755))
			writeFile(t, filepath.Join(src, "sub", "big2"), 3<<20)
			writeFile(t, filepath.Join(src, "sub", "c"), 5000)
			dst := t.TempDir()
			old := []byte("the copy made yesterday\n")
			must(t, os.WriteFile(filepath.Join(dst, "big"), old, 0o644))
			mnt := mountFaulty(t, dst, c.errno)

			code, stderr := runPcopy(t, "-j", "2", src, mnt)
			t.Logf("stderr:\n%s", stderr)
			if code != exitFailed {
				t.Errorf("exit code %d, want %d", code, exitFailed)
			}
			if got, err := os.ReadFile(filepath.Join(dst, "big")); err != nil || !bytes.Equal(got, old) {
				t.Errorf("DST's earlier big was changed: %q, %v", got, err)
			}
			if c.reason == "" {
				files, needed := missingIn(t, src, dst, "big")
				want := fmt.Sprintf("pcopy: error: DST's filesystem, mounted at %s, is over quota: %d files not copied: %s needed, ",
					mnt, files, progress.HumanBytes(needed))
				if n := strings.Count(stderr, "pcopy: error: "); n != 1 || !hasLine(stderr, want, "free on it now, but not within the quota") {
					t.Errorf("want one error line %q...; stderr:\n%s", want, stderr)
				}
			} else {
				for _, want := range []string{"pcopy: error: big: ", "pcopy: error: sub/big2: "} {
					if !hasLine(stderr, want, c.reason) {
						t.Errorf("no error line %q...%s; stderr:\n%s", want, c.reason, stderr)
					}
				}
				diffs, err := treecheck.Compare(src, dst, treecheck.Options{IgnoreRootTimes: true})
				must(t, err)
				diffs = slices.DeleteFunc(diffs, func(d string) bool { return strings.HasPrefix(d, `"big": `) }) // checked above
				want := []string{`"sub/big2": missing in destination`}
				if !sameLines(diffs, want) {
					t.Errorf("destination differs from the source:\n%s\nwant only:\n%s", strings.Join(diffs, "\n"), strings.Join(want, "\n"))
				}
			}
			if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// A FUSE filesystem may make unnamed (O_TMPFILE) files but have no path
// through which to set their times or link them, as go-fuse's loopback:
// pcopy notices on the first file and names temporary files instead.
func TestCopyOntoFUSE(t *testing.T) {
	src := t.TempDir()
	for i := range 5 {
		writeFile(t, filepath.Join(src, fmt.Sprint("f", i)), 1000*i)
	}
	must(t, os.Mkdir(filepath.Join(src, "sub"), 0o750))
	writeFile(t, filepath.Join(src, "sub", "g"), 70000)
	dst := t.TempDir()
	mnt := mountFaulty(t, dst, syscall.EIO)

	if code, stderr := runPcopy(t, "-j", "2", src, mnt); code != exitOK {
		t.Errorf("exit code %d, want 0; stderr:\n%s", code, stderr)
	}
	diffs, err := treecheck.Compare(src, dst, treecheck.Options{IgnoreRootTimes: true})
	must(t, err)
	if len(diffs) > 0 {
		t.Errorf("destination differs from the source:\n%s", strings.Join(diffs, "\n"))
	}
	if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// mountFaulty mounts a FUSE view of dir that behaves like a disk with bad
// blocks: reading a file whose name starts with "broken" fails with EIO
// past its first 256 KiB, and writing any file past 1 MiB fails with
// writeErr.
// It needs root and /dev/fuse, and skips the test without them.
func mountFaulty(t *testing.T, dir string, writeErr syscall.Errno) string {
	return mountFUSE(t, dir, faults{writeErr: writeErr})
}

// faults says how a FUSE view of a directory misbehaves.
type faults struct {
	writeErr syscall.Errno // the error for writes past faultyWriteLimit
	noXattrs string        // setting extended attributes with this prefix is not supported
	corrupt  bool          // writes silently flip a bit of every 4 KiB
}

// mountFUSE mounts a FUSE view of dir with the given faults, and reads
// of files named broken* failing past faultyReadLimit.
func mountFUSE(t *testing.T, dir string, f faults) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("mounting a FUSE filesystem needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no FUSE: %v", err)
	}
	mnt := t.TempDir()
	server, err := mountLoopback(dir, mnt, f)
	if err != nil {
		t.Skipf("cannot mount FUSE: %v", err)
	}
	t.Cleanup(func() {
		if err := server.Unmount(); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}

// mountLoopback mounts at mnt a FUSE view of dir with the faults f.
func mountLoopback(dir, mnt string, f faults) (*fuse.Server, error) {
	root := &fs.LoopbackRoot{Path: dir}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return nil, err
	}
	root.Dev = st.Dev
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &faultyNode{LoopbackNode: fs.LoopbackNode{RootData: r}, faults: f}
	}
	root.RootNode = root.NewNode(root, nil, "", &st)
	return fs.Mount(mnt, root.RootNode, &fs.Options{MountOptions: fuse.MountOptions{
		DirectMountStrict: true, // no fusermount needed, as root
		FsName:            "faulty",
	}})
}

const (
	faultyReadLimit  = 256 << 10
	faultyWriteLimit = 1 << 20
)

type faultyNode struct {
	fs.LoopbackNode
	faults
}

func (n *faultyNode) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if n.noXattrs != "" && strings.HasPrefix(attr, n.noXattrs) {
		return syscall.EOPNOTSUPP
	}
	return n.LoopbackNode.Setxattr(ctx, attr, data, flags)
}

func (n *faultyNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fuseFlags, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	f := &faultyFile{LoopbackFile: fh.(*fs.LoopbackFile), readLimit: -1, writeErr: n.writeErr, corrupt: n.corrupt}
	if name, _ := n.Parent(); strings.HasPrefix(name, "broken") {
		f.readLimit = faultyReadLimit
	}
	return f, fuseFlags, 0
}

func (n *faultyNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	inode, fh, fuseFlags, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return inode, &faultyFile{LoopbackFile: fh.(*fs.LoopbackFile), readLimit: -1, writeErr: n.writeErr, corrupt: n.corrupt}, fuseFlags, 0
}

func (n *faultyNode) Tmpfile(ctx context.Context, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	inode, fh, fuseFlags, errno := n.LoopbackNode.Tmpfile(ctx, flags, mode, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return inode, &faultyFile{LoopbackFile: fh.(*fs.LoopbackFile), readLimit: -1, writeErr: n.writeErr, corrupt: n.corrupt}, fuseFlags, 0
}

// faultyFile fails reads past readLimit (unless it is negative) with EIO,
// and writes past faultyWriteLimit with writeErr.
type faultyFile struct {
	*fs.LoopbackFile
	readLimit int64
	writeErr  syscall.Errno
	corrupt   bool
}

// flipBits returns data with the low bit of every 4096th byte flipped:
// a disk, controller or cable that corrupts silently.
func flipBits(data []byte) []byte {
	out := append([]byte(nil), data...)
	for i := 0; i < len(out); i += 4096 {
		out[i] ^= 1
	}
	return out
}

func (f *faultyFile) Read(ctx context.Context, buf []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if f.readLimit >= 0 && off+int64(len(buf)) > f.readLimit {
		return nil, syscall.EIO
	}
	return f.LoopbackFile.Read(ctx, buf, off)
}

func (f *faultyFile) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if off+int64(len(data)) > faultyWriteLimit {
		return 0, f.writeErr
	}
	if f.corrupt {
		data = flipBits(data)
	}
	return f.LoopbackFile.Write(ctx, data, off)
}

func (f *faultyFile) Writev(ctx context.Context, data [][]byte, off int64) (uint32, syscall.Errno) {
	n := 0
	for _, d := range data {
		n += len(d)
	}
	if off+int64(n) > faultyWriteLimit {
		return 0, f.writeErr
	}
	if f.corrupt {
		for i := range data {
			data[i] = flipBits(data[i])
		}
	}
	return f.LoopbackFile.Writev(ctx, data, off)
}

// PassthroughFd declines kernel passthrough, which would bypass Read and
// Write.
func (f *faultyFile) PassthroughFd() (int, bool) { return -1, false }

// runPcopy runs this test binary as pcopy and returns its exit code and
// stderr.
func runPcopy(t *testing.T, args ...string) (int, string) {
	t.Helper()
	exe, err := os.Executable()
	must(t, err)
	var stderr bytes.Buffer
	cmd := &exec.Cmd{Path: exe, Args: append([]string{"pcopy"}, args...), Stderr: &stderr}
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stderr.String()
	}
	must(t, err)
	return 0, stderr.String()
}

func writeFile(t *testing.T, path string, size int) {
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + size)
	}
	must(t, os.WriteFile(path, data, 0o644))
}

// hasLine reports whether some line of text starts with prefix and
// contains sub.
func hasLine(text, prefix, sub string) bool {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) && strings.Contains(line, sub) {
			return true
		}
	}
	return false
}

func sameLines(got, want []string) bool {
	return strings.Join(got, "\n") == strings.Join(want, "\n")
}

// A DST that cannot store extended attributes: the copy goes on without
// them, and says so once, not once per file; exit 0.
func TestNoXattrsInDST(t *testing.T) {
	src := t.TempDir()
	for _, name := range []string{"a", "b", "sub/c"} {
		p := filepath.Join(src, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		writeFile(t, p, 10)
		if err := syscall.Setxattr(p, "user.tag", []byte(name), 0); err != nil {
			t.Skipf("no user xattrs on %s: %v", src, err)
		}
	}
	must(t, syscall.Setxattr(filepath.Join(src, "sub"), "user.tag", []byte("dir"), 0))
	dst := t.TempDir()
	mnt := mountFUSE(t, dst, faults{noXattrs: "user."})

	code, stderr := runPcopy(t, "-j", "2", src, mnt)
	t.Logf("stderr:\n%s", stderr)
	if code != exitOK {
		t.Errorf("exit code %d, want 0", code)
	}
	if n := strings.Count(stderr, "pcopy: warning: "); n != 1 ||
		!strings.Contains(stderr, "DST does not store extended attributes (setxattr user.tag: operation not supported); copies are made without them (said once)") {
		t.Errorf("want one warning that DST does not store extended attributes, got %d:\n%s", n, stderr)
	}
	for _, name := range []string{"a", "b", "sub/c"} {
		if got, err := os.ReadFile(filepath.Join(dst, name)); err != nil || len(got) != 10 {
			t.Errorf("%s not copied: %v", name, err)
		}
	}
}

// A DST that refuses one namespace of extended attributes (as ext4 does
// NFSv4's system.nfs4_acl) still gets the others.
func TestSomeXattrsRefusedInDST(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f"), 10)
	for _, name := range []string{"user.a-refused", "user.b", "user.c"} {
		if err := syscall.Setxattr(filepath.Join(src, "f"), name, []byte(name), 0); err != nil {
			t.Skipf("no user xattrs on %s: %v", src, err)
		}
	}
	dst := t.TempDir()
	mnt := mountFUSE(t, dst, faults{noXattrs: "user.a"})
	code, stderr := runPcopy(t, "-j", "1", src, mnt)
	if code != exitOK || !strings.Contains(stderr, "setxattr user.a-refused: operation not supported") {
		t.Errorf("exit %d, want 0 and a warning about user.a-refused:\n%s", code, stderr)
	}
	for _, name := range []string{"user.b", "user.c"} {
		buf := make([]byte, 64)
		if n, err := syscall.Getxattr(filepath.Join(dst, "f"), name, buf); err != nil || string(buf[:n]) != name {
			t.Errorf("%s not kept: %q, %v", name, buf[:max(n, 0)], err)
		}
	}
}

// --verify reads each copy back: on a DST that corrupts what is written
// (silently: the writes succeed), every file is reported and none gets
// its name; without --verify the same copy "succeeds" with bad data.
func TestVerifyCatchesCorruption(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a"), 100)
	writeFile(t, filepath.Join(src, "sub", "b"), 300<<10)
	dst := t.TempDir()
	mnt := mountFUSE(t, dst, faults{corrupt: true})

	code, stderr := runPcopy(t, "-j", "2", "--verify", src, filepath.Join(mnt, "verified"))
	if code != exitFailed {
		t.Errorf("--verify: exit %d, want 1", code)
	}
	for _, name := range []string{"a", "sub/b"} {
		if !hasLine(stderr, "pcopy: error: "+name+": ", "verify: the copy's content differs from the source's; not kept") {
			t.Errorf("no verify error for %s:\n%s", name, stderr)
		}
		if _, err := os.Lstat(filepath.Join(dst, "verified", name)); err == nil {
			t.Errorf("%s: a copy that failed verification got its name", name)
		}
	}
	if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	if code, stderr := runPcopy(t, "-j", "2", src, filepath.Join(mnt, "unverified")); code != exitOK {
		t.Fatalf("without --verify: exit %d:\n%s", code, stderr)
	}
	got, _ := os.ReadFile(filepath.Join(dst, "unverified", "a"))
	want, _ := os.ReadFile(filepath.Join(src, "a"))
	if bytes.Equal(got, want) {
		t.Error("the faulty disk did not corrupt the unverified copy: the test proves nothing")
	}
}
