package copier

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/pcopy/pcopy/internal/bwlimit"
	"github.com/pcopy/pcopy/internal/sharedpath"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/filter"
	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/osfs"
	"github.com/pcopy/pcopy/internal/walk"
	"github.com/pcopy/pcopy/internal/wire"
)

// Copy, the coordinator's state, and what it holds for the whole copy: the
// roots, SRC's protection from --delete.

type coordinator struct {
	fs     afero.Fs
	plan   *plan
	spawn  Spawner
	places *places // where workers run, in a copy on many hosts
	rep    Reporter
	sum    Summary

	onAction func(a Action, rel, host string, err error)
	actHost  string // the host whose worker's result is being handled, "" for this machine

	// walk
	entries  <-chan []walk.Entry   // from the lister
	chunk    []walk.Entry          // received, not yet taken
	dirs     []*dirState           // directories entered and not ended, innermost last
	dstPaths sharedpath.Builder    // makes their paths in DST
	delPaths [3]sharedpath.Builder // --delete's paths of the directories it is in: rel, SRC, DST
	// The directory finished last, and its path in SRC (see srcDirPath).
	lastFinished struct {
		dir *dirState
		src string
	}
	skip     int // > 0: in a directory that could not be created
	walkDone bool
	nextID   uint64

	retry         []*task // to dispatch before anything else
	parts         []*task // parts of split files, before walking further
	splits        map[*split]bool
	workerCount   int
	splitSize     int64
	set           wire.Settings // how each file is copied; the workers get them in their hello
	isOS          bool          // fs is the operating system's
	filter        *filter.Filter
	selection     // which entries the walk lists
	euid, egid    uint32
	links         map[fileID]*linkGroup
	warned        map[string]bool // warnings workers sent that were shown
	xbuf          meta.XattrBuf
	staleRemoved  int             // temporary files of earlier, killed runs removed
	rootCreated   bool            // DST's root was made by this copy (before the walk)
	dirFds        int             // directories each lister may keep open (see walk.DirFdBudget)
	protect       map[fileID]bool // SRC's root and the directories above it: --delete never enters or removes them
	maxDelete     int             // Options.MaxDelete
	deleteHeld    int             // entries --delete left because of maxDelete
	out           int             // tasks held by workers
	workers       []*workerState
	lastWorkerID  int
	startFailures int
	stopping      bool
	events        chan event
	quit          chan struct{}

	// DST's filesystems found full, by device: nothing new goes to them.
	full map[uint64]*FullFs
}

// Copy copies opts.Src to opts.Dst (see plan for the rule) and returns what
// it did. The error is a *RefusedError when the request was refused before
// anything was written, wraps ErrIncomplete when some entries failed (listed
// in Summary.Errors) or did not fit in DST (counted in Summary.Full) and the
// rest were copied, and wraps ctx.Err() when the copy was interrupted.
func Copy(ctx context.Context, opts Options) (Summary, error) {
	start := time.Now()
	fsys := opts.Fs
	if fsys == nil {
		fsys = afero.NewOsFs()
	}
	c, release, err := newCoordinator(osfs.Of(fsys), opts)
	if err != nil {
		return Summary{}, err
	}
	// In this order, last first: the walks end before SRC stops being a
	// held root, or a walk still going would read by path.
	defer release()
	defer c.endWalk()
	if opts.CountTotals && opts.Reporter != nil {
		defer c.countTotals(ctx, opts)()
	}
	if err := c.makeDstRoot(); err != nil {
		return Summary{}, err
	}
	if len(opts.Hosts) > 0 {
		if err := c.placeWorkers(opts); err != nil {
			return Summary{}, err
		}
	}
	if c.set.BwLimit > 0 && c.isOS {
		// The word the workers of this machine share (bwlimit); without
		// it, each keeps to its share of the limit alone.
		if f, _, err := bwlimit.Shared(); err == nil {
			defer f.Close()
			c.set.BwWord = bwlimit.Path(f)
		}
	}
	err = c.copyAll(ctx, opts)
	if c.places != nil {
		c.places.close()
		out, in := c.places.wire()
		for i, s := range c.sum.Hosts[1:] {
			if s.State != "refused" && len(out) > 0 {
				c.sum.Hosts[i+1].WireOut, c.sum.Hosts[i+1].WireIn = out[0], in[0]
				out, in = out[1:], in[1:]
			}
		}
	}
	c.sum.Duration = time.Since(start)
	sort.SliceStable(c.sum.Errors, func(i, j int) bool { return c.sum.Errors[i].Path < c.sum.Errors[j].Path })
	switch {
	case err == nil && len(c.sum.Full) > 0:
		err = fmt.Errorf("%d failed, %d did not fit: %w", len(c.sum.Errors), c.sum.NotCopied(), ErrIncomplete)
	case err == nil && len(c.sum.Errors) > 0:
		err = fmt.Errorf("%d failed: %w", len(c.sum.Errors), ErrIncomplete)
	}
	return c.sum, err
}

// newCoordinator vets the request opts makes of fsys, refusing what would
// be dangerous before anything is written, holds its roots (release lets
// them go), and returns the coordinator that will carry it out.
func newCoordinator(fsys afero.Fs, opts Options) (c *coordinator, release func(), err error) {
	release = func() {}
	defer func() {
		if err != nil {
			release()
		}
	}()
	filt, err := filter.New(opts.Exclude, opts.Include)
	if err != nil {
		return nil, release, &RefusedError{Msg: err.Error(), Hint: filter.Hint}
	}
	p, err := makePlan(fsys, opts.Src, opts.Dst)
	if err != nil {
		return nil, release, err
	}
	only, err := filesFrom(p, opts)
	if err != nil {
		return nil, release, err
	}
	if opts.Delete && p.dir {
		// Mirroring DST would delete SRC itself, or what holds it.
		if dinfo, err := fsys.Stat(p.dstRoot); err == nil && isInside(fsys, p.dstRoot, p.srcRoot, dinfo) {
			return nil, release, refused("--delete removes from DST what SRC lacks: choose a DST that does not hold SRC",
				"--delete would delete the source: source %s is inside destination %s", DisplayPath(opts.Src), DisplayPath(opts.Dst))
		}
	}
	linkDest, linkWarning, err := checkLinkDest(fsys, p, opts.LinkDest)
	if err != nil {
		return nil, release, err
	}
	backupDir, err := checkBackupDir(fsys, p, opts.BackupDir, opts.DryRun)
	if err != nil {
		return nil, release, err
	}
	if osfs.Is(fsys) {
		release = holdRoots(p, linkDest, backupDir, opts.Dereference)
	}
	protect, err := checkDelete(fsys, p, opts, filt)
	if err != nil {
		return nil, release, err
	}
	c = &coordinator{
		fs:          fsys,
		plan:        p,
		spawn:       opts.Spawn,
		rep:         opts.Reporter,
		onAction:    opts.OnAction,
		events:      make(chan event, 64),
		quit:        make(chan struct{}),
		splits:      map[*split]bool{},
		workerCount: max(opts.Workers, 1),
		splitSize:   opts.SplitSize,
		set:         settingsOf(opts, linkDest, backupDir),
		isOS:        osfs.Is(fsys),
		filter:      filt,
		selection:   selection{minSize: opts.MinSize, maxSize: opts.MaxSize, oneFS: opts.OneFilesystem, only: only},
		euid:        uint32(os.Geteuid()),
		egid:        uint32(os.Getegid()),
		warned:      make(map[string]bool),
		protect:     protect,
		maxDelete:   opts.MaxDelete,
	}
	if c.spawn == nil {
		c.spawn = InProcess(fsys)
	}
	if c.rep == nil {
		c.rep = nopReporter{}
	}
	listers := 1
	if opts.CountTotals && opts.Reporter != nil {
		listers = 2 // the counting walk runs beside the copy's
	}
	c.dirFds = walk.DirFdBudget(walk.MaxDirFds, c.workerCount, listers)
	if linkWarning != "" {
		c.warn(linkWarning)
	}
	return c, release, nil
}

// holdRoots holds the roots below which the copy reaches entries (see
// beneath.Hold): SRC, DST, the earlier copy and the backup directory.
func holdRoots(p *plan, linkDest, backupDir string, deref bool) (release func()) {
	roots := beneath.HoldRoots(p.srcRoot, p.dstRoot, linkDest, deref)
	if backupDir == "" {
		return roots
	}
	held := beneath.Hold(backupDir, false)
	return func() { held(); roots() }
}

// checkDelete refuses a --delete that would mirror SRC into an unrelated
// DST, and returns SRC's root and the directories above it, which it
// never deletes.
func checkDelete(fsys afero.Fs, p *plan, opts Options, filt *filter.Filter) (protect map[fileID]bool, err error) {
	if !opts.Delete || !p.dir {
		return nil, nil
	}
	if !opts.DeleteUnrelated {
		if err := checkRelated(fsys, p, filt); err != nil {
			return nil, err
		}
	}
	if osfs.Is(fsys) {
		return protectSrc(fsys, p, opts)
	}
	return nil, nil
}

// filesFrom is the set of paths Options.FilesFrom lists, nil without it.
func filesFrom(p *plan, opts Options) (*walk.Only, error) {
	switch {
	case opts.FilesFrom == nil:
		return nil, nil
	case !p.dir:
		return nil, refused("the paths listed are relative to SRC", "--files-from needs SRC to be a directory")
	case opts.Delete:
		return nil, refused("mirror the whole tree with --delete, or copy a list without it",
			"--delete cannot go with --files-from: a list says what to copy, not what DST should hold")
	}
	only, err := walk.NewOnly(opts.FilesFrom)
	if err != nil {
		return nil, refused("paths relative to SRC, without ..", "--files-from: %v", err)
	}
	return only, nil
}

// countTotals starts the counting walk for opts.Reporter; the function it
// returns stops it and waits for it to end.
func (c *coordinator) countTotals(ctx context.Context, opts Options) (stop func()) {
	countCtx, stopCount := context.WithCancel(ctx)
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		countTotals(countCtx, c.fs, c.plan, opts.Dereference, c.filter, c.selection, c.dirFds, opts.Reporter)
	}()
	return func() { stopCount(); <-counted }
}

// copyAll copies, then deletes what --delete says. A dry run is the same
// run, every write skipped where it would happen (makeDstRoot, makeDir,
// finishDir, the workers' copies, deleteExtra), so that it decides what to
// do with each entry as the real run would.
func (c *coordinator) copyAll(ctx context.Context, opts Options) error {
	err := c.run(ctx, c.workerCount)
	c.endFull(err == nil)
	if opts.Delete && c.plan.dir && err == nil {
		if n := int64(len(c.sum.Errors)) + c.sum.NotCopied(); n > 0 {
			c.warn(fmt.Sprintf("--delete: nothing deleted, as %d entries could not be copied", n))
		} else {
			c.deleteExtra(ctx, delDir{src: c.plan.srcRoot, dst: c.plan.dstRoot}, c.set.DryRun)
			c.deleteDone()
			if ctx.Err() != nil {
				err = fmt.Errorf("interrupted: %w", context.Cause(ctx))
			}
		}
	}
	if err == nil && c.set.Fsync && !c.set.DryRun {
		// DST's own name (or the single file's), in the directory holding it.
		if serr := syncDir(c.fs, filepath.Dir(c.plan.dstRoot)); serr != nil {
			c.fail("", fmt.Errorf("flush the directory holding the destination: %w", fsutil.UnwrapPath(serr)))
		}
	}
	if c.staleRemoved > 0 {
		c.warn(fmt.Sprintf("removed %d temporary files left by an earlier, interrupted copy", c.staleRemoved))
	}
	return err
}

// protectSrc returns the identities of SRC's root and of every directory
// above it, found with ".." from SRC itself (which sees through bind mounts
// and symlinks in the path as spelled): --delete neither enters nor removes
// any of them. A DST that is one of them is refused now.
func protectSrc(fsys afero.Fs, p *plan, opts Options) (map[fileID]bool, error) {
	dev, ino, above, err := beneath.Identity(p.srcRoot)
	if err != nil {
		return nil, nil // not known here: the checks by path stand alone
	}
	protect := map[fileID]bool{{dev: dev, ino: ino}: true}
	for _, a := range above {
		protect[fileID{dev: a[0], ino: a[1]}] = true
	}
	if dinfo, err := fsys.Stat(p.dstRoot); err == nil {
		if id, _, ok := fileIDOf(dinfo); ok && protect[id] {
			return nil, refused("--delete removes from DST what SRC lacks: choose a DST that does not hold SRC",
				"--delete would delete the source: source %s is inside destination %s", DisplayPath(opts.Src), DisplayPath(opts.Dst))
		}
	}
	return protect, nil
}

// protected says whether --delete must leave the directory info alone:
// SRC's root or a directory above it, reached from DST (a bind mount).
func (c *coordinator) protected(info os.FileInfo) bool {
	id, _, ok := fileIDOf(info)
	return ok && info.IsDir() && c.protect[id]
}

// removeAll removes name and all below it for --delete, never through a
// symlink and never SRC or what holds it (see protectSrc).
func (c *coordinator) removeAll(name string) error {
	if !c.isOS {
		return c.fs.RemoveAll(name)
	}
	return beneath.RemoveAll(name, func(dev, ino uint64) bool { return c.protect[fileID{dev: dev, ino: ino}] })
}

// endWalk waits for the lister, stopped by quit, to end: it must not go on
// reading once SRC is no longer a held root.
func (c *coordinator) endWalk() {
	if c.entries != nil {
		for range c.entries {
		}
	}
}

type nopReporter struct{}

func (nopReporter) Totals(files, bytes int64, final bool) {}

func (nopReporter) Bytes(n int64) {}

func (nopReporter) Settled(n int64) {}

func (nopReporter) FileDone(rel string, err error) {}

func (nopReporter) Warn(msg string) {}
