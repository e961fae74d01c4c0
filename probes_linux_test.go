//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/copier"
)

// What one copy finds a filesystem cannot do is not held against the
// next copy in the same process (a program using the copier as a
// library): after a copy onto a FUSE filesystem, which makes unnamed
// (O_TMPFILE) files but cannot give them names, a copy onto this disk
// still writes its files unnamed and names each once, never under a
// temporary name.
func TestProbesDoNotOutliveACopy(t *testing.T) {
	src := t.TempDir()
	for i := range 5 {
		writeFile(t, filepath.Join(src, fmt.Sprint("f", i)), 1000*(i+1))
	}
	mnt := mountFUSEElsewhere(t, t.TempDir())
	if _, err := copier.Copy(context.Background(), copier.Options{Src: src, Dst: mnt, Workers: 2}); err != nil {
		t.Fatalf("copy onto FUSE: %v", err)
	}

	dst := t.TempDir()
	names := watchCreates(t, dst)
	if _, err := copier.Copy(context.Background(), copier.Options{Src: src, Dst: dst, Workers: 2}); err != nil {
		t.Fatalf("copy onto disk: %v", err)
	}
	created := names()
	if len(created) == 0 {
		t.Fatal("no file creation seen in DST")
	}
	for _, name := range created {
		if strings.HasPrefix(name, copier.TempPrefix) {
			t.Errorf("a file was made under the temporary name %s: the FUSE copy's fallback outlived it (made: %v)", name, created)
			break
		}
	}
}

// fuseServeEnv, set to DIR, with fuseMountEnv set to MNT, makes this test
// binary a FUSE server of a loopback view of DIR at MNT until its stdin
// closes.
const (
	fuseServeEnv = "PCOPY_TEST_FUSE_SERVE"
	fuseMountEnv = "PCOPY_TEST_FUSE_MOUNT"
)

// mountFUSEElsewhere mounts a loopback FUSE view of dir served by another
// process. A server in this process can deadlock with in-process workers
// calling into it (the kernel waits for the server while the server's
// goroutines wait for locks), as no deployment of pcopy has it.
func mountFUSEElsewhere(t *testing.T, dir string) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("mounting a FUSE filesystem needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no FUSE: %v", err)
	}
	exe, err := os.Executable()
	must(t, err)
	mnt := t.TempDir()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fuseServeEnv+"="+dir, fuseMountEnv+"="+mnt)
	stdin, err := cmd.StdinPipe()
	must(t, err)
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "mounted\n" {
		stdin.Close()
		cmd.Wait()
		t.Skipf("cannot mount FUSE: %q %v", line, err)
	}
	t.Cleanup(func() {
		stdin.Close() // the server unmounts and exits
		if err := cmd.Wait(); err != nil {
			t.Errorf("FUSE server: %v", err)
		}
	})
	return mnt
}

func init() {
	if dir := os.Getenv(fuseServeEnv); dir != "" {
		serveFUSE(dir, os.Getenv(fuseMountEnv))
	}
}

// serveFUSE is the FUSE server mountFUSEElsewhere starts.
func serveFUSE(dir, mnt string) {
	server, err := mountLoopback(dir, mnt, faults{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mount:", err)
		os.Exit(1)
	}
	fmt.Println("mounted")
	io.Copy(io.Discard, os.Stdin)
	if err := server.Unmount(); err != nil {
		fmt.Fprintln(os.Stderr, "unmount:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// watchCreates watches dir with inotify; the function it returns stops
// and gives the names created or moved into dir since, in order.
func watchCreates(t *testing.T, dir string) func() []string {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		t.Skipf("no inotify: %v", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	return func() []string {
		defer unix.Close(fd)
		var names []string
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if err != nil || n <= 0 {
				return names // EAGAIN: all read
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				names = append(names, string(bytes.TrimRight(name, "\x00")))
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}
}
