#!/usr/bin/env python3
"""fidelity.py PCOPY WORK -- what each copy tool keeps of a tree, as a table.

Builds one tree holding each kind of entry and metadata that `cp -a` and
`rsync -aHAX` promise to keep (one entry per aspect, so each check looks at
its own), copies it with pcopy, cp -a, rsync -aHAX, tar (GNU, with xattrs
and ACLs) and rclone copy (with --metadata), then checks every aspect of
every copy against the source and prints a Markdown table: "yes", or what
went wrong. Run as root (owners, devices, trusted xattrs). bench/fidelity.sh
installs the tools first.
"""
import os
import shutil
import socket
import stat
import subprocess
import sys
import time

ACL = bytes([2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255, 2, 0, 7, 0, 254, 255, 0, 0,
             4, 0, 5, 0, 255, 255, 255, 255, 16, 0, 7, 0, 255, 255, 255, 255, 32, 0, 5, 0, 255, 255, 255, 255])
MTIME = 981173106_123456789
ATIME = (int(time.time()) + 3600) * 10**9 + 987654321  # ahead of now: reading does not move it
DEEP = [("%02d" % i + "x" * 248).encode() for i in range(18)]  # 18 x 251 bytes > PATH_MAX


def build(src):
    os.makedirs(src)
    os.chdir(src)

    def put(name, data=b"data", mode=0o644):
        with open(name, "wb") as f:
            f.write(data)
        os.chmod(name, mode)

    put("plain", b"hello", 0o640)
    put("ns-times")
    os.utime("ns-times", ns=(ATIME, MTIME))
    put("owned")
    os.chown("owned", 1234, 5678)
    put("setid", b"#!/bin/sh\n", 0o755)
    os.chown("setid", 0, 4321)
    os.chmod("setid", 0o6755)
    os.makedirs("links/a")
    os.makedirs("links/b")
    put("links/a/first", b"linked")
    os.link("links/a/first", "links/b/second")
    os.link("links/a/first", "links/third")
    put("user-xattr")
    os.setxattr("user-xattr", "user.color", b"blue")
    put("trusted-xattr")
    os.setxattr("trusted-xattr", "trusted.note", b"root's")
    put("capability")
    os.chown("capability", 1234, 5678)
    os.setxattr("capability", "security.capability", bytes([1, 0, 0, 2, 0, 0x20] + [0] * 14))  # cap_net_raw+ep
    os.mkdir("acl-dir")
    os.setxattr("acl-dir", "system.posix_acl_access", ACL)
    os.setxattr("acl-dir", "system.posix_acl_default", ACL)
    with open("sparse", "wb") as f:
        f.seek(64 << 20)
        f.write(b"end")
    os.mkfifo("fifo")
    s = socket.socket(socket.AF_UNIX)
    s.bind("socket")
    s.close()
    os.mknod("chardev", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod("blockdev", 0o660 | stat.S_IFBLK, os.makedev(7, 200))
    os.symlink("plain", "symlink")
    os.utime("symlink", ns=(MTIME, MTIME), follow_symlinks=False)
    os.symlink("nowhere", "dangling")
    os.symlink("loop-b", "loop-a")
    os.symlink("loop-a", "loop-b")
    put(b"odd\nname\xff\xfe")
    os.mkdir("empty-dir")
    fd = os.open(".", os.O_RDONLY)
    for name in DEEP:
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    with open(os.open("deepest", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as f:
        f.write(b"past PATH_MAX")
    os.close(fd)
    os.mkdir("dir-times")
    os.utime("dir-times", ns=(MTIME, MTIME))
    os.chdir("/")


def lst(root, rel):
    return os.stat(os.path.join(root, rel), follow_symlinks=False)


def xattr(root, rel, name):
    try:
        return os.getxattr(os.path.join(root, rel), name, follow_symlinks=False)
    except OSError:
        return None


def deep(root):
    """Lstat of the deepest file, through directory fds."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for name in DEEP:
            nfd = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nfd
        return os.stat("deepest", dir_fd=fd, follow_symlinks=False)
    finally:
        os.close(fd)


def check_type(kind):
    def check(src, dst, rel):
        st = lst(dst, rel)
        want = lst(src, rel)
        if stat.S_IFMT(st.st_mode) != stat.S_IFMT(want.st_mode):
            return "copied as " + kind_name(st.st_mode)
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            if st.st_rdev != want.st_rdev:
                return "other device number"
        return None
    return check


def kind_name(mode):
    for test, name in [(stat.S_ISREG, "file"), (stat.S_ISDIR, "directory"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket")]:
        if test(mode):
            return name
    return "device"


def same_content(src, dst, rel):
    with open(os.path.join(src, rel), "rb") as a, open(os.path.join(dst, rel), "rb") as b:
        if a.read() != b.read():
            return "content differs"
    if stat.S_IMODE(lst(src, rel).st_mode) != stat.S_IMODE(lst(dst, rel).st_mode):
        return "mode differs"
    return None


def ns_times(src, dst, rel):
    a, b = lst(src, rel), lst(dst, rel)
    if a.st_mtime_ns != b.st_mtime_ns:
        return "mtime %s" % ("to the second" if a.st_mtime_ns // 10**9 == b.st_mtime_ns // 10**9 else "not kept")
    return None


def atime(src, dst, rel):
    a, b = lst(src, rel), lst(dst, rel)
    return None if a.st_atime_ns == b.st_atime_ns else "not kept"


def owner(src, dst, rel):
    a, b = lst(src, rel), lst(dst, rel)
    return None if (a.st_uid, a.st_gid) == (b.st_uid, b.st_gid) else "not kept"


def setid(src, dst, rel):
    a, b = lst(src, rel), lst(dst, rel)
    return None if stat.S_IMODE(a.st_mode) == stat.S_IMODE(b.st_mode) else "mode %o" % stat.S_IMODE(b.st_mode)


def hardlinks(src, dst, rel):
    inos = {lst(dst, r).st_ino for r in ("links/a/first", "links/b/second", "links/third")}
    return None if len(inos) == 1 else "%d separate files" % len(inos)


def has_xattr(name):
    def check(src, dst, rel):
        return None if xattr(src, rel, name) == xattr(dst, rel, name) else "not kept"
    return check


def acls(src, dst, rel):
    for name in ("system.posix_acl_access", "system.posix_acl_default"):
        if xattr(src, rel, name) != xattr(dst, rel, name):
            return name.rsplit("_", 1)[1] + " ACL not kept"
    return None


def sparse(src, dst, rel):
    a, b = lst(src, rel), lst(dst, rel)
    if b.st_size != a.st_size:
        return "size differs"
    return None if b.st_blocks <= a.st_blocks * 2 + 64 else "holes filled (%d MiB)" % (b.st_blocks * 512 >> 20)


def link_target(src, dst, rel):
    st = lst(dst, rel)
    if not stat.S_ISLNK(st.st_mode):
        return "copied as " + kind_name(st.st_mode)
    return None if os.readlink(os.path.join(src, rel)) == os.readlink(os.path.join(dst, rel)) else "other target"


def link_times(src, dst, rel):
    return link_target(src, dst, rel) or ns_times(src, dst, rel)


def past_path_max(src, dst, rel):
    a, b = deep(src), deep(dst)
    return None if a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns else "differs"


ASPECTS = [
    ("file contents and modes", "plain", same_content),
    ("mtime, ns (file)", "ns-times", ns_times),
    ("mtime, ns (directory)", "dir-times", ns_times),
    ("atime, ns", "ns-times", atime),
    ("symlink's own mtime", "symlink", link_times),
    ("owner and group (numeric)", "owned", owner),
    ("set-user/group-ID bits", "setid", setid),
    ("hard links (3 names, 3 dirs)", "links", hardlinks),
    ("user.* xattr", "user-xattr", has_xattr("user.color")),
    ("trusted.* xattr", "trusted-xattr", has_xattr("trusted.note")),
    ("file capability (security.*), other owner", "capability", has_xattr("security.capability")),
    ("POSIX ACLs (access, default)", "acl-dir", acls),
    ("sparse file (64 MiB, 4 KiB data)", "sparse", sparse),
    ("FIFO", "fifo", check_type("FIFO")),
    ("socket", "socket", check_type("socket")),
    ("character and block devices", "chardev", lambda s, d, r: check_type("dev")(s, d, r) or check_type("dev")(s, d, "blockdev")),
    ("dangling symlink", "dangling", link_target),
    ("symlink loop", "loop-a", link_target),
    ("name with newline, invalid UTF-8", os.fsdecode(b"odd\nname\xff\xfe"), same_content),
    ("empty directory", "empty-dir", check_type("directory")),
    ("path longer than PATH_MAX", "", past_path_max),
]

TOOLS = {
    "pcopy": lambda p, s, d: [p, "-q", s, d],
    "cp -a": lambda p, s, d: ["cp", "-a", s, d],
    "rsync -aHAX": lambda p, s, d: ["rsync", "-aHAX", s + "/", d + "/"],
    "tar": lambda p, s, d: ["sh", "-c", 'mkdir -p "$2" && tar -C "$1" --xattrs --xattrs-include="*" --acls -cf - . | '
                            'tar -C "$2" --xattrs --xattrs-include="*" --acls --numeric-owner -xpf -', "tar", s, d],
    "rclone copy -M": lambda p, s, d: ["rclone", "copy", "--metadata", "--links", s, d],
}


def main():
    pcopy, work = sys.argv[1], sys.argv[2]
    src = os.path.join(work, "src")
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    build(src)
    results = {}
    for tool, argv in TOOLS.items():
        if shutil.which(argv(pcopy, "", "")[0]) is None:
            continue
        dst = os.path.join(work, tool.split()[0])
        run = subprocess.run(argv(pcopy, src, dst), capture_output=True, text=True, errors="replace")
        col = {}
        for aspect, rel, check in ASPECTS:
            try:
                col[aspect] = check(src, dst, rel) or "yes"
            except OSError as e:
                col[aspect] = "missing" if e.errno == 2 else e.strerror.lower()
        col["exit code"] = str(run.returncode)
        results[tool] = col
    tools = list(results)
    print("| kept? | " + " | ".join(tools) + " |")
    print("|---|" + "---|" * len(tools))
    for aspect in [a for a, _, _ in ASPECTS] + ["exit code"]:
        print("| %s | %s |" % (aspect, " | ".join(results[t][aspect] for t in tools)))


if __name__ == "__main__":
    main()
