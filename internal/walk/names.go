package walk

import "github.com/spf13/afero"

// More reads the rest of a directory Names began, a batch at a time,
// calling fn with each name until fn returns false, then closes the
// directory; it must be called (with a fn that returns false, to stop).
type More func(fn func(name string) bool) error

// Names lists the directory dir: all of its names, sorted, when it has at
// most sortedNames (more is nil); for a larger one on the operating
// system's filesystem (os), the first of them in the filesystem's order,
// and more reads the rest as it goes, so that a directory of millions of
// entries is never held whole. follow: dir may be reached through a
// symlink.
func Names(fsys afero.Fs, dir string, os, follow bool) (names []string, more More, err error) {
	if os {
		return namesOS(dir, follow)
	}
	names, err = readNamesFs(fsys, dir)
	return names, nil, err
}

// Each calls fn with each of names, then with each name more reads (if
// any), until fn returns false; either way more closes its directory.
func Each(names []string, more More, fn func(name string) bool) error {
	for _, n := range names {
		if !fn(n) {
			more.Close()
			return nil
		}
	}
	if more == nil {
		return nil
	}
	return more(fn)
}

// Close stops reading and closes the directory (nothing, for nil).
func (m More) Close() {
	if m != nil {
		m(func(string) bool { return false })
	}
}
