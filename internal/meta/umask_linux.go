package meta

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"sync"
)

var (
	umaskOnce sync.Once
	umask     uint32
)

// ProcessUmask reads the umask from /proc/self/status. Calling umask(2)
// to read it would change it for a moment, under every other goroutine of
// a program that uses this package as a library. When it cannot be read,
// all bits count as masked, so modes are always set with chmod.
func ProcessUmask() uint32 {
	umaskOnce.Do(func() {
		umask = 0o777
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("Umask:")); ok {
				if m, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 8, 32); err == nil {
					umask = uint32(m)
				}
			}
		}
	})
	return umask
}
