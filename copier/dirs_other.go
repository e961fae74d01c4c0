//go:build !linux

package copier

// finishDirAt is finishDirByPath here: directories are reached by path.
func (c *coordinator) finishDirAt(d *dirState) error { return c.finishDirByPath(d) }
