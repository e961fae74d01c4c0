//go:build !linux

// What package meta does on systems other than Linux, in one place: there
// are no xattrs, ACLs or temporary-file marks, and what a stat records
// beyond size, mode and mtime is not used.

package meta

import (
	"os"
	"time"
)

// HasDefaultACL is not checked here; ProcessUmask reports every bit as
// masked, so modes are always set explicitly anyway.
func HasDefaultACL(path string) bool { return false }

// AtimeOf returns fi's mtime: access times are kept on Linux only for now.
func AtimeOf(fi os.FileInfo) time.Time { return fi.ModTime() }

// CtimeOf is 0: change times are compared on Linux only.
func CtimeOf(fi os.FileInfo) int64 { return 0 }

// OwnerOf returns NoOwner: owners are kept on Linux only for now.
func OwnerOf(fi os.FileInfo) (uid, gid uint32) { return NoOwner, NoOwner }

// SparseOf is false: holes are looked for on Linux only.
func SparseOf(fi os.FileInfo) bool { return false }

// Identity knows no file identities: hard links are kept on Linux only.
func Identity(fi os.FileInfo) (dev, ino, nlink uint64, ok bool) { return 0, 0, 0, false }

// RdevOf is 0: device nodes are made on Linux only.
func RdevOf(fi os.FileInfo) uint64 { return 0 }

// MarkedTemp is true: files carry no mark here, so a name of pcopy's form
// whose process is gone is taken for a temporary file of an interrupted
// copy (see README).
func MarkedTemp(name string) bool { return true }

// ProcessUmask is unknown here: all bits count as masked, so modes are
// always set with chmod.
func ProcessUmask() uint32 { return 0o777 }
