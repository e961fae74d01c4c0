package copier

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/osfs"
	"github.com/pcopy/pcopy/internal/wire"
)

// POSIX ACLs are extended attributes: a file's access ACL, and a
// directory's default ACL, which, not the umask, decides the permissions
// of what is created in it (so pcopy must then set modes explicitly).
const (
	accessACL  = "system.posix_acl_access"
	defaultACL = "system.posix_acl_default"
)

// xattrBuf is reusable buffers for extended attribute names and values.
type xattrBuf struct{ names, value []byte }

// noOwner in a Job's Uid and Gid means the owner is not known (the source
// filesystem records none) and is left as it is: chown(2) takes -1 so.
const noOwner = ^uint32(0)

// ownerChange says what chown to make on a copy, which was created owned
// by cur (uid, gid), so that it is owned by want, as far as this process
// may: root gives any owner; another user keeps the group when it is one
// of theirs, as cp -a does, and cannot give a file away. ok is false when
// nothing needs changing; -1 leaves an id as it is.
func ownerChange(wantUid, wantGid, curUid, curGid uint32) (uid, gid int, ok bool) {
	uid, gid = -1, -1
	if wantUid != noOwner && wantUid != curUid && os.Geteuid() == 0 {
		uid = int(wantUid)
	}
	if wantGid != noOwner && wantGid != curGid {
		gid = int(wantGid)
	}
	return uid, gid, uid != -1 || gid != -1
}

// ownerWarning says what a failed chown means. An unprivileged user
// changing a file's group to one they are not in gets EPERM, as cp -a
// does, and silently keeps what it could. Root refused (a FUSE or network
// filesystem, root squashed; an id not mapped in a user namespace) cannot
// keep owners in DST: that is said once, and the copy goes on.
func ownerWarning(err error) string {
	if os.Geteuid() != 0 && errors.Is(err, syscall.EPERM) {
		return ""
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		err = errno // the same words for files, symlinks and directories: said once
	}
	return fmt.Sprintf("owners cannot be kept in DST (chown: %v); copies are owned by whoever runs pcopy", err)
}

// firstWarn keeps the first of two warnings ("" is none).
func firstWarn(warn, w string) string {
	if warn != "" {
		return warn
	}
	return w
}

// omittedError is an entry not made, by design rather than by failure (a
// device node without the privilege to make one): a warning, not an error.
type omittedError struct{ why string }

func (e *omittedError) Error() string { return e.why }

// kindName names what a job makes, for messages.
func kindName(job *wire.Job) string {
	switch job.Kind {
	case wire.KindHardlink:
		return "hard link"
	case wire.KindSymlink:
		return "symlink"
	case wire.KindSpecial:
		return fsutil.TypeName(fs.FileMode(job.Mode))
	}
	return "file"
}

// lchown changes the owner of name, never through a symlink where the
// filesystem has them.
func lchown(fsys afero.Fs, name string, uid, gid int) error {
	if osfs.Is(fsys) {
		return osfs.Lchown(name, uid, gid)
	}
	return fsys.Chown(name, uid, gid)
}
