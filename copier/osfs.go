package copier

import "github.com/spf13/afero"

// osFS is the operating system's filesystem as the copier uses it: every
// call on a path below SRC or DST goes through package beneath, which
// reaches it without following a symlink in any component below the root
// (see osfs_linux.go, and osfs_other.go for other systems), and paths
// longer than the kernel takes (PATH_MAX) work.
type osFS struct{ *afero.OsFs }

// osFsOf returns fsys as osFS if it is the operating system's filesystem.
func osFsOf(fsys afero.Fs) afero.Fs {
	if os, ok := fsys.(*afero.OsFs); ok {
		return osFS{os}
	}
	return fsys
}

// isOSFs says whether fsys is the operating system's filesystem, where
// the fast paths and the metadata afero does not carry are used.
func isOSFs(fsys afero.Fs) bool {
	switch fsys.(type) {
	case *afero.OsFs, osFS:
		return true
	}
	return false
}

func (osFS) Name() string { return "OsFs (beneath roots)" }
