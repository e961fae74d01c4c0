package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// stuckWorkerEnv names a directory; a worker started with it set is a stuck
// one (stuckWorker).
const stuckWorkerEnv = "PCOPY_TEST_STUCK_WORKER"

// stuckWorker serves as a worker that never answers and survives SIGTERM.
// It leaves marks in dir: "started-PID" once it ignores signals, and
// "sigterm-PID" when a SIGTERM arrives.
func stuckWorker(dir string) {
	signal.Ignore(syscall.SIGINT, syscall.SIGPIPE)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	mark := func(name string) {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s%d", name, os.Getpid())), nil, 0o644)
	}
	mark("started-")
	go io.Copy(io.Discard, os.Stdin)
	for range term {
		mark("sigterm-")
	}
}
