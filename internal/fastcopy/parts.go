package fastcopy

import (
	"path/filepath"

	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
)

// Parts is a large file that several workers copy at once, a range each
// (--split-size). NewParts makes its temporary file beside its final
// name, at its full size; each worker's CopyPart fills a range of it,
// checking that it reads the file listed; once every part is in, Finish
// gives it the source's owner, extended attributes, mode and times, and
// its name, if the source is still the file listed, unchanged. Remove
// removes the temporary file unless Finish named it. On systems without
// the fast path there are no parts: NewParts says errors.ErrUnsupported.
type Parts struct {
	Src, Dst string   // full paths of the source and of its copy
	Listed   wire.Job // the source as the walk listed it
	Follow   bool     // Src is reached through symlinks (--dereference)

	tmp tempname.Pending // the temporary file, by its full path
}

// Part returns the job that copies size bytes at offset off: each part
// carries the source's listed identity, size, mtime and ctime, to check
// that it reads the file listed.
func (p *Parts) Part(id uint64, off, size int64) wire.Job {
	j := p.Listed
	j.ID, j.Kind, j.Offset, j.Size, j.Temp = id, wire.KindPart, off, size, filepath.Base(p.tmp.Name)
	return j
}

// Remove removes the temporary file, unless Finish gave it its name.
func (p *Parts) Remove() { p.tmp.Cleanup() }
