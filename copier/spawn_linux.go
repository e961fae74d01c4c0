package copier

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"
)

func setWorkerAttrs(cmd *exec.Cmd) {
	// SIGTERM rather than SIGKILL, so a worker orphaned mid-file still
	// removes its temporary file.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// startWorker starts cmd from a locked OS thread. The parent-death signal
// fires when the thread that forked the child exits, not the process
// (go.dev/issue/27505); Go only retires a thread when a goroutine exits
// while locked to it, which this goroutine never does. watchParent covers
// the rest.
func startWorker(cmd *exec.Cmd) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Start()
}

// watchParent cancels the worker when it is re-parented (its coordinator
// died without the parent-death signal reaching it), and exits the process
// if cancellation has not ended it a few seconds later.
func watchParent(ctx context.Context, cancel context.CancelFunc) {
	ppid := os.Getppid()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if os.Getppid() != ppid {
			cancel()
			time.Sleep(5 * time.Second)
			os.Exit(1)
		}
	}
}

// setProcessName sets the name ps and top show for this process (15 bytes
// at most). /proc/self/comm names the main thread, whichever thread writes.
func setProcessName(name string) {
	os.WriteFile("/proc/self/comm", []byte(name), 0)
}
