#!/usr/bin/env python3
"""Classic teaching "multiprocess folder copier", made recursive.

Faithful to the well-known tutorial shape:
  * multiprocessing.Pool(N)
  * one pool.apply_async(copy_file, ...) per file
  * a Manager().Queue() on which each worker puts the finished file name
  * the parent pulls completions off the queue and prints a percentage
Changes from the tutorial: recursive via os.walk (parent creates the dirs),
copy in 1 MiB chunks with shutil.copyfileobj, no sleeps, and a worker that
fails still posts to the queue (the original would hang forever).
No metadata (mode, mtime, owner) is preserved and symlinks are followed,
exactly like the tutorial's open()/read()/write().

Usage: bench/pool_copier.py SRC DST [N]
bench/compare.py times it as the tool py-pool (N = 2).
"""
import os
import shutil
import sys
from multiprocessing import Manager, Pool

CHUNK = 1 << 20


def copy_file(queue, rel, old_folder, new_folder):
    try:
        with open(os.path.join(old_folder, rel), "rb") as fr, \
                open(os.path.join(new_folder, rel), "wb") as fw:
            shutil.copyfileobj(fr, fw, CHUNK)
        queue.put((rel, None))
    except Exception as e:  # tutorial has no handling; keep the count right
        queue.put((rel, repr(e)))


def main():
    old_folder, new_folder = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 4

    files = []
    for dirpath, dirnames, filenames in os.walk(old_folder):
        rel_dir = os.path.relpath(dirpath, old_folder)
        os.makedirs(os.path.join(new_folder, rel_dir), exist_ok=True)
        for name in filenames:
            files.append(os.path.normpath(os.path.join(rel_dir, name)))

    po = Pool(n)
    q = Manager().Queue()
    for rel in files:
        po.apply_async(copy_file, args=(q, rel, old_folder, new_folder))
    po.close()

    all_file_num = len(files)
    copy_ok_num = 0
    errors = 0
    while copy_ok_num < all_file_num:
        rel, err = q.get()
        copy_ok_num += 1
        if err:
            errors += 1
            print(f"\nerror copying {rel}: {err}", file=sys.stderr)
        print("\rcopy progress: %.2f %%" % (copy_ok_num * 100 / all_file_num), end="")
    po.join()
    print("\ndone: %d files, %d errors" % (all_file_num, errors))
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
