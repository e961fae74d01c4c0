package copier

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
)

// Options configure one copy.
type Options struct {
	// Src and Dst are the paths given by the user (see Plan for the rule).
	Src, Dst string

	// Fs is the filesystem the coordinator walks and writes. Nil means the
	// operating system's. Workers started by Spawn must see the same files.
	Fs afero.Fs

	// Workers is the number of workers; 0 means one, or none with Hosts.
	Workers int

	// Hosts run workers too, as many as each one's Workers says, once
	// each has shown that it sees SRC and DST as this machine does (see
	// Host.Prove); one that does not is left out with a warning. Copy
	// does not close them.
	Hosts []*Host

	// Fsync flushes every file to disk before it gets its name, and every
	// directory once its entries are in, so that a copy that completed
	// survives a power loss. It costs time (see README).
	Fsync bool

	// NoOwner leaves copies owned by whoever runs the copy. Otherwise
	// they get their source's owner and group: all of them as root;
	// the group only, where it is one of the user's, otherwise.
	NoOwner bool

	// Dereference follows symlinks in SRC: what they point to is copied,
	// not the links (cp -L). A link to nothing is reported; a link to a
	// directory that holds it is reported, not followed round and round.
	Dereference bool

	// Verify reads each copied file back once it is written and compares
	// it with its source by hash (XXH3-128): a copy that differs is an
	// error and never gets its name. Both are likely read from the page
	// cache: this checks the copy as written, not the disk under it.
	// With Verify, files are not split (SplitSize): each is copied whole
	// and verified.
	Verify bool

	// LinkDest names an earlier copy of SRC (a path relative to DST, as
	// rsync's --link-dest, or absolute) on DST's filesystem: a file it
	// holds with the size, mtime, mode and owner listed in SRC is
	// hard-linked from there instead of copied, so that daily snapshots
	// cost only what changed.
	LinkDest string

	// Delete makes DST a mirror of SRC: once everything is copied without
	// an error, what DST has and SRC lacks is removed (what Exclude leaves
	// out of SRC is kept in DST). Nothing outside DST is ever touched.
	Delete bool

	// DeleteUnrelated lets Delete mirror SRC into a DST that holds
	// entries but none of SRC's names, which is refused otherwise: SRC's
	// contents go into DST (as cp -a SRC/. DST), where rsync without a
	// trailing slash makes DST/SRC, and an rsync habit would then delete
	// everything else DST holds.
	DeleteUnrelated bool

	// MaxDelete, when positive, stops Delete after that many entries; the
	// rest is reported (an error) and left.
	MaxDelete int

	// DryRun writes nothing: the copy only says, through OnAction and the
	// Summary, what it would copy, leave unchanged, fail on and delete.
	DryRun bool

	// Exclude and Include leave entries of SRC out of the copy: see
	// internal/filter for the patterns. An entry is left out when an Exclude
	// pattern matches and no Include pattern does; a directory left out
	// is not entered.
	Exclude, Include []string

	// Update says which files already in DST are left alone (a re-run
	// copies only what changed); the zero value is UpdateChanged.
	Update UpdatePolicy

	// ModifyWindow: modification times this close count as the same, on
	// re-runs (Update) and for KeepNewer, for DST filesystems with coarse
	// times (FAT keeps 2 s, some network filesystems 1 s).
	ModifyWindow time.Duration

	// IgnoreExisting leaves whatever DST already has at a name as it is
	// (rsync's --ignore-existing); KeepNewer leaves an entry whose mtime
	// is later than its source's (rsync's --update). Either way it counts
	// as unchanged.
	IgnoreExisting, KeepNewer bool

	// MinSize and MaxSize, when positive, leave out regular files
	// smaller or larger than that many bytes (counted as excluded).
	MinSize, MaxSize int64

	// FilesFrom, if not nil, is what is copied: paths relative to SRC (a
	// directory SRC), each with the directories above it; a directory
	// listed is made, not what it holds (unless listed too). A path SRC
	// lacks is an error for that path; the rest is copied. Not with
	// Delete.
	FilesFrom []string

	// BackupDir, if set, is where what DST has is moved, under its path
	// below DST, before a re-run replaces it or Delete removes it
	// (rsync's --backup --backup-dir): by rename, so on DST's filesystem
	// (refused otherwise); relative to DST, or absolute. A replacement
	// that fails puts the file back. Files are not split with it.
	BackupDir string

	// BwLimit, when positive, is the bytes a second the workers copy
	// together (--bwlimit): each chunk waits its turn; files are read and
	// written, never cloned (a clone would take no time). With hosts,
	// each machine gets the share its workers are of all.
	BwLimit int64

	// OneFilesystem does not cross into other mounts below SRC (other
	// filesystems, bind mounts): a mount point's directory is made, empty,
	// as rsync -x does. Linux only (walk.OneFilesystemWorks).
	OneFilesystem bool

	// Spawn starts worker number id. Nil means in-process workers on Fs
	// (see InProcess); the pcopy command passes Exec, which re-executes
	// the binary.
	Spawn Spawner

	// Reporter, if set, is told about progress as it happens.
	Reporter Reporter

	// OnAction, if set, is called once for each entry the copy acted on
	// (not for directories made, only for those that failed), from one
	// goroutine, in the order things happened: for audit logs. host names
	// the host whose worker acted, in a copy with Hosts; it is "" for this
	// machine and for what the coordinator does itself (directories,
	// --delete).
	OnAction func(a Action, rel, host string, err error)

	// SplitSize, when positive, has files of at least this many bytes
	// copied in parts by several workers at once (Linux, the operating
	// system's filesystem). It pays where one stream is slow, as on
	// network filesystems; on local ext4 or XFS, writes to one file
	// serialize on its inode and splitting is slower (measured: a 1 GiB
	// file took 0.54 s split, 0.38 s whole). A copy killed with SIGKILL
	// while splitting leaves the split file's temporary file.
	SplitSize int64

	// CountTotals walks the source a second time, alongside the copy, to
	// tell the Reporter the tree's total size early. Meant for a progress
	// bar; it costs an extra stat of every entry.
	CountTotals bool
}

// Action is what a copy did with one entry (see Options.OnAction).
type Action uint8

const (
	Copied    Action = iota // a file, symlink or special file written to DST
	Linked                  // a hard link made to a file already copied
	Unchanged               // DST already held it (see UpdatePolicy)
	Skipped                 // not copied, by design: a warning says why (a device node without root)
	Failed                  // could not be copied: err says why
	Excluded                // left out by Options.Exclude
	Deleted                 // removed from DST by Options.Delete
	Reused                  // hard-linked from Options.LinkDest, not copied
)

func (a Action) String() string {
	switch a {
	case Copied:
		return "copied"
	case Linked:
		return "linked"
	case Unchanged:
		return "unchanged"
	case Skipped:
		return "skipped"
	case Failed:
		return "failed"
	case Excluded:
		return "excluded"
	case Deleted:
		return "deleted"
	case Reused:
		return "reused"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Reporter receives progress events from the coordinator. Methods are called
// from the coordinator's goroutine, except Totals, which the counting walk
// calls from its own; implementations must be safe for that.
type Reporter interface {
	// Totals reports what the counting walk has found so far; final is
	// true on its last call.
	Totals(files, bytes int64, final bool)
	// Bytes reports n more bytes copied (n may be negative when a dead
	// worker's partial work is taken back).
	Bytes(n int64)
	// Settled reports n bytes of the listed sizes finished without being
	// copied: files DST already held, reused, linked or failed. With
	// Bytes, it says how much of the counted total is done.
	Settled(n int64)
	// FileDone reports a file or symlink finished (err nil) or failed.
	FileDone(rel string, err error)
	// Warn reports something the user should know that is not a failure.
	Warn(msg string)
}

// A HostReporter is also told, in a copy on many hosts, how many of the
// hosts given are running workers, each time that changes: at the start
// (some refused), when one is lost, dropped or back.
type HostReporter interface {
	Hosts(running, given int)
}

// A WorkingReporter is also told which file a worker is in the middle
// of, when that file is large enough to report progress before it ends.
type WorkingReporter interface {
	Working(rel string)
}

// Summary is the outcome of a copy.
type Summary struct {
	Files     int64 // regular files copied
	Symlinks  int64 // symlinks copied
	Hardlinks int64 // names given to files already copied, as in SRC
	Specials  int64 // FIFOs, sockets and device nodes made
	Dirs      int64 // directories created or updated
	Bytes     int64 // bytes of file content copied
	Unchanged int64 // files and symlinks DST already held (see UpdatePolicy), not copied
	Excluded  int64 // entries left out by Exclude (a directory counts once)
	Deleted   int64 // entries of DST removed by Delete (a directory counts once)
	Reused    int64 // files hard-linked from LinkDest instead of copied
	// Of the Errors, how many are sources that went away after the walk
	// saw their names (Vanished), and files that changed while they were
	// copied, and again when copied once more (Changed). Neither reached
	// DST.
	Vanished int64
	Changed  int64
	Duration time.Duration
	Errors   []*FileError // what could not be copied, in the order found
	// Full lists the filesystems of DST that had no room left, in the
	// order found (DST's own, or one mounted inside it): what did not
	// fit is counted there, not listed in Errors.
	Full     []*FullFs
	Warnings []string
	// Hosts says what each machine did in a copy with Options.Hosts: this
	// one first (Name ""), then each host in the order given.
	Hosts []HostSummary
}

// HostSummary is what one machine did in a copy on many hosts.
type HostSummary struct {
	Name    string // the host's name; "" for this machine
	Workers int    // how many workers it was to run
	Done    int64  // jobs it finished (a file, link or part copied, or found unchanged)
	Failed  int64  // jobs that failed there
	Bytes   int64  // bytes it copied
	// "ok"; "lost" (its jobs went to the others; it is being reached
	// again); "dropped" (lost too often: the copy went on without it);
	// "refused" (it ran none)
	State    string
	Reason   string // why it was lost, dropped or refused
	Failures int    // how many times it was lost or could not be reached again
	// The bytes sent to the host's agent and received from it, frames
	// included: the copy's control traffic (the data moves on the
	// shared filesystem).
	WireOut, WireIn int64
}

// NotCopied counts the entries not copied for lack of room (see Full).
func (s Summary) NotCopied() int64 {
	var n int64
	for _, f := range s.Full {
		n += f.Files
	}
	return n
}

// FullFs is a filesystem of DST that had no room left during a copy. From
// the first write it refused (ENOSPC, or EDQUOT over quota), nothing new
// was written to it: the entries that failed so, and all those the walk
// met after that which were meant for it, are counted here instead of
// being reported one by one.
type FullFs struct {
	Mount string // where it is mounted
	Quota bool   // the user's quota on it was used up (EDQUOT), not the filesystem (ENOSPC)
	// Files counts the entries not copied (directories aside); Bytes is
	// the size of the regular files among them, the room they need (a
	// hard-linked file's once).
	Files, Bytes int64
	// AtLeast says the copy ended (interrupted) before it met every
	// entry: Files and Bytes are lower bounds.
	AtLeast bool
	// Free is what it had free for unprivileged users when the copy
	// ended (statfs: f_bavail × f_bsize); -1 where that is not known.
	Free int64

	dev uint64 // its device
	dir string // a directory of DST on it, to find Free through
}

// FileError is one entry that could not be copied.
type FileError struct {
	Path string // slash-separated, relative to SRC ("" for SRC itself)
	Err  error
}

func (e *FileError) Error() string {
	p := e.Path
	if p == "" {
		p = "."
	}
	return DisplayPath(p) + ": " + e.Err.Error()
}

func (e *FileError) Unwrap() error { return e.Err }

// ErrIncomplete is returned (wrapped) by Copy when some entries failed or
// did not fit in DST and everything else was copied; Summary.Errors lists
// the failures, Summary.Full counts what did not fit.
var ErrIncomplete = errors.New("some entries could not be copied")

// ErrProtocol marks a malformed, truncated or unexpected message between
// the coordinator and a worker.
var ErrProtocol = wire.ErrProtocol

// RefusedError is a request pcopy will not carry out (missing SRC, DST inside
// SRC, ...). Nothing has been written when it is returned.
type RefusedError struct {
	Msg  string
	Hint string
}

func (e *RefusedError) Error() string { return e.Msg }

func refused(hint, format string, args ...any) error {
	return &RefusedError{Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// DisplayPath returns p as is when it prints safely on one line, and as a
// Go-quoted string when it holds control characters (a newline in a file
// name must not split an error message) or invalid UTF-8.
func DisplayPath(p string) string { return fsutil.DisplayPath(p) }

// TempPrefix starts the name of every temporary file pcopy creates. A copy
// is written under such a name in its destination directory and renamed to
// its final name only when complete, so a final name never holds a partial
// file.
const TempPrefix = tempname.Prefix
