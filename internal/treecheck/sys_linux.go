package treecheck

import (
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/longpath"
)

// sysDiffs compares what Linux records beyond the portable FileInfo:
// owner and group, device numbers, and extended attributes (POSIX ACLs
// are some).
func sysDiffs(rel, pa, pb string, a, b os.FileInfo) []string {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return nil
	}
	var d []string
	if sa.Uid != sb.Uid || sa.Gid != sb.Gid {
		d = append(d, fmt.Sprintf("%q: owner %d:%d, want %d:%d", rel, sb.Uid, sb.Gid, sa.Uid, sa.Gid))
	}
	if a.Mode()&fs.ModeDevice != 0 && sa.Rdev != sb.Rdev {
		d = append(d, fmt.Sprintf("%q: device %#x, want %#x", rel, sb.Rdev, sa.Rdev))
	}
	if xa, xb := xattrs(pa), xattrs(pb); xa != xb {
		d = append(d, fmt.Sprintf("%q: xattrs %s, want %s", rel, xb, xa))
	}
	return d
}

// xattrs lists path's extended attributes (not following a symlink) as
// sorted name=value text.
func xattrs(path string) string {
	path, done := longpath.Short(path)
	defer done()
	buf := make([]byte, 64<<10)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		return "error: " + err.Error()
	}
	var out []string
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" {
			continue
		}
		v := make([]byte, 64<<10)
		m, err := unix.Lgetxattr(path, name, v)
		if err != nil {
			out = append(out, name+": "+err.Error())
			continue
		}
		out = append(out, fmt.Sprintf("%s=%q", name, v[:m]))
	}
	sort.Strings(out)
	return "[" + strings.Join(out, " ") + "]"
}

// linkGroups describes which entries of a tree are hard links to one
// another: one sorted line per group of two or more.
func linkGroups(entries map[string]os.FileInfo) string {
	type key struct{ dev, ino uint64 }
	groups := map[key][]string{}
	for rel, fi := range entries {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && !fi.IsDir() && st.Nlink > 1 {
			k := key{st.Dev, st.Ino}
			groups[k] = append(groups[k], rel)
		}
	}
	var lines []string
	for _, g := range groups {
		if len(g) > 1 {
			sort.Strings(g)
			lines = append(lines, strings.Join(g, " = "))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func atime(fi os.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atim.Sec, st.Atim.Nsec)
	}
	return fi.ModTime()
}
