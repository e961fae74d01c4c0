#!/usr/bin/env python3
"""flagcost.py PCOPY FLAG TREE [RUNS] -- what one pcopy option costs.

Copies TREE with `PCOPY -q` and with `PCOPY -q FLAG`, alternating which goes
first, RUNS times each (default 5), each into a fresh destination under
/tmp/pcopy-bench/trash, with the source read into the page cache before
every run. Prints the median and range of each. The copies are left there,
never deleted: on ext4 without a journal, creating files within a minute or
more of deleting many inodes is 10-20x slower, which would falsify the next
runs. Their files are truncated instead, so the disk does not fill.
"""
import os
import statistics
import subprocess
import sys
import time
import uuid


def main():
    pcopy, flag, tree = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    trash = "/tmp/pcopy-bench/trash"
    os.makedirs(trash, exist_ok=True)
    times = {"without": [], flag: []}
    for i in range(runs):
        order = [("without", []), (flag, [flag])]
        if i % 2:
            order.reverse()
        for name, extra in order:
            subprocess.run("find %s -type f -exec cat {} + >/dev/null" % tree, shell=True, check=True)
            dst = os.path.join(trash, "flagcost-" + uuid.uuid4().hex)
            t = time.monotonic()
            subprocess.run([pcopy, "-q"] + extra + [tree, dst], check=True)
            times[name].append(time.monotonic() - t)
            subprocess.run("find %s -type f -size +64k -exec truncate -s 0 {} +" % dst, shell=True)
    for name, v in times.items():
        print("%s %s: median %.2f s, %.2f-%.2f s over %d runs" % (os.path.basename(tree), name,
              statistics.median(v), min(v), max(v), len(v)))


if __name__ == "__main__":
    main()
