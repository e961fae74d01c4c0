package copier

import (
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
