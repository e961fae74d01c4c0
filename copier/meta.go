package copier

import (
	"io/fs"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/osfs"
	"github.com/pcopy/pcopy/internal/wire"
)

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
