package copier

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/spf13/afero"
)

// The walk is depth first, driven by the coordinator one entry at a time
// (nextTask), so it runs only as far ahead of the workers as the queue
// allows. Its memory is the stack of directories being listed: the names of
// each open directory, not of the whole tree.

type frame struct {
	dir   *dirState
	names []string // sorted entry names of dir
	next  int
}

// lstat is Lstat where the filesystem has it, Stat otherwise.
func lstat(fsys afero.Fs, name string) (os.FileInfo, error) {
	if l, ok := fsys.(afero.Lstater); ok {
		fi, _, err := l.LstatIfPossible(name)
		return fi, err
	}
	return fsys.Stat(name)
}

// readNames returns the sorted entry names of dir.
func readNames(fsys afero.Fs, dir string) ([]string, error) {
	if _, isOS := fsys.(*afero.OsFs); isOS {
		return readNamesOS(dir)
	}
	return readNamesFs(fsys, dir)
}

func readNamesFs(fsys afero.Fs, dir string) ([]string, error) {
	f, err := fsys.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

// startWalk sets up the walk of the plan's source. For a single file it
// queues the one job; for a directory it creates DST and opens the root.
func (c *coordinator) startWalk() error {
	p := c.plan
	if !p.dir {
		if err := c.fs.MkdirAll(filepath.Dir(p.dstRoot), 0o777); err != nil {
			return fmt.Errorf("create destination directory: %w", err)
		}
		if !c.trySplit(nil, "", p.srcInfo) {
			c.retry = append(c.retry, c.newTask(nil, "", KindFile, p.srcInfo))
		}
		c.walkDone = true
		return nil
	}
	if err := c.fs.MkdirAll(filepath.Dir(filepath.Clean(p.dstRoot)), 0o777); err != nil {
		return fmt.Errorf("create destination directory: %w", err)
	}
	c.enterDir(nil, "", p.srcInfo)
	return nil
}

// walkBudget is how many entries nextTask visits before it returns empty
// handed, so that in a tree of empty directories the coordinator still
// hears of signals and results promptly.
const walkBudget = 256

// nextTask walks until it finds the next file or symlink to copy, creating
// directories on the way. It returns nil when the walk is over (walkDone is
// then set) or when it used up its budget.
func (c *coordinator) nextTask() *task {
	for visited := 0; len(c.stack) > 0; visited++ {
		if visited == walkBudget {
			return nil
		}
		top := c.stack[len(c.stack)-1]
		if top.next == len(top.names) {
			c.stack = c.stack[:len(c.stack)-1]
			top.dir.walked = true
			c.maybeFinishDir(top.dir)
			continue
		}
		name := top.names[top.next]
		top.next++
		rel := path.Join(top.dir.rel, name)
		info, err := lstat(c.fs, joinRel(c.plan.srcRoot, rel))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				err = errors.New("vanished before it could be copied")
			}
			c.fail(rel, unwrapPath(err))
			continue
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			c.enterDir(top.dir, rel, info)
		case mode.IsRegular():
			if c.trySplit(top.dir, rel, info) {
				return nil // its parts are queued; the walk goes on next time
			}
			return c.newTask(top.dir, rel, KindFile, info)
		case mode&fs.ModeSymlink != 0:
			return c.newTask(top.dir, rel, KindSymlink, info)
		default:
			c.warn(fmt.Sprintf("%s: skipped: %s (not copied by this version)", DisplayPath(rel), typeName(mode)))
		}
	}
	c.walkDone = true
	return nil
}

func (c *coordinator) newTask(dir *dirState, rel string, kind JobKind, info os.FileInfo) *task {
	c.nextID++
	if dir != nil {
		dir.pending++
	}
	return &task{dir: dir, job: Job{
		ID:     c.nextID,
		Kind:   kind,
		Rel:    rel,
		Size:   info.Size(),
		Mode:   uint32(info.Mode()),
		Mtime:  info.ModTime().UnixNano(),
		Atime:  atimeOf(info).UnixNano(),
		Sparse: kind == KindFile && sparseOf(info),
	}}
}

// enterDir creates the destination directory for rel and pushes its listing.
// A directory that cannot be created or listed is reported; the rest of the
// tree goes on.
func (c *coordinator) enterDir(parent *dirState, rel string, info os.FileInfo) {
	d := &dirState{rel: rel, parent: parent, mode: info.Mode(), mtime: info.ModTime(), atime: atimeOf(info)}
	if parent != nil {
		parent.pending++
	}
	created, err := c.makeDir(rel, info.Mode())
	if err != nil {
		d.failed = true
		d.walked = true
		c.fail(rel, err)
		c.maybeFinishDir(d)
		return
	}
	// A directory made inside one with a default ACL inherits it; a
	// directory that was there may have one of its own.
	parentACL := false
	if parent != nil {
		parentACL = parent.acl
	} else {
		parentACL = hasDefaultACL(filepath.Dir(joinRel(c.plan.dstRoot, rel)))
	}
	d.acl = parentACL
	if !created {
		d.acl = hasDefaultACL(joinRel(c.plan.dstRoot, rel))
	}
	// A directory made with its exact mode needs no chmod when finished:
	// not where a default ACL, rather than the umask, shaped it.
	perm := uint32(info.Mode().Perm())
	d.modeSet = created && !parentACL && info.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == 0 &&
		perm&0o700 == 0o700 && perm&processUmask() == 0
	names, err := readNames(c.fs, joinRel(c.plan.srcRoot, rel))
	if err != nil {
		c.fail(rel, fmt.Errorf("list directory: %w", unwrapPath(err)))
	}
	c.stack = append(c.stack, &frame{dir: d, names: names})
}

// makeDir makes sure DST/rel is a directory pcopy can write into, and
// says whether it created it, with mode's permissions plus the owner's
// (so that it can be filled; the exact mode is set when it is finished).
// It never follows a symlink below DST: a link where SRC has a directory
// is refused, so nothing is ever written outside DST through it.
func (c *coordinator) makeDir(rel string, mode fs.FileMode) (created bool, err error) {
	name := joinRel(c.plan.dstRoot, rel)
	err = c.fs.Mkdir(name, mode.Perm()|0o700)
	if err == nil {
		return true, nil
	}
	return false, c.reuseDir(rel, name, err)
}

// reuseDir checks that an existing DST/rel (mkdir failed with err) is a
// directory pcopy can write into.
func (c *coordinator) reuseDir(rel, name string, err error) error {
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create directory: %w", unwrapPath(err))
	}
	var info os.FileInfo
	if rel == "" {
		info, err = c.fs.Stat(name) // DST itself may be a link the user chose
	} else {
		info, err = lstat(c.fs, name)
	}
	if err != nil {
		return fmt.Errorf("create directory: %w", unwrapPath(err))
	}
	if !info.IsDir() {
		return fmt.Errorf("destination exists and is a %s, not a directory; not replaced", typeName(info.Mode()))
	}
	// An existing directory may be read-only (copied from a read-only
	// source before); its final mode is set again when it is finished.
	if info.Mode().Perm()&0o700 != 0o700 {
		if err := c.fs.Chmod(name, info.Mode().Perm()|0o700); err != nil {
			return fmt.Errorf("make directory writable: %w", unwrapPath(err))
		}
	}
	return nil
}
