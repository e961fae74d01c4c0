package bwlimit

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// monotonicNow is CLOCK_MONOTONIC: the same clock in every process of the
// machine, which the shared word is counted in.
func monotonicNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// Shared makes a word to share with workers: f stays open as long as they
// may open it, by Path.
func Shared() (f *os.File, word *int64, err error) {
	fd, err := unix.MemfdCreate("pcopy-bwlimit", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, nil, err
	}
	f = os.NewFile(uintptr(fd), "pcopy-bwlimit")
	if word, err = mapWord(f); err != nil {
		f.Close()
		return nil, nil, err
	}
	atomic.StoreInt64(word, monotonicNow())
	return f, word, nil
}

// Path is where a child process of this one opens f.
func Path(f *os.File) string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.Fd()) }

// Open maps the word at path (see Path).
func Open(path string) (*int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the mapping stays
	return mapWord(f)
}

func mapWord(f *os.File) (*int64, error) {
	if err := f.Truncate(8); err != nil {
		return nil, err
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, 8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map the bandwidth word: %w", err)
	}
	return (*int64)(unsafe.Pointer(&mem[0])), nil
}
