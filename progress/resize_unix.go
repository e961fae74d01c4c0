//go:build unix

package progress

import (
	"os"
	"os/signal"
	"syscall"
)

// resized delivers SIGWINCH, which a terminal's process group gets when
// its window changes size, until unwatch is called.
func resized() (c <-chan os.Signal, unwatch func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	return ch, func() { signal.Stop(ch) }
}
