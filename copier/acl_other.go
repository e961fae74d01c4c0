//go:build !linux

package copier

// hasDefaultACL is not checked here; processUmask reports every bit as
// masked, so modes are always set explicitly anyway.
func hasDefaultACL(path string) bool { return false }
