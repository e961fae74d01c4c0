package copier

import (
	"os"

	"github.com/pcopy/pcopy/internal/fastcopy"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
)

// Parts of a split file are at least minPart bytes, a multiple of 1 MiB
// (so that filesystems that share extents can clone each part).
var minPart int64 = 64 << 20

// trySplit queues a regular file of at least Options.SplitSize bytes as
// parts for several workers, and reports whether it did. Sparse files are
// not split (a part would fill the holes of its range), nor is anything
// when there is a single worker, or on a system without the fast path.
func (c *coordinator) trySplit(dir *dirState, rel string, info os.FileInfo, group *linkGroup) bool {
	return c.splitFile(dir, rel, info, group) != nil
}

// splitFile is trySplit; it returns the file queued in parts, or nil.
func (c *coordinator) splitFile(dir *dirState, rel string, info os.FileInfo, group *linkGroup) *split {
	size := info.Size()
	if !c.isOS || c.workerCount < 2 || c.splitSize <= 0 || size < c.splitSize || c.set.Verify || c.set.LinkDest != "" || c.set.BackupDir != "" {
		return nil // --verify and --link-dest handle files whole
	}
	listed := listedJob(0, wire.KindFile, rel, info, false)
	if listed.Sparse {
		return nil
	}
	dst := fsutil.Join(c.plan.dstRoot, rel)
	if c.set.Update != wire.UpdateAll && (dir == nil || !dir.created) {
		// A copy DST may already have: the worker's check for a whole
		// file decides (a re-run leaves it alone).
		if dinfo, err := fsutil.Lstat(c.fs, dst); err == nil && dinfo.Mode().IsRegular() && dinfo.Size() == size {
			return nil
		}
	}
	// The coordinator's temporary files are those of its worker number 0.
	parts, err := fastcopy.NewParts(listed, fsutil.Join(c.plan.srcRoot, rel), dst, c.set.Deref, tempname.ForWorker(os.Getpid(), 0))
	if err != nil {
		// Not split, then: a worker copies it whole, and reports it
		// if that fails too, as for any file (hard links included).
		return nil
	}
	part := max(minPart, (size/int64(2*c.workerCount)+(1<<20)-1)&^(1<<20-1))
	s := &split{Parts: parts, rel: rel, dir: dir, group: group}
	for off := int64(0); off < size; off += part {
		c.nextID++
		s.remaining++
		c.parts = append(c.parts, &task{dir: dir, split: s, job: parts.Part(c.nextID, off, min(part, size-off))})
	}
	c.splits[s] = true
	if dir != nil {
		dir.pending++
	}
	return s
}
