package copier

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// fsType names the type of the filesystem holding path (statfs's f_type),
// for fingerprint.
func fsType(path string) string {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return "unknown"
	}
	return "0x" + strconv.FormatInt(int64(st.Type), 16)
}

// openNoFollow opens the file p for reading, never through a symlink at
// its name.
func openNoFollow(p string) (*os.File, error) {
	return os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
}
