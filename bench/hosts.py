#!/usr/bin/env python3
"""hosts.py - time pcopy's workers run on "another host" through ssh, with and without latency.

    sudo python3 bench/hosts.py --pcopy PATH [--runs 7] [--workers 2] [--work DIR] TREE...

Needs root (it runs its own sshd), OpenSSH's sshd and ssh, and go. The "hosts" are this
machine: sshd listens on 127.0.0.2 and 127.0.0.3 (a free port, throw-away host and user
keys, as ssh_linux_test.go's sshHosts), and bench/relay, built into WORK/relay, listens on
127.0.0.4 and forwards to 127.0.0.2 with every chunk delayed 1 ms each way (2 ms more per
round trip, no bandwidth limit; tc netem is not needed). ssh_config names them nodeA
(127.0.0.2), nodeB (127.0.0.3) and slow (127.0.0.4, through the relay); each is tried
once with `ssh nodeA true` before timing. sshd and the relay are stopped at the end,
on errors and on Ctrl-C too.

Configurations, W = --workers:
    local    pcopy -q -j W SRC DST
    ssh      pcopy -q --hosts nodeA:W --local-workers 0 --rsh 'ssh -F CFG -T -o BatchMode=yes
             {host} {cmd}' --remote-pcopy PCOPY SRC DST   (the agent and workers run under sshd)
    ssh-open the same with host nodeB:W, through an ssh ControlMaster connection opened before
             timing (as ControlPersist keeps one): what the transport costs once a connection
             is there; the master's CPU is counted here
    ssh-2ms  the same as ssh with host slow:W (through the delaying relay)

For each tree, one untimed run of ssh and ssh-2ms with --json gives the control traffic
(hosts[1].wire_bytes_out / _in over hosts[1].done: bytes per job each way). Then each
round runs every configuration once, in a rotated order, each into a fresh destination
in WORK, with the page cache warm (the tree is read again before every timed run). Old
destinations are moved into WORK/trash, never deleted while timing (on ext4 without a
journal, creating files within minutes of deleting many inodes is 10-20x slower); the
trash is deleted once all trees are done. The first timed copy of each configuration is
compared with the source by bench/treediff.py.

Prints a Markdown table per tree: median wall time, min-max, median CPU of this machine's
processes (pcopy, its local workers, the ssh client: getrusage(RUSAGE_CHILDREN)), the CPU
sshd's children used (the agent and the remote workers; read from sshd's cutime/cstime),
ratio of medians to local, and the verification; then ssh-2ms against ssh: the share of
its no-delay throughput pcopy keeps with 2 ms more round trip (median ssh / median ssh-2ms).
Exit status 1 if a copy differs from its source.
"""
import argparse
import json
import os
import resource
import shutil
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from compare import check_space, settle, warm  # noqa: E402  (one copy of each, beside this file)
ROOT = os.path.dirname(HERE)
DELAY = "1ms"  # each way: the round trip through the relay takes 2 ms more
CONFIGS = ["local", "ssh", "ssh-open", "ssh-2ms"]
TICK = os.sysconf("SC_CLK_TCK")


def die(msg):
    sys.exit(f"hosts.py: {msg}")


def free_port(addr):
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def wait_listen(addr, port, proc, what, log):
    start = time.monotonic()
    while True:
        try:
            socket.create_connection((addr, port), timeout=1).close()
            return
        except OSError as e:
            if proc.poll() is not None or time.monotonic() - start > 10:
                die(f"{what} does not listen on {addr}:{port}: {e}\n{tail(log)}")
            time.sleep(0.02)


def tail(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-2000:]
    except OSError:
        return ""


class Hosts:
    """sshd on 127.0.0.2 and 127.0.0.3, the relay on 127.0.0.4, and an ssh_config naming them."""

    def __init__(self, work):
        self.dir = os.path.join(work, "ssh")
        self.procs = []
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)

    def start(self, sshd):
        d = self.dir
        for key in ("hostkey", "userkey"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(d, key)],
                           check=True)
        shutil.copy(os.path.join(d, "userkey.pub"), os.path.join(d, "authorized_keys"))
        port = free_port("127.0.0.2")
        os.makedirs("/run/sshd", exist_ok=True)  # its privilege separation directory
        with open(os.path.join(d, "sshd_config"), "w") as f:
            f.write(f"""ListenAddress 127.0.0.2:{port}
ListenAddress 127.0.0.3:{port}
HostKey {d}/hostkey
AuthorizedKeysFile {d}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile {d}/sshd.pid
MaxStartups 100
LogLevel ERROR
""")
        log = os.path.join(d, "sshd.log")
        self.sshd = self.spawn([sshd, "-D", "-e", "-f", os.path.join(d, "sshd_config")], log)
        for addr in ("127.0.0.2", "127.0.0.3"):
            wait_listen(addr, port, self.sshd, "sshd", log)

        relay = os.path.join(d, "relay")
        p = subprocess.run(["go", "build", "-o", relay, "./bench/relay"], cwd=ROOT,
                           capture_output=True, text=True)
        if p.returncode != 0:
            die(f"go build ./bench/relay: {p.stderr.strip()}")
        self.relay_bin = relay
        rport = free_port("127.0.0.4")
        rlog = os.path.join(d, "relay.log")
        self.relay = self.spawn([relay, "-listen", f"127.0.0.4:{rport}", "-to", f"127.0.0.2:{port}",
                                 "-delay", DELAY], rlog)
        wait_listen("127.0.0.4", rport, self.relay, "the relay", rlog)

        self.config = os.path.join(d, "ssh_config")
        with open(self.config, "w") as f:
            f.write(f"""Host nodeA
  HostName 127.0.0.2
Host nodeB
  HostName 127.0.0.3
Host slow
  HostName 127.0.0.4
  Port {rport}
Host *
  Port {port}
  User root
  IdentityFile {d}/userkey
  IdentitiesOnly yes
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  ControlMaster no
  ControlPath none
  LogLevel ERROR
""")
        # The ControlMaster connection for ssh-open, to nodeB.
        self.master = self.spawn(["ssh", "-F", self.config, "-T", "-N", "-o", "BatchMode=yes",
                                  "-o", "ControlMaster=yes", "-o", f"ControlPath={d}/cm", "nodeB"],
                                 os.path.join(d, "master.log"))
        for _ in range(100):
            if subprocess.run(["ssh", "-F", self.config, "-o", f"ControlPath={d}/cm", "-O", "check", "nodeB"],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            die(f"the ControlMaster connection to nodeB did not come up: {tail(os.path.join(d, 'master.log'))}")
        self.control_path = f"{d}/cm"
        for alias in ("nodeA", "nodeB", "slow"):
            p = subprocess.run(["ssh", "-F", self.config, "-T", "-o", "BatchMode=yes", alias, "true"],
                               capture_output=True, text=True, timeout=30)
            if p.returncode != 0:
                die(f"ssh {alias} true exited {p.returncode}: {p.stderr.strip()}\nsshd's log:\n{tail(log)}")

    def spawn(self, argv, log):
        with open(log, "w") as f:
            p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def master_cpu(self):
        """CPU time the ControlMaster ssh has used so far."""
        with open(f"/proc/{self.master.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime

    def sshd_children_cpu(self):
        """CPU seconds of sshd's children it has waited for (per connection: its session
        process, the remote command and its children), once it has no child left."""
        pid = self.sshd.pid
        start = time.monotonic()
        while time.monotonic() - start < 10:
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    if not f.read().split():
                        break
            except OSError:
                break
            time.sleep(0.005)
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / TICK  # cutime, cstime

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = []


def relay_rtt(relay):
    """Median round trip of a 1-byte ping-pong over TCP, directly and through a second relay
    with the same delay to an echo server here: what the relay adds, as Go's timers manage it."""
    srv = socket.socket()
    srv.bind(("127.0.0.2", 0))
    srv.listen()
    port = srv.getsockname()[1]

    def echo():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while b := c.recv(4096):
                    c.sendall(b)

    threading.Thread(target=echo, daemon=True).start()
    rport = free_port("127.0.0.4")
    p = subprocess.Popen([relay, "-listen", f"127.0.0.4:{rport}", "-to", f"127.0.0.2:{port}", "-delay", DELAY],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        start = time.monotonic()
        while True:
            try:
                socket.create_connection(("127.0.0.4", rport), timeout=1).close()
                break
            except OSError:
                if time.monotonic() - start > 10:
                    return None, None
                time.sleep(0.02)
        out = []
        for addr in (("127.0.0.2", port), ("127.0.0.4", rport)):
            with socket.create_connection(addr) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                rtts = []
                for _ in range(200):
                    t = time.perf_counter()
                    s.sendall(b"x")
                    s.recv(1)
                    rtts.append(time.perf_counter() - t)
                out.append(statistics.median(rtts) * 1e3)
        return out
    finally:
        p.terminate()
        p.wait()
        srv.close()


def run(argv, hosts):
    """Runs argv; returns its wall time, the CPU time of every process of this machine it
    waited for (pcopy, its local workers, the ssh client) and the CPU time sshd's children
    took meanwhile (the agent and the workers on the "host")."""
    remote0, master0 = hosts.sshd_children_cpu(), hosts.master_cpu()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=3600)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)!r} exited {p.returncode}: {p.stderr.decode(errors='replace')[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu += hosts.master_cpu() - master0  # the ControlMaster's, for ssh-open
    return took, cpu, hosts.sshd_children_cpu() - remote0


def treediff(src, dst):
    p = subprocess.run([sys.executable, os.path.join(HERE, "treediff.py"), src, dst],
                       capture_output=True, text=True)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr.strip()
    return "identical" if p.returncode == 0 else "DIFFERS: " + last


def tree_size(src):
    nfiles = nbytes = 0
    for d, _, files in os.walk(src):
        for f in files:
            nfiles += 1
            try:
                nbytes += os.lstat(os.path.join(d, f)).st_size
            except OSError:
                pass
    return nfiles, nbytes


def to_trash(dst, trash):
    if os.path.lexists(dst):
        os.rename(dst, os.path.join(trash, f"{os.path.basename(dst)}.{time.time_ns()}"))


def main():
    ap = argparse.ArgumentParser(description="time pcopy's workers through ssh, with and without 2 ms more latency")
    ap.add_argument("trees", nargs="+")
    ap.add_argument("--pcopy", default=os.path.join(ROOT, "pcopy"))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", default="/tmp/pcbench/hosts-work")
    a = ap.parse_args()
    if os.geteuid() != 0:
        die("must run as root: it starts its own sshd (and logs in as root through it)")
    sshd = shutil.which("sshd") or shutil.which("/usr/sbin/sshd")
    if not sshd:
        die("no sshd: install OpenSSH's server (Debian: apt-get install openssh-server)")
    for tool in ("ssh", "ssh-keygen"):
        if not shutil.which(tool):
            die(f"no {tool}: install OpenSSH's client (Debian: apt-get install openssh-client)")
    if not shutil.which("go"):
        die("no go: it is needed to build bench/relay")
    pcopy = os.path.abspath(a.pcopy)
    if not os.access(pcopy, os.X_OK):
        die(f"no pcopy at {pcopy}: build one (go build -o /tmp/pcopy-hosts .) and pass --pcopy")
    srcs = [os.path.abspath(t) for t in a.trees]
    for s in srcs:
        if not os.path.isdir(s):
            die(f"{s} is not a directory (bench/gen.sh makes the trees)")
    work = os.path.abspath(a.work)
    trash = os.path.join(work, "trash")
    os.makedirs(trash, exist_ok=True)
    W = a.workers

    # SIGTERM and SIGHUP end the run as Ctrl-C does: through the finally below.
    def bye(sig, _):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGHUP, bye)

    hosts = Hosts(work)
    failed = False
    done = False
    try:
        hosts.start(sshd)
        rsh = f"ssh -F {hosts.config} -T -o BatchMode=yes {{host}} {{cmd}}"

        def argv(cfg, src, dst):
            if cfg == "local":
                return [pcopy, "-q", "-j", str(W), src, dst]
            host = {"ssh": "nodeA", "ssh-open": "nodeB", "ssh-2ms": "slow"}[cfg]
            r = rsh
            if cfg == "ssh-open":
                r = f"ssh -F {hosts.config} -o ControlPath={hosts.control_path} -T -o BatchMode=yes {{host}} {{cmd}}"
            return [pcopy, "-q", "--hosts", f"{host}:{W}", "--local-workers", "0", "--rsh", r,
                    "--remote-pcopy", pcopy, src, dst]

        direct, relayed = relay_rtt(hosts.relay_bin)
        print(f"# pcopy through ssh on loopback, {W} workers, {a.runs} alternating runs\n")
        print(f"pcopy: {pcopy}; ssh_config: {hosts.config}; relay: {DELAY} each way "
              f"(TCP ping-pong round trip, median of 200: {direct:.3f} ms direct, {relayed:.3f} ms through the relay)")
        for c in CONFIGS:
            print(f"- `{c}`: `{shlex.join(argv(c, 'SRC', 'DST'))}`")
        sys.stdout.flush()

        for src in srcs:
            name = os.path.basename(src.rstrip("/"))
            nfiles, nbytes = tree_size(src)
            times = {c: [] for c in CONFIGS}
            cpus = {c: [] for c in CONFIGS}
            remote = {c: [] for c in CONFIGS}
            checks = {}
            wire = {}
            # Untimed: the control traffic, from --json.
            for c in ("ssh", "ssh-open", "ssh-2ms"):
                dst = os.path.join(work, f"{name}.{c}.json-run")
                to_trash(dst, trash)
                check_space(work, trash, nbytes, nfiles)
                cmd = argv(c, src, dst)
                cmd.insert(1, "--json")
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
                if p.returncode != 0:
                    raise RuntimeError(f"{c} --json exited {p.returncode}: {p.stderr[-500:]}")
                h = json.loads(p.stdout)["hosts"]
                if len(h) < 2 or h[1]["local"] or h[1]["state"] != "ok" or h[0]["done"]:
                    raise RuntimeError(f"{c}: the workers did not all run on the host: {h}")
                wire[c] = h[1]
                to_trash(dst, trash)
            for r in range(a.runs):
                order = CONFIGS[r % len(CONFIGS):] + CONFIGS[: r % len(CONFIGS)]
                for c in order:
                    dst = os.path.join(work, f"{name}.{c}.copy")
                    to_trash(dst, trash)
                    check_space(work, trash, nbytes, nfiles)
                    subprocess.run("sync", shell=True)
                    settle(nbytes)
                    warm(src)  # memory untouched for a minute is paged out here (see compare.py)
                    took, cpu, rcpu = run(argv(c, src, dst), hosts)
                    times[c].append(took)
                    cpus[c].append(cpu)
                    remote[c].append(rcpu)
                    if c not in checks:
                        checks[c] = treediff(src, dst)
                        failed |= not checks[c].startswith("identical")
                print(f"{name}: round {r + 1}/{a.runs} done "
                      f"({', '.join(f'{c} {times[c][-1]:.2f} s' for c in CONFIGS)})", file=sys.stderr)
            for c in CONFIGS:
                to_trash(os.path.join(work, f"{name}.{c}.copy"), trash)

            base = statistics.median(times["local"])
            print(f"\n### {name}: {nfiles} files, {nbytes / 2**20:.0f} MiB, {a.runs} alternating runs per config\n")
            print("| config | median wall | min-max | median CPU here (user+sys) | median CPU under sshd "
                  "| ratio to local | copy vs source |")
            print("|---|---|---|---|---|---|---|")
            for c in CONFIGS:
                m = statistics.median(times[c])
                print(f"| {c} | {m:.3f} s | {min(times[c]):.2f}-{max(times[c]):.2f} s | "
                      f"{statistics.median(cpus[c]):.3f} s | {statistics.median(remote[c]):.3f} s | "
                      f"{m / base:.2f} | {checks[c]} |")
            print("\nCPU here: pcopy, its local workers and the ssh client (getrusage of children; for ssh-open, the ControlMaster ssh too). "
                  "The agent and the remote workers run under sshd and are not counted in it, so it "
                  "compares only with `local`; CPU under sshd is what sshd's children (per-connection "
                  "sshd, agent, workers) used, from sshd's cutime+cstime.")
            s, s2 = statistics.median(times["ssh"]), statistics.median(times["ssh-2ms"])
            print(f"\nLatency tolerance: ssh-2ms / ssh = {s2 / s:.2f} in median wall time: with 2 ms more round "
                  f"trip pcopy keeps {100 * s / s2:.0f}% of its no-delay throughput "
                  f"({(s2 - s) * 1e3 / max(1, wire['ssh-2ms']['done']) * W:.2f} ms more per job on each of "
                  f"the {W} workers, against 2 ms more per round trip).")
            print("\n| config (untimed --json run) | jobs done on the host | wire bytes out | wire bytes in "
                  "| bytes/job out | bytes/job in |")
            print("|---|---|---|---|---|---|")
            for c in ("ssh", "ssh-open", "ssh-2ms"):
                h = wire[c]
                n = max(1, h["done"])
                print(f"| {c} | {h['done']} | {h['wire_bytes_out']} | {h['wire_bytes_in']} | "
                      f"{h['wire_bytes_out'] / n:.1f} | {h['wire_bytes_in'] / n:.1f} |")
            sys.stdout.flush()
        done = True
    except KeyboardInterrupt:
        print("\nhosts.py: interrupted", file=sys.stderr)
        failed = True
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"hosts.py: {e}", file=sys.stderr)
        failed = True
    finally:
        hosts.stop()
        shutil.rmtree(hosts.dir, ignore_errors=True)
    if done:
        start = time.monotonic()
        shutil.rmtree(trash, ignore_errors=True)
        print(f"hosts.py: deleted {trash} in {time.monotonic() - start:.0f} s; wait a few minutes "
              "before timing again (ext4 without a journal is slow to reuse freed inodes)", file=sys.stderr)
    else:
        print(f"hosts.py: old copies are left in {trash}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
