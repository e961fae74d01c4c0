package copier

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pcopy/pcopy/internal/fsutil"
	"github.com/pcopy/pcopy/internal/meta"
	"github.com/pcopy/pcopy/internal/mux"
	"github.com/pcopy/pcopy/internal/tempname"
)

// Before a host writes anything, it shows that it sees SRC and DST as
// this machine does: the same paths may name other filesystems there (an
// unmounted NFS export leaves an empty directory; a container has its own
// /data). The coordinator puts a fresh nonce file in DST that the agent
// must read back, and the agent writes one of its own that the
// coordinator reads; SRC's root is fingerprinted on both sides.

// fingerprint describes the tree at root in what every client of a shared
// filesystem sees alike: its filesystem's type, the root's inode number,
// mtime and link count, and the names, sizes and mtimes of its first
// entries. Never the device number or filesystem id, which differ between
// the clients of one NFS or Lustre filesystem.
func fingerprint(root string) (string, error) {
	info, err := os.Stat(root)
	if err != nil {
		return "", err
	}
	parts := []string{"filesystem type " + fsType(root), "root: " + describe(info)}
	if !info.IsDir() {
		return strings.Join(parts, "\n"), nil
	}
	f, err := os.Open(root)
	if err != nil {
		return "", err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, name := range names[:min(len(names), 8)] {
		if tempname.Is(name) {
			continue // a check file, there a moment
		}
		e, err := os.Lstat(filepath.Join(root, name))
		if err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("%q: %s", name, describe(e)))
	}
	if len(names) == 0 {
		parts = append(parts, "empty")
	}
	return strings.Join(parts, "\n"), nil
}

// firstDifference is the first line in which fingerprints a and b differ.
func firstDifference(a, b string) (string, string) {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		x, y := "nothing", "nothing"
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return x, y
		}
	}
	return "", ""
}

// describe is the part of a fingerprint about one entry.
func describe(info fs.FileInfo) string {
	_, ino, nlink, _ := meta.Identity(info)
	s := fmt.Sprintf("inode %d, links %d, mtime %d", ino, nlink, info.ModTime().UnixNano())
	if info.Mode().IsRegular() {
		s += fmt.Sprintf(", size %d", info.Size())
	}
	return s
}

// checkFile makes a new file in dir under a temporary name of pcopy's,
// holding a fresh nonce; it returns the file's name and the nonce.
func checkFile(dir string, pid int) (name, nonce string, err error) {
	var b [16]byte
	rand.Read(b[:])
	nonce = hex.EncodeToString(b[:])
	p, err := tempname.Make(dir, tempname.ForWorker(pid, 0), func(p string) error {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644) // an agent may run as another user
		if err != nil {
			return err
		}
		_, err = io.WriteString(f, nonce)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
		}
		return err
	})
	return filepath.Base(p), nonce, err
}

// readCheckFile reads the nonce in the check file name of dir.
func readCheckFile(dir, name string) (string, error) {
	if !tempname.Is(name) {
		return "", fmt.Errorf("bad check file name %q", name)
	}
	f, err := openNoFollow(filepath.Join(dir, name))
	if err != nil {
		return "", fsutil.UnwrapPath(err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", fsutil.UnwrapPath(err)
	}
	if !info.Mode().IsRegular() || info.Size() > 64 {
		return "", errors.New("not a check file")
	}
	b, err := io.ReadAll(f)
	return string(b), fsutil.UnwrapPath(err)
}

// errString is err's text, "" for none.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// prove answers a coordinator's Prove: SRC's fingerprint, the nonce read
// from the coordinator's check file in dir (none in a dry run), and a
// check file of the agent's own there.
func (a *agent) prove(payload []byte) error {
	args, err := mux.Strings(payload, 3)
	if err != nil {
		return err
	}
	src, dir, theirs := args[0], args[1], args[2]
	if len(a.allow) > 0 {
		if err := errors.Join(allowed(src, a.allow), allowed(dir, a.allow)); err != nil {
			return a.w.Write(mux.Proved, 0, mux.PutStrings("", err.Error(), "", "", "", "", ""))
		}
	}
	fp, fpErr := fingerprint(src)
	var read, readErr, mine, nonce, mineErr string
	if theirs != "" {
		var err error
		read, err = readCheckFile(dir, theirs)
		readErr = errString(err)
		mine, nonce, err = checkFile(dir, os.Getpid())
		mineErr = errString(err)
	}
	return a.w.Write(mux.Proved, 0, mux.PutStrings(fp, errString(fpErr), read, readErr, mine, nonce, mineErr))
}

// Prove has h show that it sees src (SRC's root) and dir (DST's root, or
// the directory a single file goes in) as this machine does. A dry run
// writes no check file: SRC's fingerprint alone is compared.
func (h *Host) Prove(src, dir string, dryRun bool) error {
	want, err := fingerprint(src)
	if err != nil {
		return fmt.Errorf("fingerprint SRC here: %w", err)
	}
	var name, nonce string
	if !dryRun {
		if name, nonce, err = checkFile(dir, os.Getpid()); err != nil {
			return fmt.Errorf("write a check file in DST: %w", err)
		}
		defer os.Remove(filepath.Join(dir, name))
	}
	if err := h.w.Write(mux.Prove, 0, mux.PutStrings(src, dir, name)); err != nil {
		return err
	}
	var got []string
	select {
	case payload := <-h.proved:
		if got, err = mux.Strings(payload, 7); err != nil {
			return err
		}
	case <-h.gone:
		return h.Err()
	case <-time.After(h.timeout):
		return fmt.Errorf("no answer to the check in %v", h.timeout)
	}
	fp, fpErr, read, readErr, mine, theirNonce, mineErr := got[0], got[1], got[2], got[3], got[4], got[5], got[6]
	if mine != "" {
		defer os.Remove(filepath.Join(dir, mine))
	}
	switch {
	case fpErr != "" && fp == "" && strings.Contains(fpErr, "is not allowed here"):
		return errors.New(fpErr)
	case fpErr != "":
		return fmt.Errorf("cannot read SRC %s there: %s", DisplayPath(src), fpErr)
	case fp != want:
		here, there := firstDifference(want, fp)
		return fmt.Errorf("sees another SRC at %s (here %s; there %s)", DisplayPath(src), here, there)
	case dryRun:
		return nil
	case readErr != "" || read != nonce:
		return fmt.Errorf("sees another DST at %s: the check file written here is not there (%s)", DisplayPath(dir), orText(readErr, "other content"))
	case mineErr != "":
		return fmt.Errorf("cannot write in DST %s there: %s", DisplayPath(dir), mineErr)
	}
	if back, err := readCheckFile(dir, mine); err != nil || back != theirNonce {
		return fmt.Errorf("sees another DST at %s: the check file it wrote is not here (%s)", DisplayPath(dir), orText(errString(err), "other content"))
	}
	return nil
}

func orText(s, alt string) string {
	if s != "" {
		return s
	}
	return alt
}
