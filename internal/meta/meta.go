// Package meta holds the metadata helpers both the coordinator (which
// finishes directories and split files) and the workers' per-file path
// use: owners, extended attributes and ACLs, the temporary-file mark, the
// umask, and what a stat records. Where a platform lacks something, other.go
// says what it does instead.
package meta

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// POSIX ACLs are extended attributes: a file's access ACL, and a
// directory's default ACL, which, not the umask, decides the permissions
// of what is created in it (so pcopy must then set modes explicitly).
const (
	AccessACL  = "system.posix_acl_access"
	DefaultACL = "system.posix_acl_default"
)

// XattrBuf is reusable buffers for extended attribute names and values.
type XattrBuf struct{ names, value []byte }

// NoOwner in a Job's Uid and Gid means the owner is not known (the source
// filesystem records none) and is left as it is: chown(2) takes -1 so.
const NoOwner = ^uint32(0)

// OwnerChange says what chown to make on a copy, which was created owned
// by cur (uid, gid), so that it is owned by want, as far as this process
// may: root gives any owner; another user keeps the group when it is one
// of theirs, as cp -a does, and cannot give a file away. ok is false when
// nothing needs changing; -1 leaves an id as it is.
func OwnerChange(wantUid, wantGid, curUid, curGid uint32) (uid, gid int, ok bool) {
	uid, gid = -1, -1
	if wantUid != NoOwner && wantUid != curUid && os.Geteuid() == 0 {
		uid = int(wantUid)
	}
	if wantGid != NoOwner && wantGid != curGid {
		gid = int(wantGid)
	}
	return uid, gid, uid != -1 || gid != -1
}

// OwnerWarning says what a failed chown means. An unprivileged user
// changing a file's group to one they are not in gets EPERM, as cp -a
// does, and silently keeps what it could. Root refused (a FUSE or network
// filesystem, root squashed; an id not mapped in a user namespace) cannot
// keep owners in DST: that is said once, and the copy goes on.
func OwnerWarning(err error) string {
	if os.Geteuid() != 0 && errors.Is(err, syscall.EPERM) {
		return ""
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		err = errno // the same words for files, symlinks and directories: said once
	}
	return fmt.Sprintf("owners cannot be kept in DST (chown: %v); copies are owned by whoever runs pcopy", err)
}

// FirstWarn keeps the first of two warnings ("" is none).
func FirstWarn(warn, w string) string {
	if warn != "" {
		return warn
	}
	return w
}

// ModeBits are the parts of a mode that chmod sets.
const ModeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
