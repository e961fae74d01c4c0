package copier

import (
	"sort"

	"golang.org/x/sys/unix"
)

// readNamesOS lists a directory of the operating system's filesystem with
// raw system calls (os.File would add poller bookkeeping to each open),
// sorted. O_NOFOLLOW: a directory replaced by a symlink since it was
// seen is not listed, so nothing outside SRC is copied through it.
func readNamesOS(dir string) ([]string, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &opError{"open", err}
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return names, &opError{"getdents", err}
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names) // skips . and ..
	}
	sort.Strings(names)
	return names, nil
}
