//go:build !unix

package progress

import "os"

// resized is nil where there is no SIGWINCH: the line follows the width
// at its next redraw.
func resized() (c <-chan os.Signal, unwatch func()) { return nil, func() {} }
