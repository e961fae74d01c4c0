//go:build !linux

package copier

import (
	"errors"
	"os"
)

// trySplit splits nothing here: files are copied whole.
func (c *coordinator) trySplit(dir *dirState, rel string, info os.FileInfo, group *linkGroup) bool {
	return false
}

func (c *coordinator) splitFile(dir *dirState, rel string, info os.FileInfo, group *linkGroup) *split {
	return nil
}

func sourceNow(s *split) error { return nil }

func finishSplit(s *split, owner bool, b *xattrBuf) (string, error) {
	return "", errors.New("split files are not supported on this platform")
}
