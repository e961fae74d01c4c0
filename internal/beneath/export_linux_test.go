package beneath

import "golang.org/x/sys/unix"

// FilterOpenat2 makes openat2 fail with EPERM, as a seccomp filter that
// refuses it does, until the returned function restores it.
func FilterOpenat2() (restore func()) {
	old := openat2
	openat2 = func(int, string, *unix.OpenHow) (int, error) { return -1, unix.EPERM }
	return func() {
		openat2 = old
		filterOnce = syncOnce()
		filtered = false
		noOpenat2.Store(false)
	}
}
