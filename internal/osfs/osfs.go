// Package osfs is the operating system's filesystem as pcopy uses it: an
// afero.Fs whose every call on a path below a held root (see package
// beneath) reaches it without following a symlink in any component below
// the root, and where paths longer than the kernel takes (PATH_MAX) work.
package osfs

import "github.com/spf13/afero"

// osFS is the operating system's filesystem through package beneath (see
// osfs_linux.go, and osfs_other.go for other systems).
type osFS struct{ *afero.OsFs }

// Of returns fsys as this package's filesystem if it is the operating
// system's, and fsys otherwise.
func Of(fsys afero.Fs) afero.Fs {
	if os, ok := fsys.(*afero.OsFs); ok {
		return osFS{os}
	}
	return fsys
}

// Is says whether fsys is the operating system's filesystem (as Of returns
// it, or not), where the fast paths and the metadata afero does not carry
// are used.
func Is(fsys afero.Fs) bool {
	switch fsys.(type) {
	case *afero.OsFs, osFS:
		return true
	}
	return false
}

func (osFS) Name() string { return "OsFs (beneath roots)" }
