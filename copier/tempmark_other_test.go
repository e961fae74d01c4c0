//go:build !linux

package copier_test

import "testing"

// markAsPcopyTemp: files carry no mark here (see tempmark_other.go).
func markAsPcopyTemp(t *testing.T, path string) {}

// installSwapHook: the race tests are Linux's (race_linux_test.go).
func installSwapHook() {}
