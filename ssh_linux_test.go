package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/treecheck"
)

// sshHosts starts a real OpenSSH sshd, listening on 127.0.0.2 and
// 127.0.0.3 with a throw-away host key and key authentication, and
// returns an ssh config that names them nodeA and nodeB. setEnv is given
// to the sessions sshd starts (sshd_config's SetEnv); keyOptions, if any,
// go before the key in authorized_keys (a forced command). It skips
// without root or sshd.
func sshHosts(t *testing.T, setEnv, keyOptions string) (config string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run sshd")
	}
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if sshd, err = exec.LookPath("/usr/sbin/sshd"); err != nil {
			t.Skip("needs OpenSSH's sshd (Debian's openssh-server; .ci/run installs it)")
		}
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("needs ssh")
	}
	dir := t.TempDir()
	for _, key := range []string{"hostkey", "userkey"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, key)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "userkey.pub"))
	must(t, err)
	if keyOptions != "" {
		pub = append([]byte(keyOptions+" "), pub...)
	}
	must(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600))
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	must(t, os.MkdirAll("/run/sshd", 0o755)) // its privilege separation directory
	cfg := fmt.Sprintf(`ListenAddress 127.0.0.2:%d
ListenAddress 127.0.0.3:%d
HostKey %s/hostkey
AuthorizedKeysFile %s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile %s/sshd.pid
MaxStartups 100
LogLevel ERROR
`, port, port, dir, dir, dir)
	if setEnv != "" {
		cfg += "SetEnv " + setEnv + "\n"
	}
	must(t, os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600))
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	var log bytes.Buffer
	cmd.Stderr = &log
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd's log:\n%s", log.String())
		}
	})
	for _, addr := range []string{"127.0.0.2", "127.0.0.3"} {
		for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
			c, err := net.Dial("tcp", net.JoinHostPort(addr, fmt.Sprint(port)))
			if err == nil {
				c.Close()
				break
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("sshd does not listen on %s: %v\n%s", addr, err, log.String())
			}
		}
	}
	config = filepath.Join(dir, "ssh_config")
	must(t, os.WriteFile(config, []byte(fmt.Sprintf(`Host nodeA
  HostName 127.0.0.2
Host nodeB
  HostName 127.0.0.3
Host *
  Port %d
  User root
  IdentityFile %s/userkey
  IdentitiesOnly yes
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  LogLevel ERROR
`, port, dir)), 0o600))
	return config
}

// A copy through two hosts reached with real ssh (sshd on two loopback
// addresses) is the same as its source in everything cp -a keeps
// (content, modes, owners, times to the nanosecond, xattrs, hard-link
// groups, special files), with no temporary file left.
func TestCopyThroughSSH(t *testing.T) {
	config := sshHosts(t, "", "")
	pcopy, _, dir := standInHosts(t)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	everyKind(t, src)
	manyFiles(t, filepath.Join(src, "many"), 200)
	must(t, unix.Setxattr(filepath.Join(src, "a"), "user.note", []byte("kept"), 0))
	cmd := exec.Command(pcopy, "--hosts", "nodeA:2,nodeB:2", "--local-workers", "0",
		"--rsh", "ssh -F "+config+" -T -o BatchMode=yes {host} {cmd}", "--remote-pcopy", pcopy, src, dst)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pcopy: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "pcopy: workers: 2 on nodeA, 2 on nodeB") {
		t.Errorf("the workers did not run on both hosts:\n%s", stderr.String())
	}
	sameTree(t, src, dst)
}

// Killing the ssh client of one host mid-copy drops that host: its agent,
// seeing its connection end, stops its workers and exits; the other host
// and this machine finish the copy, identical, with nothing left behind.
func TestSSHClientKilledMidCopy(t *testing.T) {
	config := sshHosts(t, "PCOPY_TEST_PACE=10ms PCOPY_TEST_PACE_FILES=1", "")
	pcopy, _, dir := standInHosts(t)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	manyFiles(t, src, 300)
	cmd := exec.Command(pcopy, "--hosts", "nodeA:2,nodeB:1", "--local-workers", "1",
		"--rsh", "ssh -F "+config+" -T -o BatchMode=yes {host} {cmd}", "--remote-pcopy", pcopy, src, dst)
	cmd.Env = append(os.Environ(), paceEnv+"=10ms", paceFilesEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	for start := time.Now(); countFiles(dst) < 30; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the copy did not start: %s", stderr.String())
		}
	}
	out, err := exec.Command("pkill", "-KILL", "-f", "^ssh -F "+config+" .* nodeA ").CombinedOutput()
	if err != nil {
		t.Fatalf("pkill found no ssh client of nodeA: %v %s", err, out)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pcopy: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "on nodeA) died (host nodeA: ") {
		t.Errorf("no warning names nodeA's lost workers:\n%s", stderr.String())
	}
	sameTree(t, src, dst)
	// nodeA's agent and workers, cut off, stop on their own.
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		out, _ := exec.Command("pgrep", "-f", pcopy+" --serve-agent").Output()
		if len(bytes.TrimSpace(out)) == 0 {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("agents still running after the copy: %s", out)
		}
	}
}

// Under an ssh forced command (command="pcopy --serve-agent --allow-root
// ..." in authorized_keys, whatever the client asks to run), a host's
// agent works only beneath its allowed roots: a copy between them goes
// through; one whose DST is elsewhere is refused before anything is
// written there.
func TestForcedCommandAllowsOnlyItsRoots(t *testing.T) {
	pcopy, _, dir := standInHosts(t)
	allowed := filepath.Join(dir, "allowed")
	src, dst := filepath.Join(allowed, "src"), filepath.Join(allowed, "dst")
	manyFiles(t, src, 20)
	config := sshHosts(t, "", `command="`+pcopy+` --serve-agent --allow-root `+allowed+`",no-pty,no-port-forwarding`)
	run := func(dst string) (string, error) {
		cmd := exec.Command(pcopy, "--hosts", "nodeA:2", "--local-workers", "0",
			"--rsh", "ssh -F "+config+" -T -o BatchMode=yes {host} {cmd}", "--remote-pcopy", "/nowhere/ignored", src, dst)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		return stderr.String(), err
	}
	if stderr, err := run(dst); err != nil {
		t.Fatalf("a copy within the allowed root: %v\n%s", err, stderr)
	}
	diffs, err := treecheck.Compare(src, dst, treecheck.Options{})
	must(t, err)
	if len(diffs) > 0 {
		t.Errorf("the copy differs from its source: %v", diffs)
	}
	outside := filepath.Join(dir, "outside")
	stderr, err := run(outside)
	if code := exitCode(err); code != exitUsage {
		t.Errorf("a DST outside the allowed root: exit %d, want %d\n%s", code, exitUsage, stderr)
	}
	if !strings.Contains(stderr, "is below no --allow-root of this host's agent") {
		t.Errorf("no message says why:\n%s", stderr)
	}
	if _, err := os.Lstat(outside); !os.IsNotExist(err) {
		t.Errorf("the refused copy left DST behind: %v", err)
	}
}

// A host stopped mid-copy (SIGSTOP: a node that hangs) is given up after
// --host-timeout and its jobs go to the others; when it comes back
// (SIGCONT) after the copy is done, its agent finds its connection gone,
// stops its workers and exits, and DST is still exactly the copy, with no
// temporary file: a worker frozen in the middle of a file finds, before
// it gives the file its name, that its agent has not heard from the
// coordinator for the timeout (the agent's fence), and stops.
func TestSSHHostStoppedThenContinued(t *testing.T) {
	config := sshHosts(t, "PCOPY_TEST_PACE=10ms PCOPY_TEST_PACE_FILES=1", "")
	pcopy, _, dir := standInHosts(t)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	manyFiles(t, src, 300)
	cmd := exec.Command(pcopy, "--hosts", "nodeA:2,nodeB:1", "--local-workers", "0", "--host-timeout", "2s",
		"--rsh", "ssh -F "+config+" -T -o BatchMode=yes {host} {cmd}", "--remote-pcopy", pcopy, src, dst)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	must(t, cmd.Start())
	for start := time.Now(); countFiles(dst) < 30; time.Sleep(5 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the copy did not start: %s", stderr.String())
		}
	}
	agent := agentOf(t, pcopy, "127.0.0.2")
	pgid, err := syscall.Getpgid(agent)
	must(t, err)
	must(t, syscall.Kill(-pgid, syscall.SIGSTOP)) // the agent and its workers
	t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pcopy: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "pcopy: warning: host nodeA lost: no answer for ") {
		t.Errorf("no warning says nodeA was lost:\n%s", stderr.String())
	}
	// Reached again (a new session, its own agent), or still being
	// reached when the copy ended.
	if !regexp.MustCompile(`nodeA: 2 workers, .*; (lost once, reached again|lost \(no answer for )`).MatchString(stderr.String()) {
		t.Errorf("the summary does not say nodeA was lost:\n%s", stderr.String())
	}
	sameTree(t, src, dst)
	must(t, syscall.Kill(-pgid, syscall.SIGCONT))
	for start := time.Now(); syscall.Kill(agent, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Since(start) > 20*time.Second {
			t.Fatal("the agent, continued, did not stop")
		}
	}
	time.Sleep(200 * time.Millisecond) // what its workers would still do
	sameTree(t, src, dst)
}

// agentOf returns the pid of the agent (pcopy --serve-agent) that sshd
// runs for a connection to addr.
func agentOf(t *testing.T, pcopy, addr string) int {
	t.Helper()
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		out, _ := exec.Command("pgrep", "-f", pcopy+" --serve-agent").Output()
		for _, f := range strings.Fields(string(out)) {
			env, err := os.ReadFile("/proc/" + f + "/environ")
			if err == nil && bytes.Contains(env, []byte(" "+addr+" ")) { // SSH_CONNECTION=client port server port
				var pid int
				fmt.Sscan(f, &pid)
				return pid
			}
		}
	}
	t.Fatalf("no agent for %s", addr)
	return 0
}
