package main

import (
	"bytes"
	"encoding/json"
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

// A host that can reach SRC and DST but fails every job it is given
// (here: its agent runs as nobody, as root does on an NFS export that
// squashes root, and SRC's files are private) lets the copy finish: what
// it could not copy is reported, each file by name, exit 1, the rest is
// copied; run again without it, the copy completes.
func TestHostFailingEveryJob(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run an agent as nobody")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	dir, pcopy := pcopyForNobody(t)
	launcher := filepath.Join(dir, "squash.sh")
	must(t, os.WriteFile(launcher, []byte("#!/bin/sh\nhost=$1\nshift\n"+
		"[ \"$host\" = squashed ] && exec setpriv --reuid=65534 --regid=65534 --clear-groups \"$@\"\nexec \"$@\"\n"), 0o755))
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	manyFiles(t, src, 200)
	filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			os.Chmod(p, 0o600) // root's alone
		}
		return nil
	})
	must(t, os.Mkdir(dst, 0o777))
	must(t, os.Chmod(dst, 0o777)) // nobody may write its check file
	run := func(hosts string) (string, error) {
		cmd := exec.Command(pcopy, "--json", "--hosts", hosts, "--local-workers", "1", "--rsh", launcher+" {name} {argv}",
			"--remote-pcopy", pcopy, src, dst)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String() + stderr.String(), err
	}
	out, err := run("squashed:2,fine:1")
	if code := exitCode(err); code != exitFailed {
		t.Fatalf("exit code %d, want %d\n%s", code, exitFailed, out)
	}
	var report struct {
		Failed int `json:"failed"`
		Errors []struct {
			Path string `json:"path"`
		} `json:"errors"`
		Hosts []struct {
			Name   string `json:"name"`
			Done   int64  `json:"done"`
			Failed int64  `json:"failed"`
		} `json:"hosts"`
	}
	must(t, json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &report))
	if len(report.Hosts) != 3 || report.Hosts[1].Name != "squashed" || report.Hosts[1].Failed == 0 || report.Hosts[1].Done != 0 {
		t.Fatalf("the squashed host did not fail every job it was given: %+v", report.Hosts)
	}
	// Exactly what failed is reported: each file missing from DST, and
	// nothing else.
	missing := map[string]bool{}
	filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			rel, _ := filepath.Rel(src, p)
			if _, err := os.Lstat(filepath.Join(dst, rel)); err != nil {
				missing[rel] = true
			}
		}
		return nil
	})
	if int64(len(missing)) != report.Hosts[1].Failed || len(report.Errors) != len(missing) {
		t.Errorf("%d files missing, %d errors, the host failed %d", len(missing), len(report.Errors), report.Hosts[1].Failed)
	}
	for _, e := range report.Errors {
		if !missing[e.Path] {
			t.Errorf("reported failed but copied: %s", e.Path)
		}
	}
	if out, err := run("fine:1"); err != nil {
		t.Fatalf("run again without the squashed host: %v\n%s", err, out)
	}
	diffs, err := treecheck.Compare(src, dst, treecheck.Options{IgnoreRootTimes: true})
	must(t, err)
	if len(diffs) > 0 {
		t.Errorf("the copy differs from its source: %v", diffs)
	}
}
