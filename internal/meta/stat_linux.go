package meta

import (
	"io/fs"
	"os"
	"syscall"
	"time"
)

// AtimeOf returns the access time recorded in fi, or its mtime when the
// platform's stat does not carry one.
func AtimeOf(fi os.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atim.Sec, st.Atim.Nsec)
	}
	return fi.ModTime()
}

// CtimeOf returns fi's change time in ns (0 where unknown).
func CtimeOf(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ctim.Nano()
	}
	return 0
}

// SparseOf says whether fi's file has less storage allocated than its
// size: it may have holes, which the copy keeps.
func SparseOf(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Blocks*512 < fi.Size()
}

// OwnerOf returns the owner and group fi records, or NoOwner where fi
// comes from a filesystem that records none.
func OwnerOf(fi os.FileInfo) (uid, gid uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return NoOwner, NoOwner
}

// Identity returns the device, inode and link count of the file fi
// describes.
func Identity(fi os.FileInfo) (dev, ino, nlink uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0, false
	}
	return st.Dev, st.Ino, st.Nlink, true
}

// RdevOf returns the device number of a device node (0 otherwise).
func RdevOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode()&fs.ModeDevice != 0 {
		return st.Rdev
	}
	return 0
}
