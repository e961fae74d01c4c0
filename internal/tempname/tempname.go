// Package tempname makes and reads the names of pcopy's temporary files:
// ".pcopy-PID-WORKER-RANDOM.tmp", in the directory of the file being
// copied. A copy is written under such a name and renamed to its final
// name only when complete, so a final name never holds a partial file;
// the pid and worker number let a coordinator remove what a dead worker
// left without touching the files of live ones. Pending is such an entry
// (a file, symlink, hard link, device node or split file) until it is
// renamed into place, or removed.
package tempname

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
)

// Prefix starts the name of every temporary file pcopy creates.
const Prefix = ".pcopy-"

// ForWorker starts the temporary names of worker number worker of the
// process pid.
func ForWorker(pid, worker int) string {
	return fmt.Sprintf("%s%d-%d-", Prefix, pid, worker)
}

// New is a fresh temporary name in dir, starting with prefix (from
// ForWorker). Callers create it with O_EXCL and try another on a
// collision.
func New(dir, prefix string) string {
	return filepath.Join(dir, fmt.Sprintf("%s%016x.tmp", prefix, rand.Uint64()))
}

// Make makes an entry under a fresh temporary name in dir, starting with
// prefix: make is called with each name tried, and another is tried when
// one is taken (an error that is fs.ErrExist), so that nothing anyone made
// is ever replaced. It returns the name made, or make's error.
func Make(dir, prefix string, make func(name string) error) (string, error) {
	for range 100 {
		name := New(dir, prefix)
		if err := make(name); !errors.Is(err, fs.ErrExist) {
			return name, err
		}
	}
	return "", errors.New("too many temporary name collisions")
}

// Dir is the directory an entry is pending in, as far as Pending needs
// it: an afero.Fs is one (its names are paths), a directory held open as a
// descriptor another (names relative to it).
type Dir interface {
	Rename(oldname, newname string) error
	Remove(name string) error
}

// Pending is an entry made under a temporary name and not yet at its
// final name: renameio's PendingFile, for an entry of any kind (a file
// being written, a symlink, a hard link, a device node). Commit renames
// it into place; Cleanup, deferred as soon as it is made, removes it
// unless Commit did. The zero Pending is none: its Cleanup does nothing.
type Pending struct {
	Name string // its temporary name, "" once it has its final name
	dir  Dir
}

// MakePending is Make (in dir, whose path is path, "" for names relative
// to it), returning what it made as a Pending.
func MakePending(dir Dir, path, prefix string, make func(name string) error) (Pending, error) {
	if err := Fenced(); err != nil {
		return Pending{}, err // nothing made in a directory another worker now fills
	}
	name, err := Make(path, prefix, make)
	if err != nil {
		return Pending{}, err
	}
	return Pending{Name: name, dir: dir}, nil
}

// Fence, if set, is asked before a pending entry is made and before it is
// given its final name, and a non-nil answer stops it. A worker process on another host sets it
// (see copier's agent): a host frozen past the coordinator's timeout, its
// jobs given to others, must not finish the file it was in when it comes
// back. It is set once, by a worker process's main, never by a library.
var Fence func() error

// ErrFenced is what a Fence answers when the worker must give its name to
// nothing more.
var ErrFenced = errors.New("fenced: this host was given up by its coordinator")

// Fenced asks Fence, if set.
func Fenced() error {
	if Fence != nil {
		return Fence()
	}
	return nil
}

// Commit gives the entry the name final, replacing what is there. After a
// failure the entry is still pending (Cleanup removes it), and the
// error is the rename's.
func (p *Pending) Commit(final string) error {
	if err := Fenced(); err != nil {
		return err
	}
	if err := p.dir.Rename(p.Name, final); err != nil {
		return err
	}
	p.Name = ""
	return nil
}

// Cleanup removes the entry unless it was committed (or there is none).
func (p *Pending) Cleanup() {
	if p.Name != "" {
		p.dir.Remove(p.Name)
		p.Name = ""
	}
}

// Is reports whether name is a plain file name pcopy could have made for
// a temporary file (a worker checks before writing to one).
func Is(name string) bool {
	return strings.HasPrefix(name, Prefix) && strings.HasSuffix(name, ".tmp") &&
		!strings.ContainsAny(name, "/\\\x00")
}

// Pid returns the pid in a temporary file's name.
func Pid(name string) (int, bool) {
	if !Is(name) {
		return 0, false
	}
	rest := strings.TrimPrefix(name, Prefix)
	i := strings.IndexByte(rest, '-')
	if i <= 0 {
		return 0, false
	}
	pid, err := strconv.Atoi(rest[:i])
	return pid, err == nil && pid > 0
}
