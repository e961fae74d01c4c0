#!/usr/bin/env bash
# What pcopy, cp -a, rsync -aHAX, tar and rclone keep of a tree that holds
# every kind of entry and metadata, as a Markdown table (bench/fidelity.py).
#
#   sudo bench/fidelity.sh [WORK]        default WORK: /tmp/pcopy-fidelity
#
# Root: owners, device nodes and trusted.* xattrs need it. Installs rsync
# and rclone from Debian's packages when missing.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/pcopy-fidelity}
[ "$(id -u)" = 0 ] || { echo "fidelity.sh: run as root" >&2; exit 1; }
need=()
for t in rsync rclone python3; do command -v "$t" >/dev/null || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
mkdir -p "$WORK"
(cd "$repo" && go build -o "$WORK/pcopy.bin" .)
python3 "$repo/bench/fidelity.py" "$WORK/pcopy.bin" "$WORK/run"
