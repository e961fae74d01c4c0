package copier

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/tempname"
)

// An agent's fence: one word of memory shared with its workers, holding
// when the agent last heard from its coordinator (CLOCK_MONOTONIC, which
// goes on counting while a process is stopped). Before a worker gives an
// entry its final name it looks: if the agent has not heard from the
// coordinator for the timeout, the coordinator has given this host up and
// its jobs to others, and the worker stops instead (tempname.Fence). A
// host frozen whole (SIGSTOP) and continued after that is stopped so.

// newFence makes an agent's fence; heard records that a frame came.
func newFence() (f *os.File, heard func(), err error) {
	fd, err := unix.MemfdCreate("pcopy-fence", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, nil, err
	}
	f = os.NewFile(uintptr(fd), "pcopy-fence")
	if err := f.Truncate(8); err != nil {
		f.Close()
		return nil, nil, err
	}
	mem, err := unix.Mmap(fd, 0, 8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	word := (*int64)(unsafe.Pointer(&mem[0]))
	heard = func() { atomic.StoreInt64(word, monotonicNow()) }
	heard()
	return f, heard, nil
}

// useFence, in a worker process an agent started, sets tempname.Fence from
// the fence at fd (3: the first of the files the agent gave it).
func useFence(fd int, timeout string) error {
	var ns int64
	if _, err := fmt.Sscan(timeout, &ns); err != nil || ns <= 0 {
		return fmt.Errorf("bad %s %q", fenceEnv, timeout)
	}
	mem, err := unix.Mmap(fd, 0, 8, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map the agent's fence: %w", err)
	}
	word := (*int64)(unsafe.Pointer(&mem[0]))
	tempname.Fence = func() error {
		if monotonicNow()-atomic.LoadInt64(word) > ns {
			return tempname.ErrFenced
		}
		return nil
	}
	return nil
}

func monotonicNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
