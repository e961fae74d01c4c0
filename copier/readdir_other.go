//go:build !linux

package copier

import "github.com/spf13/afero"

// readNamesOS lists a directory through the os package on this platform.
func readNamesOS(dir string) ([]string, error) { return readNamesFs(afero.NewOsFs(), dir) }
