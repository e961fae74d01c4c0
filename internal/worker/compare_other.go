//go:build !linux

package worker

import "errors"

// fdDataRanges is Linux's: elsewhere a file is compared whole.
func fdDataRanges(fd int, size int64) ([][2]int64, error) { return nil, errors.ErrUnsupported }
