#!/usr/bin/env python3
"""rss.py - peak memory of pcopy's coordinator and workers on trees of N empty files.

    rss.py [--pcopy PATH] N [N...]        e.g. rss.py 100000 1000000

Generates /tmp/pcbench/rss-N once (N empty files, 1,000 per directory), copies it with
pcopy into a fresh destination, and samples VmHWM (peak resident set) of the coordinator and
of each worker from /proc while it runs. The coordinator's peak should not grow with N.
"""
import argparse
import os
import subprocess
import sys
import time


def tree(n):
    root = f"/tmp/pcbench/rss-{n}"
    if not os.path.exists(root + "/.done"):
        for i in range(n):
            d = f"{root}/d{i // 1000:04d}"
            if i % 1000 == 0:
                os.makedirs(d, exist_ok=True)
            os.close(os.open(f"{d}/f{i:07d}", os.O_CREAT | os.O_WRONLY, 0o644))
        open(root + "/.done", "w").close()
    return root


def hwm(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children(pid):
    out = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            out += [int(c) for c in open(f"/proc/{pid}/task/{t}/children").read().split()]
    except OSError:
        pass
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="+", type=int)
    ap.add_argument("--pcopy", default=os.path.join(os.path.dirname(__file__), "..", "pcopy"))
    a = ap.parse_args()
    print("| files | coordinator peak RSS | largest worker peak RSS | wall |")
    print("|---|---|---|---|")
    for n in a.sizes:
        src = tree(n)
        dst = f"/tmp/pcopy-bench/rss-{n}.{time.time_ns()}"
        start = time.perf_counter()
        p = subprocess.Popen([a.pcopy, "-q", src, dst])
        parent, workers = 0, {}
        while p.poll() is None:
            parent = max(parent, hwm(p.pid))
            for c in children(p.pid):
                workers[c] = max(workers.get(c, 0), hwm(c))
            time.sleep(0.02)
        if p.returncode != 0:
            sys.exit(f"pcopy exited {p.returncode}")
        mib = 1 << 20
        print(f"| {n:,} | {parent / mib:.1f} MiB | {max(workers.values(), default=0) / mib:.1f} MiB "
              f"| {time.perf_counter() - start:.1f} s |")
    print("copies are left in /tmp/pcopy-bench (delete them when done, not while timing)", file=sys.stderr)


if __name__ == "__main__":
    main()
