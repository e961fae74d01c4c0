package copier

import (
	"context"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/filter"
	"github.com/pcopy/pcopy/internal/osfs"
	"github.com/pcopy/pcopy/internal/walk"
)

// countTotals walks the source on its own, ahead of the copy, and tells rep
// how many files and bytes there are, so a progress bar can show a
// percentage long before the copy's own walk reaches the end.
func countTotals(ctx context.Context, fsys afero.Fs, p *plan, deref bool, filt *filter.Filter, sel selection, maxFds int, rep Reporter) {
	if !p.dir {
		rep.Totals(1, p.srcInfo.Size(), true)
		return
	}
	// The same lister as the copy's walk, running on its own, ahead.
	var files, bytes int64
	last := time.Now()
	for chunk := range walk.Start(fsys, walk.Spec{Root: p.srcRoot, RootInfo: p.srcInfo, Deref: deref, Filter: filt, MinSize: sel.minSize, MaxSize: sel.maxSize, OneFilesystem: sel.oneFS, Only: sel.only, MaxFds: maxFds, OS: osfs.Is(fsys)}, ctx.Done()) {
		for _, e := range chunk {
			if e.Kind != walk.Other || e.Err != nil {
				continue
			}
			// Every name but a directory's is one file on the bar, as
			// the copy reports each done (a hard link's name too); only
			// regular files have bytes to copy.
			if mode := e.Info.Mode(); !mode.IsDir() {
				files++
				if mode.IsRegular() {
					bytes += e.Info.Size()
				}
			}
		}
		if time.Since(last) > 200*time.Millisecond {
			rep.Totals(files, bytes, false)
			last = time.Now()
		}
	}
	if ctx.Err() == nil {
		rep.Totals(files, bytes, true)
	}
}

// selection is what, beside the filter, leaves entries out of the walks:
// Options.MinSize, MaxSize, OneFilesystem and FilesFrom.
type selection struct {
	minSize, maxSize int64
	oneFS            bool
	only             *walk.Only // Options.FilesFrom
}
