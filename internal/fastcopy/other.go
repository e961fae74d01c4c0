//go:build !linux

// Package fastcopy is the Linux fast path (see copy_linux.go); this is all
// of it on other systems.
package fastcopy

import (
	"errors"

	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// New returns nil here: files are copied the portable way, through afero.
func New(tempPrefix string, set wire.Settings, namedTemps bool) worker.FileCopier { return nil }

// NewParts says that files are not copied in parts here.
func NewParts(listed wire.Job, src, dst string, follow bool, prefix string) (*Parts, error) {
	return nil, errors.ErrUnsupported
}

// SourceNow is never asked: there are no parts here.
func (p *Parts) SourceNow() error { return errors.ErrUnsupported }

// Finish is never asked: there are no parts here.
func (p *Parts) Finish(owner bool, b *meta.XattrBuf) (warn string, err error) {
	return "", errors.ErrUnsupported
}
