//go:build !linux

package bwlimit

import (
	"errors"
	"os"
	"time"
)

var start = time.Now()

func monotonicNow() int64 { return int64(time.Since(start)) }

// Shared is Linux's: elsewhere each process keeps its own word.
func Shared() (f *os.File, word *int64, err error) { return nil, nil, errors.ErrUnsupported }

// Path is never asked here.
func Path(f *os.File) string { return "" }

// Open is never asked here.
func Open(path string) (*int64, error) { return nil, errors.ErrUnsupported }
