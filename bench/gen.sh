#!/usr/bin/env bash
# gen.sh - build reproducible benchmark datasets for folder-copy tools.
#
# Usage: bench/gen.sh [ROOT_DIR] [DATASET...]     (bench/compare.sh runs it)
#   ROOT_DIR  defaults to /tmp/pcbench/data
#   DATASET   any of: small mixed large tiny-deep fidelity (default: all)
# Env:
#   LARGE_FILES (default 4), LARGE_MIB (default 1024)  - size of `large`
#   FORCE=1   rebuild datasets that already exist
#
# Datasets (content is deterministic: seeded PRNG / AES-CTR keystream,
# fixed mtimes, fixed modes):
#   small     50,000 x 4 KiB files, 10x10x10 dir tree, 50 files per leaf dir
#             (every 97th file mode 0755, every 101st mode 0600)
#   mixed     cp -a /usr/local/go  (real toolchain tree; $(go env GOROOT)
#             where there is no /usr/local/go)
#   large     LARGE_FILES files of LARGE_MIB MiB random (incompressible) data
#   tiny-deep 20,000 empty files + 5,000 directories (10/100/4890 levels),
#             files only in the first 4,000 leaf dirs (5 each), 890 empty dirs
#   fidelity  small edge-case tree for correctness checks: symlinks (file,
#             dir, dangling, absolute), hardlink, empty dirs, odd modes
#             (0600/0700/0444/01777 dir), spaces/unicode names, sparse file,
#             fixed mtimes on files and dirs
set -euo pipefail

ROOT=${1:-/tmp/pcbench/data}
shift || true
SETS=("$@")
[ ${#SETS[@]} -eq 0 ] && SETS=(small mixed large tiny-deep fidelity)
LARGE_FILES=${LARGE_FILES:-4}
LARGE_MIB=${LARGE_MIB:-1024}
mkdir -p "$ROOT"
ROOT=$(cd "$ROOT" && pwd)

need_free_mib() { # $1 = MiB required
    local avail
    avail=$(df -Pm "$ROOT" | awk 'NR==2{print $4}')
    if [ "$avail" -lt "$1" ]; then
        echo "gen.sh: only ${avail} MiB free on $ROOT, need ~$1 MiB" >&2
        return 1
    fi
}

exists() { [ -e "$ROOT/$1" ] && [ "${FORCE:-0}" != 1 ]; }

gen_small() {
    python3 - "$ROOT/small" <<'EOF'
import os, random, sys
root = sys.argv[1]
rng = random.Random(20240501)
T0 = 1577836800  # 2020-01-01T00:00:00Z
n = 0
dirs = []
for a in range(10):
    for b in range(10):
        for c in range(10):
            d = os.path.join(root, f"a{a:02d}", f"b{b:02d}", f"c{c:02d}")
            os.makedirs(d)
            dirs.append(d)
            for f in range(50):
                p = os.path.join(d, f"f{n:05d}.bin")
                with open(p, "wb") as fh:
                    fh.write(rng.randbytes(4096))
                mode = 0o644
                if n % 97 == 0: mode = 0o755
                elif n % 101 == 0: mode = 0o600
                os.chmod(p, mode)
                os.utime(p, (T0 + n, T0 + n))
                n += 1
# fixed dir mtimes, bottom-up
for dp, dn, fn in sorted(os.walk(root), key=lambda t: -t[0].count(os.sep)):
    os.utime(dp, (T0 - 3600, T0 - 3600))
print(f"small: {n} files")
EOF
}

gen_mixed() {
    local goroot=/usr/local/go
    [ -d "$goroot" ] || goroot=$(go env GOROOT)
    cp -a "$goroot" "$ROOT/mixed"
}

gen_large() {
    need_free_mib $(( LARGE_FILES * LARGE_MIB * 2 + 1024 ))
    mkdir -p "$ROOT/large"
    local i key
    for i in $(seq 0 $(( LARGE_FILES - 1 ))); do
        # deterministic incompressible content: AES-128-CTR keystream, key = f(i)
        key=$(printf 'pcbench-large-%02d' "$i" | md5sum | cut -c1-32)
        openssl enc -aes-128-ctr -nosalt -K "$key" -iv 00000000000000000000000000000000 \
            -in /dev/zero 2>/dev/null | head -c $(( LARGE_MIB * 1024 * 1024 )) \
            > "$ROOT/large/big$i.bin" || true   # openssl dies of SIGPIPE (pipefail)
        [ "$(stat -c %s "$ROOT/large/big$i.bin")" -eq $(( LARGE_MIB * 1024 * 1024 )) ] || { echo "short file" >&2; exit 1; }
        chmod 0644 "$ROOT/large/big$i.bin"
        touch -d "2020-01-01 00:00:0$i UTC" "$ROOT/large/big$i.bin"
    done
    touch -d "2020-01-01 00:00:00 UTC" "$ROOT/large"
}

gen_tiny_deep() {
    python3 - "$ROOT/tiny-deep" <<'EOF'
import os, sys
root = sys.argv[1]
T0 = 1577836800
os.makedirs(root)
dirs = []   # exactly 5000 directories below root: 10 + 100 + 4890
leaves = []
for a in range(10):
    dirs.append(f"t{a}")
    for b in range(10):
        dirs.append(f"t{a}/m{b}")
for i in range(4890):
    mid = i % 100
    leaves.append(f"t{mid // 10}/m{mid % 10}/l{i:04d}")
dirs += leaves
for d in dirs:
    os.mkdir(os.path.join(root, d))
n = 0
for d in leaves[:4000]:
    for k in range(5):
        p = os.path.join(root, d, f"e{n:05d}")
        open(p, "wb").close()
        os.utime(p, (T0 + n, T0 + n))
        n += 1
for dp, dn, fn in sorted(os.walk(root), key=lambda t: -t[0].count(os.sep)):
    os.utime(dp, (T0 - 3600, T0 - 3600))
print(f"tiny-deep: {len(dirs)} dirs, {n} files")
EOF
}

gen_fidelity() {
    local R="$ROOT/fidelity"
    mkdir -p "$R"/{dir,emptydir,"with space","ünïcødé",deep/a/b/c/d/e,ro_dir,sticky}
    printf 'hello\n' > "$R/dir/file.txt"
    printf 'exec\n' > "$R/dir/script.sh"; chmod 0755 "$R/dir/script.sh"
    printf 'secret\n' > "$R/dir/private"; chmod 0600 "$R/dir/private"
    printf 'ro\n' > "$R/dir/readonly"; chmod 0444 "$R/dir/readonly"
    printf 'sp\n' > "$R/with space/a file.txt"
    printf 'u\n' > "$R/ünïcødé/ファイル.txt"
    printf 'deep\n' > "$R/deep/a/b/c/d/e/leaf"
    ln -s file.txt "$R/dir/link_rel"
    ln -s dir "$R/link_to_dir"
    ln -s /nonexistent/target "$R/dir/dangling"
    ln -s /etc/hostname "$R/dir/link_abs"
    ln "$R/dir/file.txt" "$R/dir/hardlink.txt"
    truncate -s 64M "$R/sparse.img"; printf 'x' | dd of="$R/sparse.img" bs=1 seek=1000000 conv=notrunc status=none
    printf 'in ro dir\n' > "$R/ro_dir/f"; chmod 0555 "$R/ro_dir"
    chmod 01777 "$R/sticky"; chmod 0700 "$R/emptydir"
    chown 1234:5678 "$R/dir/file.txt" 2>/dev/null || true
    # fixed mtimes everywhere (files, then dirs bottom-up); -h = do not follow links
    find "$R" -depth -exec touch -h -d '2019-06-15 12:34:56.123456789 UTC' {} +
}

for s in "${SETS[@]}"; do
    if exists "$s"; then echo "gen.sh: $ROOT/$s exists, skipping (FORCE=1 to rebuild)"; continue; fi
    rm -rf "${ROOT:?}/$s"
    t0=$(date +%s.%N)
    case "$s" in
        small) gen_small ;;
        mixed) gen_mixed ;;
        large) gen_large ;;
        tiny-deep) gen_tiny_deep ;;
        fidelity) gen_fidelity ;;
        *) echo "unknown dataset $s" >&2; exit 2 ;;
    esac
    t1=$(date +%s.%N)
    printf 'gen.sh: %-9s %8s files %6s dirs %6s links %8s  (%.1fs)\n' "$s" \
        "$(find "$ROOT/$s" -type f | wc -l)" "$(find "$ROOT/$s" -type d | wc -l)" \
        "$(find "$ROOT/$s" -type l | wc -l)" "$(du -sh "$ROOT/$s" | cut -f1)" \
        "$(echo "$t1 - $t0" | bc)"
done
