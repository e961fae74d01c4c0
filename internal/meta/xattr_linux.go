package meta

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/beneath"
)

// Extended attributes are copied name by name, ACLs with them: a POSIX ACL
// is the system.posix_acl_access (or _default, on a directory) attribute.

// Xattrs is a file whose extended attributes are read or written: an
// open one (fd >= 0), or one named by path, which is not followed (a
// symlink's own attributes).
type Xattrs struct {
	fd     int
	dirfd  int // with name: the entry name of this directory (AtXattrs)
	name   string
	path   string
	follow bool // a symlink at path is followed
	viaFd  bool // path is /proc/self/fd/N: it reaches the file through a descriptor
}

// FdXattrs is the open file fd.
func FdXattrs(fd int) Xattrs { return Xattrs{fd: fd, dirfd: -1} }

// PathXattrs is the file at path, followed if it is a symlink and follow
// says so.
func PathXattrs(path string, follow bool) Xattrs {
	return Xattrs{fd: -1, dirfd: -1, path: path, follow: follow}
}

// ProcFdXattrs is the file open as fd, reached through /proc/self/fd: for
// a descriptor opened with O_PATH, which the f*xattr calls do not take.
func ProcFdXattrs(fd int) Xattrs {
	return Xattrs{fd: -1, dirfd: -1, path: "/proc/self/fd/" + strconv.Itoa(fd), follow: true, viaFd: true}
}

// AtXattrs is name in the directory dirfd, followed if it is a symlink
// and follow says so.
func AtXattrs(dirfd int, name string, follow bool) Xattrs {
	// The directory's descriptor stands for its path, however long.
	return Xattrs{fd: -1, dirfd: dirfd, name: name, path: "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name, follow: follow}
}

// pathFor returns the path through which f's attributes are reached by
// the path calls: below SRC and DST, its directory's descriptor in /proc
// (see beneath.XattrPath), so no symlink in the way is followed.
func (f Xattrs) pathFor() (string, func(), error) {
	if f.dirfd >= 0 || f.viaFd {
		return f.path, func() {}, nil // already through a descriptor
	}
	return beneath.XattrPath(f.path)
}

// noListxattrat is set once the kernel says it has no listxattrat
// (before Linux 6.13).
var noListxattrat atomic.Bool

// listxattrat lists the extended attributes of name in the directory
// dirfd: one call, no path walk through /proc.
func listxattrat(dirfd int, name string, follow bool, buf []byte) (int, error) {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return 0, err
	}
	flags := unix.AT_SYMLINK_NOFOLLOW
	if follow {
		flags = 0
	}
	var b unsafe.Pointer
	if len(buf) > 0 {
		b = unsafe.Pointer(&buf[0])
	}
	n, _, errno := unix.Syscall6(unix.SYS_LISTXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(flags),
		uintptr(b), uintptr(len(buf)), 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

func (f Xattrs) list(buf []byte) (int, error) {
	switch {
	case f.fd >= 0:
		return unix.Flistxattr(f.fd, buf)
	case f.dirfd >= 0 && !noListxattrat.Load():
		n, err := listxattrat(f.dirfd, f.name, f.follow, buf)
		if err != unix.ENOSYS {
			return n, err
		}
		noListxattrat.Store(true)
	}
	p, done, err := f.pathFor()
	if err != nil {
		return 0, err
	}
	defer done()
	if f.follow {
		return unix.Listxattr(p, buf)
	}
	return unix.Llistxattr(p, buf)
}

func (f Xattrs) get(name string, buf []byte) (int, error) {
	switch {
	case f.fd >= 0:
		return unix.Fgetxattr(f.fd, name, buf)
	}
	p, done, err := f.pathFor()
	if err != nil {
		return 0, err
	}
	defer done()
	if f.follow {
		return unix.Getxattr(p, name, buf)
	}
	return unix.Lgetxattr(p, name, buf)
}

func (f Xattrs) set(name string, value []byte) error {
	if f.fd >= 0 {
		return unix.Fsetxattr(f.fd, name, value, 0)
	}
	p, done, err := f.pathFor()
	if err != nil {
		return err
	}
	defer done()
	if f.follow {
		return unix.Setxattr(p, name, value, 0)
	}
	return unix.Lsetxattr(p, name, value, 0)
}

func (f Xattrs) remove(name string) error {
	if f.fd >= 0 {
		return unix.Fremovexattr(f.fd, name)
	}
	p, done, err := f.pathFor()
	if err != nil {
		return err
	}
	defer done()
	if f.follow {
		return unix.Removexattr(p, name)
	}
	return unix.Lremovexattr(p, name)
}

// Names returns the names of f's extended attributes, NUL-terminated, in
// b's buffer.
func (f Xattrs) Names(b *XattrBuf) ([]byte, error) { return fill(&b.names, f.list) }

// fill calls read with b's buffer, growing it while read says it is too
// small (ERANGE); it returns the bytes read.
func fill(buf *[]byte, read func([]byte) (int, error)) ([]byte, error) {
	if len(*buf) == 0 {
		*buf = make([]byte, 4096)
	}
	for {
		n, err := read(*buf)
		if err == unix.ERANGE {
			size, err := read(nil) // the size it needs now
			if err != nil {
				return nil, err
			}
			*buf = make([]byte, max(size, 2*len(*buf)))
			continue
		}
		if err != nil {
			return nil, err
		}
		return (*buf)[:n], nil
	}
}

// CopyXattrs gives dst the extended attributes of src. With inherited
// ACL names, the ACLs dst may have got from its directory's default ACL
// that src lacks are removed, so the copy's permissions are exactly the
// source's. What cannot be kept is returned as a warning, not an error: the
// data and the rest of the metadata are copied all the same.
func CopyXattrs(src, dst Xattrs, b *XattrBuf, inherited ...string) (warn string) {
	names, err := fill(&b.names, src.list)
	if err != nil {
		if err == unix.ENOTSUP {
			names = nil // the source filesystem has none
		} else {
			return fmt.Sprintf("extended attributes not read (listxattr: %v); not kept", err)
		}
	}
	for _, name := range fileXattrs(names) {
		for j, n := range inherited {
			if n == name {
				inherited = append(inherited[:j:j], inherited[j+1:]...)
				break
			}
		}
		value, err := fill(&b.value, func(buf []byte) (int, error) { return src.get(name, buf) })
		if err == unix.ENODATA {
			continue // removed since it was listed
		}
		if err != nil {
			warn = FirstWarn(warn, fmt.Sprintf("extended attribute %s not read (getxattr: %v); not kept", name, err))
			continue
		}
		if err := dst.set(name, value); err != nil {
			switch {
			case err == unix.ENOTSUP:
				// Maybe this namespace only (system.nfs4_acl to ext4):
				// the others are still tried.
				warn = FirstWarn(warn, fmt.Sprintf("DST does not store extended attributes (setxattr %s: %v); copies are made without them", name, err))
			case err == unix.EPERM && os.Geteuid() != 0 && !strings.HasPrefix(name, "user."):
				// security.* and trusted.* need privileges an
				// unprivileged copy does not have; cp -a is silent too.
			default:
				warn = FirstWarn(warn, fmt.Sprintf("extended attribute %s not kept (setxattr: %v)", name, err))
			}
		}
	}
	for _, name := range inherited {
		if err := dst.remove(name); err != nil && err != unix.ENODATA && err != unix.ENOTSUP {
			warn = FirstWarn(warn, fmt.Sprintf("inherited ACL not removed (removexattr %s: %v)", name, err))
		}
	}
	return warn
}

// SyncXattrs makes dst's extended attributes src's, for a file a re-run
// leaves (rsync -X): those src has are set where dst lacks them or holds
// another value, those only dst has are removed. It costs one listxattr
// on each side when neither has any; changed says whether dst changed.
// What cannot be done is a warning, as in CopyXattrs.
func SyncXattrs(src, dst Xattrs, b *XattrBuf) (changed bool, warn string) {
	want, err := xattrMap(src, b)
	if err != nil {
		return false, fmt.Sprintf("extended attributes not read (%v); not compared", err)
	}
	have, err := xattrMap(dst, b)
	if err != nil {
		return false, fmt.Sprintf("extended attributes of the copy not read (%v); not compared", err)
	}
	for name, value := range want {
		if old, ok := have[name]; ok && bytes.Equal(old, value) {
			continue
		}
		if err := dst.set(name, value); err != nil {
			if err == unix.EPERM && os.Geteuid() != 0 && !strings.HasPrefix(name, "user.") {
				continue // as CopyXattrs: not the unprivileged copy's to set
			}
			warn = FirstWarn(warn, fmt.Sprintf("extended attribute %s not updated (setxattr: %v)", name, err))
			continue
		}
		changed = true
	}
	for name := range have {
		if _, ok := want[name]; ok {
			continue
		}
		if err := dst.remove(name); err != nil && err != unix.ENODATA {
			warn = FirstWarn(warn, fmt.Sprintf("extended attribute %s not removed (removexattr: %v)", name, err))
			continue
		}
		changed = true
	}
	return changed, warn
}

// fileXattrs splits a listxattr answer into its names, pcopy's own mark
// (not the file's) left out.
func fileXattrs(list []byte) []string {
	var names []string
	for len(list) > 0 {
		i := bytes.IndexByte(list, 0)
		if i < 0 {
			break
		}
		if name := string(list[:i]); name != tempXattr {
			names = append(names, name)
		}
		list = list[i+1:]
	}
	return names
}

// xattrMap reads f's extended attributes (pcopy's own mark aside); none
// where its filesystem has none.
func xattrMap(f Xattrs, b *XattrBuf) (map[string][]byte, error) {
	names, err := fill(&b.names, f.list)
	if err == unix.ENOTSUP || err == nil && len(names) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listxattr: %w", err)
	}
	m := make(map[string][]byte)
	for _, name := range fileXattrs(names) {
		value, err := fill(&b.value, func(buf []byte) (int, error) { return f.get(name, buf) })
		if err == unix.ENODATA {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("getxattr %s: %w", name, err)
		}
		m[name] = bytes.Clone(value)
	}
	return m, nil
}
