// Package fsutil holds the small path and error helpers every stage of the
// copy shares: joining an entry's slash-separated path to a root without
// cleaning what is clean, splitting it again, lstat on any afero
// filesystem, and errors that name the operation but not the path.
package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/afero"
)

// Join returns the path of rel below root. Both are clean, as the plan and
// the walk make them and the workers check, so joining them is
// concatenation: no filepath.Clean on the per-file path.
func Join(root, rel string) string {
	if rel == "" {
		return root
	}
	if os.IsPathSeparator(root[len(root)-1]) { // "/" or `C:\`
		return root + filepath.FromSlash(rel)
	}
	return root + string(filepath.Separator) + filepath.FromSlash(rel)
}

// Split splits a path made by Join below a root into its directory and
// its last element, like filepath.Dir and filepath.Base without cleaning
// what is already clean.
func Split(p string) (dir, base string) {
	i := len(p) - 1
	for i >= 0 && !os.IsPathSeparator(p[i]) {
		i--
	}
	dir, base = p[:max(i, 0)], p[i+1:]
	if i == 0 || (i > 0 && p[i-1] == ':') { // the root's own separator: "/x", `C:\x`
		dir = p[:i+1]
	}
	return dir, base
}

// Lstat is Lstat where the filesystem has it, Stat otherwise.
func Lstat(fsys afero.Fs, name string) (os.FileInfo, error) {
	if l, ok := fsys.(afero.Lstater); ok {
		fi, _, err := l.LstatIfPossible(name)
		return fi, err
	}
	return fsys.Stat(name)
}

// UnwrapPath drops the path from a *fs.PathError or *os.LinkError, for
// messages that already name the entry: "open: permission denied" rather
// than repeating the path.
func UnwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &opError{pe.Op, pe.Err}
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return &opError{le.Op, le.Err}
	}
	return err
}

// Op is err from the operation op, without a path.
func Op(op string, err error) error { return &opError{op, err} }

// opError is an operation and its cause, without a path.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// DisplayPath returns p as is when it prints safely on one line, and as a
// Go-quoted string when it holds control characters (a newline in a file
// name must not split an error message) or invalid UTF-8.
func DisplayPath(p string) string {
	if !utf8.ValidString(p) {
		return strconv.Quote(p)
	}
	for _, r := range p {
		if !unicode.IsPrint(r) && r != ' ' {
			return strconv.Quote(p)
		}
	}
	return p
}

// TypeName names the type of file m describes, for messages.
func TypeName(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}
