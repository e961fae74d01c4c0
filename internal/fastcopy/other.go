//go:build !linux

// Package fastcopy is the Linux fast path (see copy_linux.go); this is all
// of it on other systems.
package fastcopy

import (
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// New returns nil here: files are copied the portable way, through afero.
func New(tempPrefix string, set wire.Settings, namedTemps bool) worker.FileCopier { return nil }
