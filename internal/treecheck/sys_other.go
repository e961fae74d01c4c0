//go:build !linux

package treecheck

import (
	"os"
	"time"
)

func sysDiffs(rel, pa, pb string, a, b os.FileInfo) []string { return nil }
func linkGroups(entries map[string]os.FileInfo) string       { return "" }
func atime(fi os.FileInfo) time.Time                         { return fi.ModTime() }
