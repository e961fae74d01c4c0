#!/usr/bin/env bash
# Side-by-side timing of cp -a and pcopy on a copy of the Go toolchain tree.
#
#   bench/gotree.sh [RUNS]        (default 7)
#
# Alternates the two tools, each into a fresh destination, and prints each
# tool's median and the ratio to cp -a. The script deletes nothing: on ext4
# without a journal, creating files within one to six minutes of an `rm -rf`
# of a big tree is 10-20x slower (the inode allocator skips, and reads, every
# inode freed in the last 60 s, 360 s while its inode-table block is dirty),
# which would falsify every figure. Earlier runs' copies are moved into
# $work/trash; remove it yourself when done, and wait several minutes before
# timing again.
set -euo pipefail
runs=${1:-7}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${PCOPY_BENCH_DIR:-/tmp/pcopy-bench-gotree}
goroot=$(go env GOROOT)

mkdir -p "$work/trash"
if [ -e "$work/runs" ]; then mv "$work/runs" "$work/trash/runs.$(date +%s)"; fi
mkdir -p "$work/runs"
[ -d "$work/src" ] || cp -a "$goroot" "$work/src"
(cd "$repo" && go build -o "$work/pcopy" .)
sync

now() { date +%s.%N; }
for i in $(seq "$runs"); do
	s=$(now); cp -a "$work/src" "$work/runs/cp-$i"; e=$(now)
	echo "cp $(echo "$e - $s" | bc)"
	s=$(now); "$work/pcopy" -q "$work/src" "$work/runs/pcopy-$i"; e=$(now)
	echo "pcopy $(echo "$e - $s" | bc)"
done | tee "$work/times.txt"

python3 - "$work/times.txt" "$(find "$work/src" -type f | wc -l)" <<'PY'
import statistics, sys
times = {}
for line in open(sys.argv[1]):
    tool, t = line.split()
    times.setdefault(tool, []).append(float(t))
base = statistics.median(times["cp"])
print(f"\nGo tree, {sys.argv[2]} files, {len(times['cp'])} alternating runs each")
print("| tool | median | ratio to cp -a |\n|---|---|---|")
for tool, ts in times.items():
    m = statistics.median(ts)
    print(f"| {tool} | {m:.2f} s | {m / base:.2f} |")
PY

if command -v python3 >/dev/null; then
	python3 "$repo/bench/treediff.py" "$work/src" "$work/runs/pcopy-1" | tail -n 1
fi
echo "old copies are in $work/trash: remove it when done benchmarking" >&2
