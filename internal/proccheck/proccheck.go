// Package proccheck looks at processes through Linux's /proc, for tests
// that need to know what pcopy's workers are doing.
package proccheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Children returns the process ids of pid's children.
func Children(pid int) []int {
	var pids []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, field := range strings.Fields(string(b)) {
			var c int
			fmt.Sscan(field, &c)
			pids = append(pids, c)
		}
	}
	return pids
}

// Writing returns the children of pid that have a file open for writing
// below dir: a named one, or an unnamed O_TMPFILE one ("dir/#123 (deleted)").
func Writing(pid int, dir string) []int {
	var busy []int
	for _, c := range Children(pid) {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", c))
		for _, fd := range fds {
			if target, err := os.Readlink(fd); err == nil && strings.HasPrefix(target, dir+"/") {
				info, err := os.ReadFile(strings.Replace(fd, "/fd/", "/fdinfo/", 1))
				if err == nil && writable(string(info)) {
					busy = append(busy, c)
					break
				}
			}
		}
	}
	return busy
}

// writable reports whether an fdinfo text has O_WRONLY or O_RDWR in flags.
func writable(fdinfo string) bool {
	for _, line := range strings.Split(fdinfo, "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			var flags int
			fmt.Sscanf(strings.TrimSpace(v), "%o", &flags)
			return flags&3 != 0
		}
	}
	return false
}
