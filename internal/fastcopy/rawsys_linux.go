package fastcopy

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The per-file system calls of the fast path are made raw: without telling
// the Go scheduler, which otherwise hands the worker's processor to another
// thread whenever a call takes a few microseconds, and whose monitor then
// wakes every 20 µs. A worker runs one copy at a time, so nothing waits for
// the processor while a call is in the kernel. (Measured: a third fewer
// context switches on a tree of small files.)
//
// Like the standard library's, each call is made again when a signal
// interrupts it (EINTR), except close: on Linux the descriptor is gone
// either way, and closing it again could close another's.

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func rawOpenat(dirfd int, name string, flags int, mode uint32) (int, error) {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return -1, err
	}
	var fd uintptr
	var e unix.Errno
	for e = unix.EINTR; e == unix.EINTR; {
		fd, _, e = unix.RawSyscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(flags|unix.O_LARGEFILE), uintptr(mode), 0, 0)
	}
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

func rawClose(fd int) error {
	_, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	return errnoErr(e)
}

func rawFstat(fd int, st *unix.Stat_t) error {
	var e unix.Errno
	for e = unix.EINTR; e == unix.EINTR; {
		_, _, e = unix.RawSyscall(unix.SYS_FSTAT, uintptr(fd), uintptr(unsafe.Pointer(st)), 0)
	}
	return errnoErr(e)
}

func rawFchmod(fd int, mode uint32) error {
	var e unix.Errno
	for e = unix.EINTR; e == unix.EINTR; {
		_, _, e = unix.RawSyscall(unix.SYS_FCHMOD, uintptr(fd), uintptr(mode), 0)
	}
	return errnoErr(e)
}

func rawLinkat(olddirfd int, oldname string, newdirfd int, newname string, flags int) error {
	op, err := unix.BytePtrFromString(oldname)
	if err != nil {
		return err
	}
	np, err := unix.BytePtrFromString(newname)
	if err != nil {
		return err
	}
	var e unix.Errno
	for e = unix.EINTR; e == unix.EINTR; {
		_, _, e = unix.RawSyscall6(unix.SYS_LINKAT, uintptr(olddirfd), uintptr(unsafe.Pointer(op)), uintptr(newdirfd), uintptr(unsafe.Pointer(np)), uintptr(flags), 0)
	}
	return errnoErr(e)
}

func rawMknodat(dirfd int, name string, mode uint32) error {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	var e unix.Errno
	for e = unix.EINTR; e == unix.EINTR; {
		_, _, e = unix.RawSyscall6(unix.SYS_MKNODAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(mode), 0, 0, 0)
	}
	return errnoErr(e)
}

// rawUtimensat sets the times of name in dirfd, or of dirfd itself when
// name is "" (futimens).
func rawUtimensat(dirfd int, name string, atime, mtime int64, flags int) error {
	ts := [2]unix.Timespec{unix.NsecToTimespec(atime), unix.NsecToTimespec(mtime)}
	var p *byte
	if name != "" {
		var err error
		if p, err = unix.BytePtrFromString(name); err != nil {
			return err
		}
	}
	var e unix.Errno
	for e = unix.EINTR; e == unix.EINTR; {
		_, _, e = unix.RawSyscall6(unix.SYS_UTIMENSAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&ts[0])), uintptr(flags), 0, 0)
	}
	return errnoErr(e)
}

func rawCopyFileRange(rfd int, roff *int64, wfd int, woff *int64, n int) (int, error) {
	var r uintptr
	var e unix.Errno
	for e = unix.EINTR; e == unix.EINTR; {
		r, _, e = unix.RawSyscall6(unix.SYS_COPY_FILE_RANGE, uintptr(rfd), uintptr(unsafe.Pointer(roff)), uintptr(wfd), uintptr(unsafe.Pointer(woff)), uintptr(n), 0)
	}
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
