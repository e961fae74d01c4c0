#!/usr/bin/env python3
"""compare.py - time pcopy against cp -a and its peers, alternating, on one or more trees.

    compare.py [--runs N] [--tools cp,pcopy,...] [--pcopy PATH] [--baseline PATH] [--work DIR] TREE...

Each round runs every tool once, in a rotated order, each into a fresh destination on the same
filesystem as the work directory, with the page cache warm (the tree is read again before
every timed run). Destinations of trees with many files are moved into WORK/trash, never deleted while timing:
on ext4 without a journal, creating files within minutes of deleting many inodes is 10-20x
slower. Trees of few (large) files are deleted, or the disk would fill.
The first copy each tool makes is compared with the source by bench/treediff.py
(same options as the tool promises: rclone, for one, keeps no directory times or symlinks).

Prints a Markdown table per tree: median wall time, min-max, ratio of medians to cp -a, and
the verification result. Exit status 1 if pcopy's copy differs from the source.
"""
import argparse
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (command template, treediff options for what the tool promises to keep)
TOOLS = {
    "cp": ("cp -a {src} {dst}", []),
    "pcopy": ("{pcopy} -q {src} {dst}", []),
    "pcopy-base": ("{baseline} -q {src} {dst}", []),
    "tar": ("mkdir -p {dst} && tar -C {src} -cf - . | tar -C {dst} -xf -", []),
    "rsync": ("rsync -a --whole-file {src}/ {dst}/", ["--no-atime", "--no-xattr"]),
    "rclone": ("RCLONE_CONFIG=/dev/null rclone copy --links --transfers 8 --checkers 4 {src} {dst}",
               ["--no-atime", "--no-xattr", "--no-owner"]),
    "fpsync": ("fpsync -n 2 -t {work}/fptmp {src} {dst}", ["--no-atime", "--no-xattr"]),
    "py-pool": (f"python3 {HERE}/pool_copier.py {{src}} {{dst}} 2", ["--no-atime", "--no-xattr"]),
}


def run(cmd):
    """Runs cmd; returns its wall time and its CPU time (user + system, of
    every process it waited for: the shell, the tool, its workers)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run(cmd, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd!r} exited {p.returncode}: {p.stderr.decode(errors='replace')[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def treediff(src, dst, opts):
    tool = os.path.join(HERE, "treediff.py")
    if not os.path.exists(tool):
        return "not checked (no treediff.py)"
    p = subprocess.run([sys.executable, tool, src, dst, *opts], capture_output=True, text=True)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else p.stderr.strip()
    return ("identical" if p.returncode == 0 else "DIFFERS: ") + ("" if p.returncode == 0 else last)


def tree_bytes(src):
    total = 0
    for d, _, files in os.walk(src):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_size
            except OSError:
                pass
    return total


def warm(src):
    subprocess.run(f"find {shlex.quote(src)} -type f -print0 | xargs -0 cat > /dev/null", shell=True)


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def settle(nbytes):
    """Make sure the copy will not have to reclaim memory while it is timed.

    Once the page cache fills RAM, every copy pays for evicting old pages and
    inodes in the kernel, and more so the more copies came before it: times
    drift upwards through a run. When free memory is short of what the copy
    needs, inodes and dentries are dropped (root only), which frees the
    cached data of the old copies with their inodes but keeps the
    filesystem's own metadata (bitmaps, inode tables) cached, as in the runs
    before. (Dropping the page cache too makes every create read inode tables
    from disk.) The caller reads the source again after this."""
    if meminfo("MemFree") > 3 * nbytes + (1 << 30):
        return
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
    except OSError:
        return


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def empty_trash_files(trash):
    """Free the space of old copies without freeing their inodes: every file in trash is
    truncated to 0 bytes, the entries stay. Deleting them would make every file creation
    in the next minutes 10-20x slower (ext4 without a journal skips recently freed inodes);
    freed data blocks carry no such penalty."""
    for d, _, files in os.walk(trash):
        for f in files:
            p = os.path.join(d, f)
            try:
                if os.lstat(p).st_size > 0 and not os.path.islink(p):
                    os.truncate(p, 0)
            except OSError:
                pass
    subprocess.run("sync", shell=True)


def check_space(work, trash, nbytes, nfiles):
    need = 2 * nbytes + (4 << 30)
    if free_bytes(work) < need:
        print(f"compare.py: {free_bytes(work) >> 20} MiB free: truncating the files of old copies in {trash}",
              file=sys.stderr)
        empty_trash_files(trash)
    if free_bytes(work) < need:
        sys.exit(f"compare.py: only {free_bytes(work) >> 20} MiB free in {work}, {need >> 20} MiB needed")
    st = os.statvfs(work)
    if st.f_favail < 2 * nfiles + 100_000:
        # Old copies keep their inodes (see empty_trash_files); only deleting frees them.
        sys.exit(f"compare.py: only {st.f_favail} inodes free in {work}: remove {trash}, then wait "
                 "six minutes before timing again (ext4 without a journal is slow to reuse them)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("trees", nargs="+")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tools", default="cp,pcopy,tar,rsync,rclone")
    ap.add_argument("--pcopy", default=os.path.join(HERE, "..", "pcopy"))
    ap.add_argument("--work", default="/tmp/pcopy-bench")
    ap.add_argument("--baseline", help="another pcopy binary to compare with (tool pcopy-base)")
    a = ap.parse_args()
    tools = a.tools.split(",")
    for t in tools:
        if t not in TOOLS:
            sys.exit(f"compare.py: unknown tool {t}; known: {', '.join(TOOLS)}")
    if "cp" not in tools:
        tools.insert(0, "cp")
    if a.baseline and "pcopy-base" not in tools:
        tools.append("pcopy-base")
    pcopy = os.path.abspath(a.pcopy)
    work = os.path.abspath(a.work)
    trash = os.path.join(work, "trash")
    os.makedirs(trash, exist_ok=True)
    failed = False

    for tree in a.trees:
        src = os.path.abspath(tree)
        name = os.path.basename(src.rstrip("/"))
        nfiles = sum(len(f) for _, _, f in os.walk(src))
        nbytes = tree_bytes(src)
        times = {t: [] for t in tools}
        cpus = {t: [] for t in tools}
        checks = {}
        for r in range(a.runs):
            order = tools[r % len(tools):] + tools[: r % len(tools)]
            for t in order:
                dst = os.path.join(work, f"{name}.{t}.copy")
                if os.path.lexists(dst):
                    if nfiles < 1000:
                        shutil.rmtree(dst)  # few inodes: deleting is harmless, and saves the disk
                    else:
                        os.rename(dst, os.path.join(trash, f"{name}.{t}.{time.time_ns()}"))
                shutil.rmtree(os.path.join(work, "fptmp"), ignore_errors=True)
                check_space(work, trash, nbytes, nfiles)
                subprocess.run("sync", shell=True)
                settle(nbytes)
                # Warm again before every run: on this VM, memory untouched for a
                # minute is paged out behind the kernel's back (DAMON "pageout" on
                # physical addresses), so a source read once at the start is cold
                # again a few rounds later, and a tool that reads one file at a time
                # (cp -a) waits on the disk for each: cp -a of small took 3-5 s
                # instead of 0.8 s, with ~26,000 waits, in most rounds.
                warm(src)
                cmd = TOOLS[t][0].format(src=src, dst=dst, pcopy=pcopy, work=work,
                                         baseline=os.path.abspath(a.baseline or "pcopy"))
                took, cpu = run(cmd)
                times[t].append(took)
                cpus[t].append(cpu)
                if t not in checks:
                    checks[t] = treediff(src, dst, TOOLS[t][1])
                    if t == "pcopy" and not checks[t].startswith("identical"):
                        failed = True
            print(f"{name}: round {r + 1}/{a.runs} done", file=sys.stderr)
        ref = "cp" if "cp" in tools else tools[0]
        base = statistics.median(times[ref])
        pbase = statistics.median(times["pcopy-base"]) if "pcopy-base" in tools else None
        cbase = statistics.median(cpus["pcopy-base"]) if "pcopy-base" in tools else None
        print(f"\n### {name}: {nfiles} files, {a.runs} alternating runs per tool\n")
        vs = " | wall, CPU vs pcopy-base" if pbase else ""
        print(f"| tool | median wall | min-max | median CPU (user+sys) | ratio to {ref}{vs} | copy vs source |")
        print("|---|---|---|---|---|" + ("---|" if pbase else "") + "---|")
        for t in tools:
            m, c = statistics.median(times[t]), statistics.median(cpus[t])
            ab = f" | {m / pbase:.3f}, {c / cbase:.3f}" if pbase else ""
            print(f"| {t} | {m:.3f} s | {min(times[t]):.2f}-{max(times[t]):.2f} s | {c:.3f} s | {m / base:.2f}{ab} | {checks[t]} |")
    print(f"\nold copies are in {trash}: remove it when done benchmarking, then wait a few minutes "
          "before timing again", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
