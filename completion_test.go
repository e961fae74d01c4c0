package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The completion scripts are made from the options themselves: each names
// every option, each parses in its shell (where the shell is installed),
// and bash's completes an option's prefix and a file-valued option's value
// as a shell user would see it.
func TestCompletionScripts(t *testing.T) {
	app := newApp(io.Discard, io.Discard, nil)
	dir := t.TempDir()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			var b bytes.Buffer
			if err := printCompletion(&b, app, shell); err != nil {
				t.Fatal(err)
			}
			script := b.String()
			for _, f := range app.VisibleFlags() {
				if name := f.Names()[0]; !strings.Contains(script, name) {
					t.Errorf("--%s is not in the %s script", name, shell)
				}
			}
			path := filepath.Join(dir, "pcopy."+shell)
			must(t, os.WriteFile(path, b.Bytes(), 0o644))
			if _, err := exec.LookPath(shell); err != nil {
				t.Skipf("no %s here to parse the script with", shell)
			}
			if out, err := exec.Command(shell, "-n", path).CombinedOutput(); err != nil {
				t.Fatalf("%s -n: %v\n%s", shell, err, out)
			}
			if shell != "bash" {
				return
			}
			complete := func(words ...string) string {
				t.Helper()
				cmd := exec.Command("bash", "-c", `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($#-1)); _pcopy; printf '%s\n' "${COMPREPLY[@]}"`,
					"bash", path)
				cmd.Args = append(cmd.Args, words...)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("completing %q: %v\n%s", words, err, out)
				}
				return string(out)
			}
			if got := complete("pcopy", "--wor"); got != "--workers\n" {
				t.Errorf("pcopy --wor<TAB>: %q, want --workers", got)
			}
			if got := complete("pcopy", "--log", "pcopy.ba"); got != "pcopy.bash\n" {
				t.Errorf("pcopy --log pcopy.ba<TAB>: %q, want the file", got)
			}
			if got := complete("pcopy", "--completion", "z"); got != "zsh\n" {
				t.Errorf("pcopy --completion z<TAB>: %q", got)
			}
		})
	}
}
