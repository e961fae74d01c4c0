//go:build linux

package fsutil

import (
	"io/fs"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// StatInfo is an os.FileInfo made from a stat structure, like the os
// package's own; Sys returns the *syscall.Stat_t.
type StatInfo struct {
	Base string // what Name returns
	St   syscall.Stat_t
}

func (fi *StatInfo) Name() string       { return fi.Base }
func (fi *StatInfo) Size() int64        { return fi.St.Size }
func (fi *StatInfo) ModTime() time.Time { return time.Unix(fi.St.Mtim.Unix()) }
func (fi *StatInfo) IsDir() bool        { return fi.St.Mode&unix.S_IFMT == unix.S_IFDIR }
func (fi *StatInfo) Sys() any           { return &fi.St }
func (fi *StatInfo) Mode() fs.FileMode  { return UnixType(fi.St.Mode) | UnixMode(fi.St.Mode) }

// UnixMode is UnixPerm the other way: the permission and special bits of
// a Unix mode as an fs.FileMode.
func UnixMode(mode uint32) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	if mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// UnixType is the type bits of a Unix mode as an fs.FileMode.
func UnixType(mode uint32) fs.FileMode {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return 0
}

// UnixPerm converts the permission and special bits of m to a Unix mode.
func UnixPerm(m fs.FileMode) uint32 {
	perm := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		perm |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		perm |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		perm |= unix.S_ISVTX
	}
	return perm
}
