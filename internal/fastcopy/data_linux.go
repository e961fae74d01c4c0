package fastcopy

import (
	"context"
	"fmt"
	"io"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/internal/bwlimit"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// The Linux fast path copies one file with raw system calls on file
// descriptors, relative to open directories. It avoids what *os.File costs
// per open (registering the fd with the poller, which fails for regular
// files, and restoring blocking mode: three extra calls), the lstat
// os.Rename makes first, and path walks. It trusts the size, mode and times
// the coordinator listed, and checks them once the data is copied: one
// fstat both gives the worker nothing to look up before and tells it
// whether the file changed while it was read.

// Moving a file's bytes: shared extents, holes kept, copy_file_range, or
// read and write, in chunks with progress and cancellation between them.

// copyData copies job.Size bytes of srcfd to the empty dstfd: by reflink
// where the filesystems can share extents, keeping holes where the source
// is sparse, with copy_file_range otherwise, and with read and write where
// the kernel cannot copy between these files.
func (o *osCopier) copyData(ctx context.Context, dstfd, srcfd int, job *wire.Job, progress func(int64) error) (int64, error) {
	// With a bandwidth limit the bytes are read, at its pace: a clone,
	// all at once, would not be.
	if devs := [2]uint64{o.srcDev, o.dstDev}; !o.noClone[devs] && o.limit == nil {
		switch err := unix.IoctlFileClone(dstfd, srcfd); err {
		case nil:
			return job.Size, nil
		case unix.EOPNOTSUPP, unix.ENOTTY, unix.EXDEV, unix.ENOSYS:
			// Not between these filesystems: remembered, so the attempt
			// costs one call per pair of filesystems, not per file.
			if o.noClone == nil {
				o.noClone = make(map[[2]uint64]bool)
			}
			o.noClone[devs] = true
		}
		// Otherwise not for this file (EINVAL, EPERM): copy the bytes.
	}
	if job.Sparse {
		return copySparse(ctx, dstfd, srcfd, job.Size, progress, o.limit)
	}
	return copyRange(ctx, dstfd, srcfd, 0, job.Size, progress, 0, o.limit)
}

// FsyncFd flushes a file to disk (a variable: tests count the calls).
var FsyncFd = unix.Fsync

// copySparse copies only the data regions of srcfd, found with SEEK_DATA
// and SEEK_HOLE, and sets the size, so holes stay holes.
func copySparse(ctx context.Context, dstfd, srcfd int, size int64, progress func(int64) error, limit *bwlimit.Limiter) (int64, error) {
	var done int64
	for pos := int64(0); pos < size; {
		data, err := unix.Seek(srcfd, pos, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // only a hole from here to the end
		}
		if err != nil {
			return done, fmt.Errorf("copy data: seek: %w", err)
		}
		hole, err := unix.Seek(srcfd, data, unix.SEEK_HOLE)
		if err != nil {
			return done, fmt.Errorf("copy data: seek: %w", err)
		}
		n, err := copyRange(ctx, dstfd, srcfd, data, hole-data, progress, done, limit)
		done += n
		if err == nil && progress != nil {
			err = progress(done)
		}
		if err != nil {
			return done, err
		}
		pos = hole
	}
	if err := unix.Ftruncate(dstfd, size); err != nil {
		return done, fmt.Errorf("copy data: ftruncate: %w", err)
	}
	return size, nil
}

// copyRange copies length bytes (to the end of the file when length < 0)
// from offset off of srcfd to the same offset of dstfd, in chunks that
// adapt as in copyData, each waiting its turn under limit (nil: none).
// base is added to the progress reports.
func copyRange(ctx context.Context, dstfd, srcfd int, off, length int64, progress func(int64) error, base int64, limit *bwlimit.Limiter) (int64, error) {
	var done int64
	chunk := int64(worker.FirstChunk)
	useRead := false
	for length < 0 || done < length {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		want := chunk
		if limit != nil {
			want = min(want, limit.Chunk())
		}
		if length >= 0 {
			want = min(want, length-done)
		}
		if err := limit.Wait(ctx, want); err != nil {
			return done, err
		}
		// The last chunk is not timed and its progress not reported: the
		// job's result says the file is done. A small file is one chunk.
		last := length >= 0 && want == length-done
		var start time.Time
		if !last {
			start = time.Now()
		}
		var n int
		var err error
		if !useRead {
			roff, woff := off+done, off+done
			if want <= rawCopyMax {
				n, err = rawCopyFileRange(srcfd, &roff, dstfd, &woff, int(want))
			} else {
				n, err = unix.CopyFileRange(srcfd, &roff, dstfd, &woff, int(want), 0)
			}
			switch {
			case err == unix.EXDEV || err == unix.ENOSYS || err == unix.EOPNOTSUPP || err == unix.EINVAL,
				// Some filesystems answer 0 for files that have data.
				err == nil && n == 0 && done == 0:
				useRead = true // the kernel cannot copy between these files
				continue
			}
		} else {
			n, err = copyByHand(dstfd, srcfd, off+done, want)
		}
		if err != nil {
			return done, fmt.Errorf("copy data: %w", err)
		}
		if n == 0 {
			break // end of file
		}
		done += int64(n)
		if length >= 0 && done == length {
			break
		}
		if !last {
			chunk = worker.AdaptChunk(chunk, time.Since(start))
		}
		if progress != nil {
			if err := progress(base + done); err != nil {
				return done, err
			}
		}
	}
	return done, nil
}

// rawCopyMax is the largest copy made with a raw system call: a longer
// one would hold up the worker's garbage collector.
const rawCopyMax = 1 << 20

// copyByHand copies up to want bytes at off with pread and pwrite through a
// pooled buffer.
func copyByHand(dstfd, srcfd int, off, want int64) (int, error) {
	bp := worker.GetBuf()
	defer worker.PutBuf(bp)
	buf := (*bp)[:min(int64(len(*bp)), want)]
	n, err := unix.Pread(srcfd, buf, off)
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	for w := 0; w < n; {
		m, err := unix.Pwrite(dstfd, buf[w:n], off+int64(w))
		if err != nil {
			return 0, fmt.Errorf("write: %w", err)
		}
		w += m
	}
	return n, nil
}

// fdReaderAt reads a file descriptor with pread.
type fdReaderAt int

func (fd fdReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := unix.Pread(int(fd), p, off)
	if err == nil && n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return max(n, 0), err
}

// Fd lets a comparison find where the file has data (SEEK_DATA).
func (fd fdReaderAt) Fd() uintptr { return uintptr(fd) }
