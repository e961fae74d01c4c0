//go:build linux

package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/creack/pty"
)

// On a terminal pcopy draws a bar on stderr that ends at 100% with every
// file counted, then prints the summary.
func TestProgressBarOnTerminal(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for _, name := range []string{"a", "b", "sub/c"} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 4_000_000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := &exec.Cmd{Path: exe, Args: []string{"pcopy", src, filepath.Join(t.TempDir(), "dst")}}
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 120})
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer tty.Close()
	var out bytes.Buffer
	io.Copy(&out, tty) // ends with EIO when pcopy exits
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pcopy on a terminal: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"100%", "3/3 files", "(12/12 MB", "\r", "pcopy: 3 files, 0 symlinks, 2 dirs, 0 unchanged, 12.0 MB in "} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, got)
		}
	}
	if !regexp.MustCompile(`3/3 files (a|b|sub/c) `).MatchString(got) {
		t.Errorf("the bar does not name the file done last:\n%q", got)
	}
}
