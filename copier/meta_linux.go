package copier

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/afero"
	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/longpath"
	"github.com/pcopy/pcopy/internal/meta"
)

// copyXattrs gives the directory dst the extended attributes and ACLs of
// src, on the operating system's filesystem; see meta.CopyXattrs.
// The source directory is read through a descriptor opened without
// following a symlink (one swapped in for it since the walk is an error,
// not a way to another directory's attributes); with --dereference it is
// followed, as it may be reached through a symlink.
func (c *coordinator) copyXattrs(src, dst string, followDst bool, inherited []string) (warn string, err error) {
	if !c.isOS {
		return "", nil
	}
	// DST's root may be a symlink the user chose.
	return c.copyDirXattrs(src, meta.PathXattrs(dst, followDst), inherited)
}

// copyDirXattrs gives dstX the extended attributes and ACLs of the SRC
// directory src.
func (c *coordinator) copyDirXattrs(src string, dstX meta.Xattrs, inherited []string) (warn string, err error) {
	srcX := meta.PathXattrs(src, true)
	if !c.set.Deref {
		// O_PATH: a directory's attributes can be read without the
		// permission to list it, as by path.
		fd, err := beneath.OpenDirPath(src)
		if err != nil {
			return "", fmt.Errorf("read extended attributes: %w", err)
		}
		defer unix.Close(fd)
		srcX = meta.ProcFdXattrs(fd)
	}
	return meta.CopyXattrs(srcX, dstX, &c.xbuf, inherited...), nil
}

// specialFiles says that FIFOs, sockets and device nodes can be made.
const specialFiles = true

// devOf returns the device of the filesystem holding path (0 if unknown).
func devOf(path string) uint64 {
	p, done := longpath.Short(path)
	defer done()
	var st unix.Stat_t
	if unix.Stat(p, &st) != nil {
		return 0
	}
	return st.Dev
}

// mountPoint returns the directory where the filesystem holding path is
// mounted: the highest ancestor on the same device. A full DST is named
// by it.
func mountPoint(path string) string {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return path
	}
	for {
		parent := filepath.Dir(path)
		var pst unix.Stat_t
		if parent == path || unix.Stat(parent, &pst) != nil || pst.Dev != st.Dev {
			return path
		}
		path = parent
	}
}

// freeSpace returns the bytes free for unprivileged users (statfs:
// f_bavail × f_bsize) on the filesystem holding the directory dir, opened
// through fsys; -1 where it cannot tell.
func freeSpace(fsys afero.Fs, dir string) int64 {
	f, err := fsys.Open(dir)
	if err != nil {
		return -1
	}
	defer f.Close()
	fd, ok := f.(interface{ Fd() uintptr })
	var st unix.Statfs_t
	if !ok || unix.Fstatfs(int(fd.Fd()), &st) != nil {
		return -1
	}
	return int64(st.Bavail) * st.Bsize
}
