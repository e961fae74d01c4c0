// Package longpath gives the kernel paths longer than it takes (PATH_MAX,
// 4096 bytes on Linux) through a descriptor of their directory.
package longpath

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// longPath is the length from which a path is given to the kernel
// through its directory's descriptor: PATH_MAX (4096 bytes with the
// terminating NUL), with room to spare.
const longPath = 4000

// Short returns a path the kernel takes for the path p, however long,
// and a function to call once it is used. A long p becomes the entry of
// its directory, opened by parts (O_PATH, openat step by step), through
// /proc/self/fd; its last component is not followed any more or less
// than in p itself.
func Short(p string) (string, func()) {
	if len(p) < longPath {
		return p, func() {}
	}
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return p, func() {}
	}
	fd, err := openLongDir(p[:i])
	if err != nil {
		return p, func() {} // the call fails as it would have
	}
	return "/proc/self/fd/" + strconv.Itoa(fd) + "/" + p[i+1:], func() { unix.Close(fd) }
}

// openLongDir opens the directory dir, of any length, for use as a
// directory descriptor only (O_PATH).
func openLongDir(dir string) (int, error) {
	fd := unix.AT_FDCWD
	rest := dir
	if strings.HasPrefix(rest, "/") {
		fd, rest = -1, rest[1:]
		var err error
		if fd, err = unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return -1, err
		}
	}
	for rest != "" {
		// The longest run of whole components that the kernel takes.
		n := len(rest)
		if n >= longPath {
			n = strings.LastIndexByte(rest[:longPath], '/')
			if n <= 0 {
				n = len(rest) // one component too long: let openat say so
			}
		}
		next, err := unix.Openat(fd, rest[:n], unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if fd >= 0 {
			unix.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		fd, rest = next, strings.TrimPrefix(rest[n:], "/")
	}
	if fd == unix.AT_FDCWD {
		return unix.Open(".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	return fd, nil
}
