package copier

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/pcopy/pcopy/internal/bwlimit"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/tempname"
)

// An agent's fence: one word of memory shared with its workers, holding
// when its coordinator last heard from it, as the coordinator's pings say
// (by this host's CLOCK_BOOTTIME, which goes on counting while a process
// is stopped). The coordinator gives the host up, and its jobs to others,
// a timeout after that. Before a worker starts a job, makes a pending
// entry and gives it its final name, it looks: from an eighth of the
// timeout before then, it stops instead (tempname.Fence). A host frozen
// whole (SIGSTOP) and continued after it was given up is stopped so.

// newFence makes an agent's fence; heard records that the coordinator
// spoke at a time (monotonicNow's).
func newFence() (f *os.File, heard func(at int64), err error) {
	fd, err := unix.MemfdCreate("pcopy-fence", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, nil, err
	}
	f = os.NewFile(uintptr(fd), "pcopy-fence")
	if err := f.Truncate(fenceSize); err != nil {
		f.Close()
		return nil, nil, err
	}
	mem, err := unix.Mmap(fd, 0, fenceSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	word := (*int64)(unsafe.Pointer(&mem[0]))
	atomic.StoreInt64(word, monotonicNow())
	heard = func(at int64) {
		if at > atomic.LoadInt64(word) { // one writer: the agent's loop
			atomic.StoreInt64(word, at)
		}
	}
	return f, heard, nil
}

// fenceSize is the memory an agent shares with its workers: the fence's
// word, then the host's bandwidth word (bwlimit.HostWord).
const fenceSize = 16

// useFence, in a worker process an agent started, sets tempname.Fence from
// the fence at fd (3: the first of the files the agent gave it), and
// bwlimit.HostWord.
func useFence(fd int, timeout string) error {
	var ns int64
	if _, err := fmt.Sscan(timeout, &ns); err != nil || ns <= 0 {
		return fmt.Errorf("bad %s %q", fenceEnv, timeout)
	}
	mem, err := unix.Mmap(fd, 0, fenceSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map the agent's fence: %w", err)
	}
	word := (*int64)(unsafe.Pointer(&mem[0]))
	bwlimit.HostWord = (*int64)(unsafe.Pointer(&mem[8]))
	tempname.Fence = func() error {
		if monotonicNow()-atomic.LoadInt64(word) > ns-ns/8 {
			return tempname.ErrFenced
		}
		return nil
	}
	return nil
}

// monotonicNow is CLOCK_BOOTTIME, the same in the agent and its workers:
// monotonic, and counting on while the machine is suspended as well as
// while a process is stopped.
func monotonicNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return ts.Nano()
}
