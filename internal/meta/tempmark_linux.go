package meta

import "golang.org/x/sys/unix"

// tempXattr marks a regular file pcopy made under a temporary name, so that
// a later run removes only what it can tell it made, never a user's file
// that merely has a name like one (see removeStaleTemps). It is taken off
// before the file gets its final name, and never copied from SRC.
const tempXattr = "user.pcopy-temp"

// MarkTemp marks the file fd as pcopy's temporary file. A filesystem
// without user extended attributes cannot hold the mark: such a file, if
// a kill leaves it, is left for the user (and said so).
func MarkTemp(fd int) { unix.Fsetxattr(fd, tempXattr, []byte{'1'}, 0) }

// UnmarkTemp takes the mark off before the file gets its final name.
func UnmarkTemp(fd int) { unix.Fremovexattr(fd, tempXattr) }

// MarkedTemp says whether the file at name carries the mark.
func MarkedTemp(name string) bool { return hasXattr(name, tempXattr) }
