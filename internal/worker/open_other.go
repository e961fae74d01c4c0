//go:build !unix

package worker

import "github.com/spf13/afero"

func openOS(fsys afero.Fs, name string, follow bool) (afero.File, error) { return fsys.Open(name) }
