#!/usr/bin/env bash
# Compare pcopy with cp -a, tar, rsync and rclone (and fpsync and the Python
# Pool copier with TOOLS=...) on the benchmark trees of bench/gen.sh:
#
#   bench/compare.sh [TREE...]          default: small mixed tiny-deep large
#
# Installs the tools it needs from Debian's packages (as root), generates the
# trees once into $DATA (deterministic), builds pcopy, then runs
# bench/compare.py: alternating rounds, fresh destinations, every copy
# checked against its source. Knobs: RUNS (5), TOOLS (cp,pcopy,tar,rsync,
# rclone), DATA (/tmp/pcbench/data), WORK (/tmp/pcopy-bench).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
DATA=${DATA:-/tmp/pcbench/data}
WORK=${WORK:-/tmp/pcopy-bench}
RUNS=${RUNS:-5}
TOOLS=${TOOLS:-cp,pcopy,tar,rsync,rclone}
trees=("$@")
[ ${#trees[@]} -gt 0 ] || trees=(small mixed tiny-deep large)

need=()
for t in rsync rclone fpsync python3; do command -v "$t" >/dev/null || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
	pkgs=$(printf '%s\n' "${need[@]}" | sed 's/fpsync/fpart/; s/python3/python3/' | tr '\n' ' ')
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null
	else
		echo "compare.sh: please install: $pkgs" >&2; exit 1
	fi
fi

"$repo/bench/gen.sh" "$DATA" "${trees[@]}"
(cd "$repo" && go build -o "$WORK/pcopy" .)
paths=()
for t in "${trees[@]}"; do paths+=("$DATA/$t"); done
python3 "$repo/bench/compare.py" --runs "$RUNS" --tools "$TOOLS" --pcopy "$WORK/pcopy" --work "$WORK" "${paths[@]}"
