package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/treecheck"
)

// A host that sees other filesystems at SRC's or DST's path (here: an
// agent in a mount namespace of its own, with a tmpfs over the
// directory) is refused before it writes anything, with the reason; the
// copy goes on with the hosts that see the same trees, or stops (exit 2,
// nothing written) when none does.
func TestHostSeeingOtherTreesIsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount in a namespace")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	pcopy, _, dir := standInHosts(t)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	manyFiles(t, src, 30)
	must(t, os.Mkdir(dst, 0o755))
	launcher := filepath.Join(dir, "namespaced.sh")
	must(t, os.WriteFile(launcher, []byte(`#!/bin/sh
# namespaced.sh HOST COMMAND...: runs COMMAND as the agent of HOST, which
# for otherdst and othersrc sees a tmpfs over DST or SRC.
host=$1
shift
case $host in
otherdst) exec unshare --mount --propagation private sh -c 'mount -t tmpfs tmpfs "$0" && exec "$@"' "`+dst+`" "$@" ;;
othersrc) exec unshare --mount --propagation private sh -c 'mount -t tmpfs tmpfs "$0" && exec "$@"' "`+src+`" "$@" ;;
esac
exec "$@"
`), 0o755))
	if out, err := exec.Command("unshare", "--mount", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a mount namespace here: %v: %s", err, out)
	}
	run := func(hosts string, args ...string) (string, error) {
		cmd := exec.Command(pcopy, append([]string{"--hosts", hosts, "--local-workers", "0", "--rsh", launcher + " {name} {argv}",
			"--remote-pcopy", pcopy}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		return stderr.String(), err
	}
	stderr, err := run("otherdst,othersrc,same", src, dst)
	if err != nil {
		t.Fatalf("pcopy: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"pcopy: warning: host otherdst refused, its workers did not run: sees another DST at " + dst + ": the check file written here is not there",
		"pcopy: warning: host othersrc refused, its workers did not run: sees another SRC at " + src + " (here filesystem type ",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	diffs, err := treecheck.Compare(src, dst, treecheck.Options{IgnoreRootTimes: true})
	must(t, err)
	if len(diffs) > 0 {
		t.Errorf("the copy differs from its source: %v", diffs)
	}
	if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
		t.Errorf("check or temporary files left: %v", left)
	}

	// No host left: refused, and DST, made for the copy, is gone again.
	fresh := filepath.Join(dir, "fresh")
	stderr, err = run("othersrc", src, fresh)
	if code := exitCode(err); code != exitUsage {
		t.Errorf("exit code %d, want %d\n%s", code, exitUsage, stderr)
	}
	if !strings.Contains(stderr, "pcopy: error: no host could run workers: sees another SRC") {
		t.Errorf("no error says why:\n%s", stderr)
	}
	if _, err := os.Lstat(fresh); !os.IsNotExist(err) {
		t.Errorf("a refused copy left DST behind: %v", err)
	}
}

// exitCode is the exit code err (from exec's Run) says, 0 for none.
func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
