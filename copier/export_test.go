package copier

// MaxOut is the most jobs the coordinator lets out at once.
func MaxOut(workers int) int { return workers * maxQueued * maxBatchJobs }

// SetSentHook installs testHookSent for the duration of a test.
func SetSentHook(cleanup func(func()), hook func(out int)) {
	testHookSent = hook
	cleanup(func() { testHookSent = nil })
}

// Handshake exchanges hellos with a freshly started worker.
func Handshake(w WorkerProcess, src, dst string) error {
	c := newConn(w.Stdout(), w.Stdin())
	if err := c.writeHello(hello{Version: protocolVersion, Worker: 1, SrcRoot: src, DstRoot: dst}); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	_, err := c.readHello()
	return err
}
