//go:build !linux

package copier

import (
	"os"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/wire"
)

// atimeOf returns fi's mtime: access times are kept on Linux only for now.
func atimeOf(fi os.FileInfo) time.Time { return fi.ModTime() }

// copyXattrs copies nothing: extended attributes are kept on Linux only.
func (c *coordinator) copyXattrs(src, dst string, followDst bool, inherited []string) (warn string, err error) {
	return "", nil
}

// ctimeOf is 0: change times are compared on Linux only.
func ctimeOf(fi os.FileInfo) int64 { return 0 }

// ownerOf returns noOwner: owners are kept on Linux only for now.
func ownerOf(fi os.FileInfo) (uid, gid uint32) { return noOwner, noOwner }

// sparseOf is false: holes are looked for on Linux only.
func sparseOf(fi os.FileInfo) bool { return false }

// keepLinkMeta keeps nothing: owners and extended attributes are kept on
// Linux only.
func keepLinkMeta(job *wire.Job, src, tmp string, owner bool, b *xattrBuf) (warn string) { return "" }

// fileIDOf knows no file identities: hard links are kept on Linux only.
func fileIDOf(fi os.FileInfo) (id fileID, nlink uint64, ok bool) { return fileID{}, 0, false }

// rdevOf is 0: device nodes are made on Linux only.
func rdevOf(fi os.FileInfo) uint64 { return 0 }

// specialFiles says that FIFOs, sockets and device nodes are not made here.
const specialFiles = false

// devOf is 0: devices are not told apart here.
func devOf(path string) uint64 { return 0 }

// lchtimes is a no-op where setting a symlink's own times is not wired up.
func lchtimes(name string, atime, mtime time.Time) error { return nil }

// lchownOS changes the owner of name itself.
func lchownOS(name string, uid, gid int) error { return osFS{}.Chown(name, uid, gid) }

// mountPoint is not looked up here: a full DST is named by its root instead.
func mountPoint(path string) string { return path }

// freeSpace is not known here.
func freeSpace(fsys afero.Fs, dir string) int64 { return -1 }
