#!/usr/bin/env python3
"""bench/treediff.py SRC DST [--no-mtime] [--no-owner] [--no-xattr] [--no-atime]

Compares two trees the way `cp -a` promises to reproduce them: entry set (names as raw bytes),
type, permission bits, size, content (sha256), symlink target, mtime (ns), hard-link groups,
xattrs, ownership. Directory mtimes are compared too. Prints one line per difference (at most 40)
and a last line `entries=N diffs=M`. Exit 0 when identical, 1 otherwise.
bench/compare.py checks every tool's first copy with it, bench/gotree.sh pcopy's.
"""
import hashlib
import os
import stat
import sys


def walk(root):
    """rel path -> (lstat, detail): detail is a content digest, a link target or None, plus xattrs.
    Works through directory fds, so paths longer than PATH_MAX are compared too."""
    out = {}
    rootb = os.fsencode(root)
    for dirpath, dirnames, filenames, dirfd in os.fwalk(rootb, follow_symlinks=False):
        for name in dirnames + filenames:
            rel = os.path.relpath(os.path.join(dirpath, name), rootb)
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            proc = b"/proc/self/fd/%d/" % dirfd + name
            detail = None
            if stat.S_ISLNK(st.st_mode):
                detail = os.readlink(name, dir_fd=dirfd)
            elif stat.S_ISREG(st.st_mode):
                detail = digest(name, dirfd)
            xa = {} if stat.S_ISLNK(st.st_mode) else xattrs(proc)
            out[rel] = (st, detail, xa)
    return out


def digest(name, dirfd):
    h = hashlib.sha256()
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dirfd)
    with os.fdopen(fd, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    res = {}
    for n in names:
        try:
            res[n] = os.getxattr(path, n, follow_symlinks=False)
        except OSError:
            pass
    return res


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    src, dst = args
    a, b = walk(src), walk(dst)
    diffs = []
    for rel in sorted(set(a) | set(b)):
        name = rel.decode("utf-8", "backslashreplace")
        if rel not in b:
            diffs.append(f"missing in dst: {name}")
            continue
        if rel not in a:
            diffs.append(f"extra in dst: {name}")
            continue
        (sa, da, xa), (sb, db, xb) = a[rel], b[rel]
        if stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
            diffs.append(f"type differs: {name}")
            continue
        if stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode) and not stat.S_ISLNK(sa.st_mode):
            diffs.append(f"mode differs: {name} {oct(sa.st_mode)} vs {oct(sb.st_mode)}")
        if "--no-owner" not in flags and (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid):
            diffs.append(f"owner differs: {name}")
        if stat.S_ISLNK(sa.st_mode):
            if da != db:
                diffs.append(f"symlink target differs: {name}")
        elif stat.S_ISREG(sa.st_mode):
            if sa.st_size != sb.st_size:
                diffs.append(f"size differs: {name} {sa.st_size} vs {sb.st_size}")
            elif da != db:
                diffs.append(f"content differs: {name}")
            # sparse: dst must not use many more blocks than src
            if sb.st_blocks > sa.st_blocks * 2 + 64:
                diffs.append(f"sparseness lost: {name} blocks {sa.st_blocks} vs {sb.st_blocks}")
        if "--no-mtime" not in flags and not stat.S_ISLNK(sa.st_mode):
            if sa.st_mtime_ns != sb.st_mtime_ns:
                diffs.append(f"mtime differs: {name} {sa.st_mtime_ns} vs {sb.st_mtime_ns}")
        if "--no-xattr" not in flags and not stat.S_ISLNK(sa.st_mode):
            if xa != xb:
                diffs.append(f"xattrs differ: {name}")
    # hard-link groups: files sharing an inode in src must share one in dst, and vice versa
    def groups(m):
        g = {}
        for rel, (s, _, _) in m.items():
            if stat.S_ISREG(s.st_mode) and s.st_nlink > 1:
                g.setdefault((s.st_dev, s.st_ino), set()).add(rel)
        return {frozenset(v) for v in g.values() if len(v) > 1}
    ga, gb = groups(a), groups(b)
    if ga != gb:
        diffs.append(f"hard-link groups differ: src {len(ga)} groups, dst {len(gb)} groups")
    for d in diffs[:40]:
        print(d if len(d) <= 200 else d[:120] + " ... " + d[-60:])
    print(f"entries={len(a)} diffs={len(diffs)}")
    return 0 if not diffs else 1


if __name__ == "__main__":
    sys.exit(main())
