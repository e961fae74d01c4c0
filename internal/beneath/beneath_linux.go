package beneath

import (
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/longpath"
)

// openat2 is unix.Openat2; tests make it fail as a seccomp filter would.
var openat2 = unix.Openat2

// noOpenat2 is set once openat2 is found missing (a kernel before 5.6, or a
// seccomp filter that refuses it): then directories are opened component by
// component. Tests set it to check that way too.
var noOpenat2 atomic.Bool

// DisableOpenat2 makes every later resolution go component by component,
// as on a kernel without openat2 (for tests).
func DisableOpenat2(disable bool) { noOpenat2.Store(disable) }

func closeRoot(r *root) {
	closeSpines(r)
	if fd := r.fd.Load(); fd >= 0 {
		unix.Close(int(fd))
	}
}

// rootFd returns the descriptor of r, opening it on first use. A root that
// cannot be opened yet (DST, before the copy makes it) is tried again on
// the next use.
func (r *root) rootFd() (int, error) {
	if fd := r.fd.Load(); fd >= 0 {
		return int(fd), nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if fd := r.fd.Load(); fd >= 0 {
		return int(fd), nil
	}
	p, done := longpath.Short(r.path)
	defer done()
	fd, err := unix.Open(p, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	r.fd.Store(int64(fd))
	return fd, nil
}

// openBeneath opens rel (slash-separated, not "") below the directory
// rootfd with flags, following no symlink in any component, the last
// included.
func openBeneath(rootfd int, rel string, flags int) (int, error) {
	flags |= unix.O_NOFOLLOW | unix.O_CLOEXEC
	if !noOpenat2.Load() {
		how := unix.OpenHow{Flags: uint64(flags),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
		for range 8 {
			fd, err := openat2(rootfd, rel, &how)
			switch err {
			case unix.EAGAIN, unix.EINTR:
				continue // a rename raced the lookup: look again
			case unix.ENOSYS, unix.E2BIG:
				noOpenat2.Store(true) // no openat2 here
			case unix.EPERM:
				// A seccomp filter (a container's, systemd's) may refuse
				// openat2 with EPERM. Ask once whether openat2 works at
				// all; if it does, this EPERM is the file's own, and the
				// walk below meets it again.
				if !openat2Filtered() {
					return fd, err
				}
				noOpenat2.Store(true)
			case unix.ENAMETOOLONG:
				// Longer than PATH_MAX: component by component.
			default:
				return fd, err
			}
			break
		}
	}
	fd := rootfd
	for rel != "" {
		var c string
		c, rel = rel, ""
		if i := indexSlash(c); i >= 0 {
			c, rel = c[:i], c[i+1:]
		}
		f := unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
		if rel == "" {
			f = flags
		}
		next, err := unix.Openat(fd, c, f, 0)
		if fd != rootfd {
			unix.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// openat2Filtered says whether openat2 is refused outright here, as a
// seccomp filter does: it fails on "/", which anyone may open O_PATH.
func openat2Filtered() bool {
	filterOnce.Do(func() {
		how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC}
		fd, err := openat2(unix.AT_FDCWD, "/", &how)
		if err == nil {
			unix.Close(fd)
		}
		filtered = err != nil
	})
	return filtered
}

var (
	filterOnce = syncOnce()
	filtered   bool
)

func syncOnce() *sync.Once { return new(sync.Once) }

func indexSlash(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}

func noop() {}

// Dir returns a descriptor of the directory holding p and p's last
// element, for a *at system call, and a function to call once it is used.
// Below a held root the directory is reached without following symlinks;
// elsewhere (and below a followed root) dirfd is AT_FDCWD and name is p
// itself, made short enough for the kernel. Operations on name must not
// follow it where it should not be followed (AT_SYMLINK_NOFOLLOW,
// O_NOFOLLOW): Dir sees only to the components before it.
func Dir(p string) (dirfd int, name string, done func(), err error) {
	r, rel := find(p)
	if r == nil || r.follow {
		s, done := longpath.Short(p)
		return unix.AT_FDCWD, s, done, nil
	}
	rootfd, err := r.rootFd()
	if err != nil {
		return -1, "", noop, err
	}
	dir, name := splitRel(rel)
	if dir == "" {
		return rootfd, name, noop, nil
	}
	from, rest, release, err := base(r, rootfd, dir)
	if err != nil {
		return -1, "", noop, err
	}
	if rest == "" {
		return from, name, release, nil
	}
	fd, err := openBeneath(from, rest, unix.O_PATH|unix.O_DIRECTORY)
	release()
	if err != nil {
		return -1, "", noop, symlinkErr(err)
	}
	return fd, name, func() { unix.Close(fd) }, nil
}

// Parent is Dir, but dirfd is always a descriptor of the directory holding
// p, opened by path where p is not below a held root.
func Parent(p string) (dirfd int, name string, done func(), err error) {
	dirfd, name, done, err = Dir(p)
	if err != nil || dirfd != unix.AT_FDCWD {
		return dirfd, name, done, err
	}
	done()
	dir, base := filepath.Split(p)
	s, sdone := longpath.Short(filepath.Clean(dir))
	defer sdone()
	fd, err := unix.Open(s, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", noop, err
	}
	return fd, base, func() { unix.Close(fd) }, nil
}

// symlinkErr turns what the kernel says of a symlink in the way (ELOOP;
// ENOTDIR, for a symlink to a file where a directory was; EXDEV, for
// openat2's refusal to leave the root) into ErrSymlink.
func symlinkErr(err error) error {
	switch err {
	case unix.ELOOP, unix.ENOTDIR, unix.EXDEV:
		return ErrSymlink
	}
	return err
}

// OpenDir opens the directory p for reading (O_RDONLY|O_DIRECTORY): below
// a held root, never through a symlink, p's own name included.
func OpenDir(p string) (int, error) { return openDir(p, unix.O_RDONLY) }

// OpenDirPath is OpenDir with O_PATH: a descriptor that stands for the
// directory (in *at calls, or as /proc/self/fd/N) without the permission
// to read it.
func OpenDirPath(p string) (int, error) { return openDir(p, unix.O_PATH) }

func openDir(p string, access int) (int, error) {
	hook(OpOpenDir, p)
	r, rel := find(p)
	if r == nil || r.follow {
		s, done := longpath.Short(p) // a root itself, or outside: as named
		defer done()
		return unix.Open(s, access|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	rootfd, err := r.rootFd()
	if err != nil {
		return -1, err
	}
	from, rest, release, err := base(r, rootfd, rel)
	if err != nil {
		return -1, err
	}
	if rest == "" {
		rest = "." // a kept directory itself
	}
	fd, err := openBeneath(from, rest, access|unix.O_DIRECTORY)
	release()
	switch err {
	case unix.ELOOP, unix.EXDEV:
		err = ErrSymlink
	case unix.ENOTDIR:
		// The kernel checks O_DIRECTORY before O_NOFOLLOW: a symlink,
		// at p or above it, says ENOTDIR as a file at p does. Tell them
		// apart (on this error only).
		var st unix.Stat_t
		if lerr := Lstat(p, &st); lerr == ErrSymlink || lerr == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			err = ErrSymlink
		}
	}
	return fd, err
}

// Open opens the file p with flags (O_NOFOLLOW is added below a root that
// is not followed) and mode perm, if it creates it.
func Open(p string, flags int, perm uint32) (int, error) {
	op := OpOpen
	if flags&unix.O_CREAT != 0 {
		op = OpCreate
	}
	hook(op, p)
	dirfd, name, done, err := Dir(p)
	if err != nil {
		return -1, err
	}
	defer done()
	if dirfd != unix.AT_FDCWD {
		flags |= unix.O_NOFOLLOW
	}
	return unix.Openat(dirfd, name, flags|unix.O_CLOEXEC, perm)
}

// Lstat is lstat(2) of p.
func Lstat(p string, st *unix.Stat_t) error {
	hook(OpStat, p)
	dirfd, name, done, err := Dir(p)
	if err != nil {
		return err
	}
	defer done()
	return unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW)
}

// Stat is stat(2) of p: a symlink at p's own name is followed.
func Stat(p string, st *unix.Stat_t) error {
	hook(OpStat, p)
	dirfd, name, done, err := Dir(p)
	if err != nil {
		return err
	}
	defer done()
	return unix.Fstatat(dirfd, name, st, 0)
}

// Mkdir is mkdir(2).
func Mkdir(p string, perm uint32) error {
	hook(OpMkdir, p)
	dirfd, name, done, err := Dir(p)
	if err != nil {
		return err
	}
	defer done()
	return unix.Mkdirat(dirfd, name, perm)
}

// Symlink makes the symlink p to target.
func Symlink(target, p string) error {
	hook(OpCreate, p)
	dirfd, name, done, err := Dir(p)
	if err != nil {
		return err
	}
	defer done()
	return unix.Symlinkat(target, dirfd, name)
}

// Readlink returns the target of the symlink p.
func Readlink(p string) (string, error) {
	hook(OpOpen, p)
	dirfd, name, done, err := Dir(p)
	if err != nil {
		return "", err
	}
	defer done()
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Chmod sets the mode of p, never of what a symlink at p points to (a
// symlink's own mode cannot be set: EOPNOTSUPP).
func Chmod(p string, mode uint32) error {
	hook(OpChmod, p)
	dirfd, name, done, err := Dir(p)
	if err != nil {
		return err
	}
	defer done()
	return chmodNoFollow(dirfd, name, mode)
}

// chmodNoFollow is fchmodat with AT_SYMLINK_NOFOLLOW: fchmodat2 (Linux
// 6.6), or where the kernel lacks it, through an O_PATH descriptor of
// the entry, as the C library does.
func chmodNoFollow(dirfd int, name string, mode uint32) error {
	err := unix.Fchmodat(dirfd, name, mode, unix.AT_SYMLINK_NOFOLLOW)
	if err != unix.EOPNOTSUPP {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	return unix.Fchmodat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), mode, 0)
}

// Lchown sets the owner and group of p itself (-1 leaves one as it is).
func Lchown(p string, uid, gid int) error {
	hook(OpChown, p)
	dirfd, name, done, err := Dir(p)
	if err != nil {
		return err
	}
	defer done()
	return unix.Fchownat(dirfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

// Lutimes sets the access and modification times (ns since the epoch) of
// p itself.
func Lutimes(p string, atime, mtime int64) error {
	hook(OpTimes, p)
	dirfd, name, done, err := Dir(p)
	if err != nil {
		return err
	}
	defer done()
	ts := []unix.Timespec{unix.NsecToTimespec(atime), unix.NsecToTimespec(mtime)}
	return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// Remove removes the file or empty directory p, as os.Remove.
func Remove(p string) error {
	hook(OpUnlink, p)
	dirfd, name, done, err := Dir(p)
	if err != nil {
		return err
	}
	defer done()
	err = unix.Unlinkat(dirfd, name, 0)
	if err == unix.EISDIR || err == unix.EPERM {
		if err1 := unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR); err1 != unix.ENOTDIR {
			err = err1
			forgetPath(p)
		}
	}
	return err
}

// Rename is rename(2).
func Rename(oldp, newp string) error {
	hook(OpRename, newp)
	odir, oname, odone, err := Dir(oldp)
	if err != nil {
		return err
	}
	defer odone()
	ndir, nname, ndone, err := Dir(newp)
	if err != nil {
		return err
	}
	defer ndone()
	if err := unix.Renameat(odir, oname, ndir, nname); err != nil {
		return err
	}
	forgetPath(oldp) // a directory renamed, or one replaced
	forgetPath(newp)
	return nil
}

// XattrPath returns a path for the extended attribute calls, which have no
// *at form: the directory holding p through its descriptor in /proc, and
// p's name. With the l* calls (which do not follow the last component) no
// symlink is followed. done is called once the path is used.
func XattrPath(p string) (string, func(), error) {
	hook(OpXattr, p)
	dirfd, name, done, err := Dir(p)
	if err != nil || dirfd == unix.AT_FDCWD {
		return name, done, err
	}
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + name, done, nil
}
