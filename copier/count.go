package copier

import (
	"context"
	"io/fs"
	"path"
	"time"

	"github.com/spf13/afero"
)

// countTotals walks the source on its own, ahead of the copy, and tells rep
// how many files and bytes there are, so a progress bar can show a
// percentage long before the copy's own walk reaches the end.
func countTotals(ctx context.Context, fsys afero.Fs, p *plan, rep Reporter) {
	if !p.dir {
		rep.Totals(1, p.srcInfo.Size(), true)
		return
	}
	var files, bytes int64
	last := time.Now()
	var walk func(rel string) bool
	walk = func(rel string) bool {
		names, _ := readNames(fsys, joinRel(p.srcRoot, rel))
		for _, name := range names {
			if ctx.Err() != nil {
				return false
			}
			child := path.Join(rel, name)
			info, err := lstat(fsys, joinRel(p.srcRoot, child))
			if err != nil {
				continue
			}
			switch mode := info.Mode(); {
			case mode.IsDir():
				if !walk(child) {
					return false
				}
			case mode.IsRegular():
				files++
				bytes += info.Size()
			case mode&fs.ModeSymlink != 0:
				files++
			}
			if time.Since(last) > 200*time.Millisecond {
				rep.Totals(files, bytes, false)
				last = time.Now()
			}
		}
		return true
	}
	if walk("") {
		rep.Totals(files, bytes, true)
	}
}
