package copier

import (
	"os"

	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/wire"
)

// Hard links. Files that share an inode in SRC share one in DST: the
// first name the walk meets is copied, and each later name, once that copy
// is done, becomes a job that links it (KindHardlink). Only multiply
// linked files are remembered, and a group is forgotten once the walk has
// met all its links, so memory grows with the hard-linked files whose
// other names lie outside SRC, not with the tree.

// fileID identifies a file in SRC.
type fileID struct{ dev, ino uint64 }

// fileIDOf returns the identity and link count of the file fi describes.
func fileIDOf(fi os.FileInfo) (id fileID, nlink uint64, ok bool) {
	dev, ino, nlink, ok := meta.Identity(fi)
	return fileID{dev: dev, ino: ino}, nlink, ok
}

// linkGroup follows the names of one multiply linked source file.
type linkGroup struct {
	id      fileID
	first   string  // the name copied (or being copied) that the others link to
	copying bool    // first's copy is under way
	copied  bool    // first's copy is in DST
	written bool    // and was written by this run: no name in DST links to it yet
	waiting []*task // later names, held until first is copied
	left    uint64  // links the walk has not met yet
	tallied bool    // its content is counted in a FullFs: it did not fit
}

// linkGroupOf returns the group of the regular file rel that info
// describes, and whether rel is the first name of it that the walk met;
// nil for a file with one link, or where links are not known.
func (c *coordinator) linkGroupOf(rel string, nlink uint64, id fileID) (g *linkGroup, first bool) {
	if nlink < 2 {
		return nil, false
	}
	if g = c.links[id]; g != nil {
		if g.left > 0 { // with -L, symlinks can lead to a file more often than it has links
			g.left--
		}
		return g, false
	}
	if c.links == nil {
		c.links = make(map[fileID]*linkGroup)
	}
	g = &linkGroup{id: id, first: rel, copying: true, left: nlink - 1}
	c.links[id] = g
	return g, true
}

// linkLater makes the task for t's name, a later link of g: a link to
// g's copy when that is done, held until it is while it is under way, and
// a copy of its own, which the others will link to, when it failed.
func (c *coordinator) linkLater(g *linkGroup, t *task) *task {
	switch {
	case g.copied:
		t.job.Kind, t.job.Link = wire.KindHardlink, g.first
		t.job.Fresh = t.job.Fresh || g.written
		c.forgetLinks(g)
		return t
	case g.copying:
		t.job.Kind = wire.KindHardlink
		g.waiting = append(g.waiting, t)
		return nil
	}
	g.first, g.copying = t.job.Rel, true
	return t
}

// linkCopied records the end of the copy of g's first name: the names
// held are released as links to it, or, when it failed, the next of them
// is copied in its place.
func (c *coordinator) linkCopied(g *linkGroup, ok bool) {
	g.copying = false
	if !ok {
		if len(g.waiting) == 0 {
			return // the next name the walk meets is copied
		}
		t := g.waiting[0]
		g.waiting = g.waiting[1:]
		t.job.Kind, g.first, g.copying = wire.KindFile, t.job.Rel, true
		c.retry = append(c.retry, t)
		return
	}
	g.copied = true
	for _, t := range g.waiting {
		t.job.Link = g.first
		t.job.Fresh = t.job.Fresh || g.written
		c.retry = append(c.retry, t)
	}
	g.waiting = nil
	c.forgetLinks(g)
}

// forgetLinks drops g once every link is met and released.
func (c *coordinator) forgetLinks(g *linkGroup) {
	if g.left == 0 && len(g.waiting) == 0 && g.copied {
		delete(c.links, g.id)
	}
}
