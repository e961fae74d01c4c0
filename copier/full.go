package copier

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"

	"github.com/pcopy/pcopy/internal/wire"
)

// A full DST. Once a write fails because the filesystem has no room left
// (ENOSPC) or the user's quota on it is used up (EDQUOT), every file after
// it would fail the same way, each with an error of its own. So at the
// first such failure the coordinator stops writing to that filesystem: the
// jobs already in workers' hands end as they end, and the walk goes on
// listing, without dispatching, to count what is left out. It is all
// reported as one FullFs, not as an error per file.
//
// Filesystems are told apart by the device (st_dev) of DST's directories,
// which costs nothing: a directory the coordinator makes is on its
// parent's filesystem, and one already there was looked at anyway. So a
// full filesystem mounted inside DST stops only the copy into it.
//
// Every kind of entry stops, not only files with content: an empty file,
// a symlink, a hard link or a directory takes an inode and a directory
// entry, which may need a block of their own, and as root pcopy would dig
// into the blocks kept back to keep the system going. One rule, nothing
// new on a full filesystem, also keeps the outcome plain: DST holds whole
// copies of what fitted, the directories made before are finished with
// their metadata, and the same command run again copies the rest.

// fullKind says whether a write failed because the filesystem had no room
// left for it.
type fullKind byte

const (
	notFull   fullKind = iota
	noSpace            // ENOSPC: the filesystem is full
	overQuota          // EDQUOT: the user's quota on it is used up
)

// fullKindOf says whether err is a filesystem having no room left.
func fullKindOf(err error) fullKind {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return noSpace
	case errors.Is(err, syscall.EDQUOT):
		return overQuota
	}
	return notFull
}

// fullError is why an entry was not copied: the filesystem of DST it was
// meant for had no room left.
type fullError struct {
	fs  *FullFs
	err error // what failed when a worker tried it; nil: not tried
}

func (e *fullError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%v (the filesystem mounted at %s)", e.err, DisplayPath(e.fs.Mount))
	}
	state := "full"
	if e.fs.Quota {
		state = "over quota"
	}
	return fmt.Sprintf("not copied: the filesystem mounted at %s is %s", DisplayPath(e.fs.Mount), state)
}

func (e *fullError) Unwrap() error { return e.err }

// dirDev is the device of DST's directory d; 0 for nil, the directory
// of a single file's copy, which is one job on one filesystem.
func dirDev(d *dirState) uint64 {
	if d == nil {
		return 0
	}
	return d.dev
}

// fullFsOf returns the filesystem of DST's directory d if it is full.
func (c *coordinator) fullFsOf(d *dirState) *FullFs {
	return c.full[dirDev(d)]
}

// markFull records that the filesystem of DST's directory d had no room
// for an entry, as kind says, and returns it.
func (c *coordinator) markFull(d *dirState, kind fullKind) *FullFs {
	dev := dirDev(d)
	if f := c.full[dev]; f != nil {
		return f
	}
	f := &FullFs{Quota: kind == overQuota, dev: dev}
	f.Mount, f.dir = c.mountOf(d)
	if c.full == nil {
		c.full = make(map[uint64]*FullFs)
	}
	c.full[dev] = f
	c.sum.Full = append(c.sum.Full, f)
	return f
}

// mountOf returns where the filesystem of DST's directory d is mounted,
// and a directory on it to ask for its free space. For a filesystem
// mounted inside DST, that is the highest directory of DST on its device,
// found without a system call; for DST's own, it is above DST's root.
func (c *coordinator) mountOf(d *dirState) (mount, dir string) {
	if d == nil {
		dir = filepath.Dir(c.plan.dstRoot)
		return mountPoint(dir), dir
	}
	for d.parent != nil && d.parent.dev == d.dev {
		d = d.parent
	}
	if d.parent == nil {
		return mountPoint(c.plan.dstRoot), c.plan.dstRoot
	}
	return d.dst, d.dst
}

// notCopied records that t was not copied because f, the filesystem it
// was meant for, is full; err is what failed when a worker tried it (nil:
// it was not tried). It is counted in f, not listed among the errors, and
// the Reporter does not hear of it as done: it is not.
func (c *coordinator) notCopied(t *task, f *FullFs, err error) {
	ferr := &fullError{fs: f, err: err}
	if t.split != nil {
		c.completePart(t, 0, ferr)
		return
	}
	c.rep.Bytes(-t.done)
	t.done = 0
	if t.group != nil && t.job.Kind == wire.KindFile {
		c.linkCopied(t.group, false) // the next name held is left out in its place
	}
	var size int64
	if t.job.Kind == wire.KindFile {
		size = t.job.Size
	}
	c.tally(ferr, t.job.Rel, size, t.group)
	c.taskDone(t)
}

// tally counts rel, size bytes of content, among the entries that the
// filesystem e names had no room for. The names of one hard-linked file
// (group g) need its content once.
func (c *coordinator) tally(e *fullError, rel string, size int64, g *linkGroup) {
	if g != nil {
		if g.tallied {
			size = 0
		}
		g.tallied = true
	}
	e.fs.Files++
	e.fs.Bytes += size
	c.act(Failed, rel, e)
}

// endFull completes what Summary.Full says once the copy has ended: the
// free space now, and whether the walk met everything (all) or stopped
// before, so that the counts are lower bounds.
func (c *coordinator) endFull(all bool) {
	for _, f := range c.sum.Full {
		f.AtLeast = !all
		f.Free = freeSpace(c.fs, f.dir)
	}
}
