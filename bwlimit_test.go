//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// --bwlimit holds the workers together to the rate: 1 MiB in 8 files on
// two workers at 2M (2 MiB/s) cannot take less than about half a second
// (less the 0.1 s of credit a limiter starts with). Two workers each
// keeping to the whole rate alone would take half that; none at all, a
// few ms. (A lower bound only: a slow machine only makes it longer.) The
// JSON report's rate is the limited one.
func TestBwLimitHoldsTheRate(t *testing.T) {
	dir := t.TempDir()
	pcopy := pcopyIn(t, dir)
	src := filepath.Join(dir, "src")
	must(t, os.MkdirAll(src, 0o755))
	for i := range 8 {
		must(t, os.WriteFile(filepath.Join(src, fmt.Sprint(i)), bytes.Repeat([]byte{byte(i + 1)}, 128<<10), 0o644))
	}
	cmd := exec.Command(pcopy, "-j", "2", "--json", "--bwlimit", "2M", src, filepath.Join(dir, "dst"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pcopy: %v\n%s", err, stderr.String())
	}
	var report struct {
		Bytes    int64   `json:"bytes"`
		Duration float64 `json:"duration_seconds"`
		Rate     float64 `json:"bytes_per_second"`
	}
	must(t, json.Unmarshal(stdout.Bytes(), &report))
	if report.Bytes != 1<<20 || report.Duration < 0.35 || report.Rate > 2.5*(1<<20) {
		t.Errorf("1 MiB at --bwlimit 2M: %d bytes in %.3f s (%.0f B/s); want at least 0.35 s", report.Bytes, report.Duration, report.Rate)
	}
	sameTree(t, src, filepath.Join(dir, "dst"))
}
