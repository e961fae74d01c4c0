package copier_test

import (
	"testing"

	"golang.org/x/sys/unix"
)

// markAsPcopyTemp gives the file at path the mark pcopy puts on its
// temporary files, as a killed run would have left it.
func markAsPcopyTemp(t *testing.T, path string) {
	t.Helper()
	if err := unix.Setxattr(path, "user.pcopy-temp", []byte("1"), 0); err != nil {
		t.Skipf("cannot mark %s (user extended attributes): %v", path, err)
	}
}
