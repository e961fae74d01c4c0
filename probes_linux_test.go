//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
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
	mnt := mountFaulty(t, t.TempDir(), syscall.EIO)
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
