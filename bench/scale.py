#!/usr/bin/env python3
"""scale.py - pcopy at the edges of scale: huge directories, deep chains, huge sparse files.

    python3 bench/scale.py [--pcopy PATH] [--runs N] [--data DIR] [--work DIR] [SHAPE...]

Shapes (built deterministically into DATA, default /tmp/pcbench/scale, once; a shape already
there is reused):
    onedir-N    N empty files in one directory (onedir-1000000, onedir-4000000)
    deep-N      a chain of N nested directories, one small file at the bottom (deep-4000,
                deep-20000)
    sparse-1t   a 1 TiB file with 16 KiB of data (8 KiB at 0, 8 KiB at 512 GiB)
Default: onedir-100000 deep-2000 deep-4000 sparse-1t (a few minutes); the issue's sizes are
onedir-1000000 onedir-4000000 deep-4000 deep-20000 sparse-1t (much longer).

For each shape, each round runs, in a rotated order, each into a fresh destination in WORK
(old ones are moved to WORK/trash, never deleted while timing, see compare.py):
    pcopy       pcopy -q SRC DST
    cp          cp -a SRC DST          (not for deep-N beyond 4,000: cp -a fails on long paths)
    pcopy-rerun pcopy -q SRC DST again, into pcopy's copy (a no-op re-run)
    rsync-rerun rsync -a SRC/ DST/ into that copy too
and for sparse-1t also pcopy --verify, and pcopy --checksum as a re-run.
Each run's wall time, CPU time (user + system, of every process waited for) and the peak
resident memory of each process (VmHWM, read every 20 ms from /proc for every process of the
run's tree: the coordinator and each worker apart) are recorded; the table gives medians, and
the largest peak RSS seen of the coordinator and of any one worker (a run shorter than the
sampling period may be seen at its start only).
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import shlex  # noqa: E402
ROOT = os.path.dirname(HERE)


def build(shape, data):
    """Makes the tree of shape in DATA (once) and returns its path."""
    path = os.path.join(data, shape)
    if os.path.exists(os.path.join(path, ".done")):
        return os.path.join(path, "tree")
    shutil.rmtree(path, ignore_errors=True)
    tree = os.path.join(path, "tree")
    os.makedirs(tree)
    kind, _, n = shape.partition("-")
    if kind == "onedir":
        count = int(n)
        for i in range(count):
            os.close(os.open(os.path.join(tree, f"f{i:08d}"), os.O_CREAT | os.O_WRONLY, 0o644))
    elif kind == "deep":
        fd = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
        for _ in range(int(n)):
            os.mkdir("d", 0o755, dir_fd=fd)
            nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        f = os.open("bottom", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
        os.write(f, b"the bottom\n")
        os.close(f)
        os.close(fd)
    elif shape == "sparse-1t":
        with open(os.path.join(tree, "huge"), "wb") as f:
            f.truncate(1 << 40)
            f.seek(0)
            f.write(b"a" * 8192)
            f.seek(1 << 39)
            f.write(b"b" * 8192)
    else:
        raise SystemExit(f"scale.py: unknown shape {shape}")
    open(os.path.join(path, ".done"), "w").close()
    return tree


class PeakRSS:
    """Samples VmHWM of every process below pid until stopped: coordinator and workers."""

    def __init__(self, pid):
        self.pid, self.peaks, self.stop = pid, {}, threading.Event()
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def tree(self):
        pids, todo = [], [self.pid]
        while todo:
            p = todo.pop()
            pids.append(p)
            try:  # children of every thread: Go starts processes from any of them
                for task in os.listdir(f"/proc/{p}/task"):
                    with open(f"/proc/{p}/task/{task}/children") as f:
                        todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
        return pids

    def loop(self):
        while not self.stop.is_set():
            for p in self.tree():
                try:
                    with open(f"/proc/{p}/status") as f:
                        status = f.read()
                    with open(f"/proc/{p}/cmdline", "rb") as f:
                        name = f.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        kib = int(line.split()[1])
                        role = "worker" if "pcopy worker " in name else "main"
                        self.peaks[role] = max(self.peaks.get(role, 0), kib)
            time.sleep(0.02)

    def done(self):
        self.stop.set()
        self.t.join()
        return self.peaks


def warm(src):
    """Reads the tree into the page cache (not the holes of a sparse file)."""
    # From inside the tree: the paths of a deep chain are too long for cat.
    subprocess.run("find . -type f -size -64M -execdir cat {} + > /dev/null 2>&1", shell=True, cwd=src)


def attempt(argv):
    """run, or None (with the reason on stderr) when the tool fails, as cp -a does on deep chains."""
    try:
        return run(argv)
    except RuntimeError as e:
        print(f"scale.py: {e}", file=sys.stderr)
        return None


def run(argv):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rss = PeakRSS(p.pid)
    _, err = p.communicate()
    took = time.perf_counter() - start
    peaks = rss.done()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)!r} exited {p.returncode}: {err.decode(errors='replace')[-400:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu, peaks


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("shapes", nargs="*", default=["onedir-100000", "deep-2000", "deep-4000", "sparse-1t"])
    ap.add_argument("--pcopy", default=os.path.join(ROOT, "pcopy"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", default="/tmp/pcbench/scale")
    ap.add_argument("--work", default="/tmp/pcbench/scale-work")
    a = ap.parse_args()
    pcopy = os.path.abspath(a.pcopy)
    if not os.access(pcopy, os.X_OK):
        raise SystemExit(f"scale.py: no pcopy at {pcopy} (go build -o pcopy .)")
    trash = os.path.join(a.work, "trash")
    os.makedirs(trash, exist_ok=True)
    print(f"# pcopy at the edges of scale, {a.runs} alternating runs, medians\n\npcopy: {pcopy}\n")
    for shape in a.shapes:
        src = build(shape, a.data)
        dst = lambda name: os.path.join(a.work, f"{shape}.{name}")  # noqa: E731
        configs = {"pcopy": [pcopy, "-q", src, dst("pcopy")]}
        if not (shape.startswith("deep-") and int(shape.split("-")[1]) > 4000):
            configs["cp"] = ["cp", "-a", src, dst("cp")]
        reruns = {"pcopy-rerun": [pcopy, "-q", src, dst("pcopy")],
                  "rsync-rerun": ["rsync", "-a", src + "/", dst("pcopy") + "/"]}
        if shape == "sparse-1t":
            configs["pcopy --verify"] = [pcopy, "-q", "--verify", src, dst("verify")]
            reruns["pcopy --checksum re-run"] = [pcopy, "-q", "--checksum", src, dst("pcopy")]
        res = {c: [] for c in list(configs) + list(reruns)}
        for r in range(a.runs):
            order = list(configs)[r % len(configs):] + list(configs)[:r % len(configs)]
            for c in order:
                d = configs[c][-1]
                if os.path.exists(d):
                    os.rename(d, os.path.join(trash, f"{os.path.basename(d)}.{time.time_ns()}"))
                warm(src)
                res[c].append(attempt(configs[c]))
            for c, argv in reruns.items():  # into the copy pcopy just made
                if c == "rsync-rerun" and not shutil.which("rsync"):
                    continue
                warm(src)
                res[c].append(attempt(argv))
            print(f"{shape}: round {r + 1}/{a.runs} done", file=sys.stderr)
        print(f"\n### {shape}\n")
        print("| run | median wall | min-max | median CPU | peak RSS, main process | peak RSS, one worker |")
        print("|---|---|---|---|---|---|")
        for c, runs in res.items():
            if not runs:
                continue
            ok = [x for x in runs if x is not None]
            if not ok:
                print(f"| {c} | failed | | | | |")
                continue
            walls = [x[0] for x in ok]
            cpus = [x[1] for x in ok]
            main_rss = max(x[2].get("main", 0) for x in ok) / 1024
            worker_rss = max(x[2].get("worker", 0) for x in ok) / 1024
            failed = f" ({len(runs) - len(ok)} failed)" if len(ok) < len(runs) else ""
            print(f"| {c}{failed} | {statistics.median(walls):.3f} s | {min(walls):.2f}-{max(walls):.2f} s | "
                  f"{statistics.median(cpus):.3f} s | {main_rss:.1f} MiB | "
                  + (f"{worker_rss:.1f} MiB |" if worker_rss else "- |"))
        sys.stdout.flush()
    print(f"\nOld destinations are in {trash}: delete it when no timing follows for a few minutes.")


if __name__ == "__main__":
    main()
