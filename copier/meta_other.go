//go:build !linux

package copier

import (
	"os"
	"time"
)

// atimeOf returns fi's mtime: access times are kept on Linux only for now.
func atimeOf(fi os.FileInfo) time.Time { return fi.ModTime() }

// sparseOf is false: holes are looked for on Linux only.
func sparseOf(fi os.FileInfo) bool { return false }

// lchtimes is a no-op where setting a symlink's own times is not wired up.
func lchtimes(name string, atime, mtime time.Time) error { return nil }

// mountPoint is not looked up here: errors name DST's root instead.
func mountPoint(path string) string { return path }
