package worker

import (
	"bytes"
	"io"
	"sort"
)

// Comparing a file with its copy (--verify) or with what DST has
// (--checksum) reads only where either has data: the regions that are a
// hole in both are equal without a byte read, so a terabyte sparse file
// with a few kilobytes of data compares in the time those take. A hole in
// one file against zeros written in the other is equal: the content is
// the same, whatever the allocation.

// sameData says whether the first size bytes of a and b are the same.
func sameData(a, b io.ReaderAt, size int64) (bool, error) {
	pa, pb := GetBuf(), GetBuf()
	defer PutBuf(pa)
	defer PutBuf(pb)
	ba, bb := *pa, *pb
	for _, r := range unionRanges(dataRanges(a, size), dataRanges(b, size)) {
		for off := r[0]; off < r[1]; {
			n := int(min(int64(len(ba)), r[1]-off))
			if _, err := readFullAt(a, ba[:n], off); err != nil {
				return false, &readError{side: "source", err: err}
			}
			if _, err := readFullAt(b, bb[:n], off); err != nil {
				return false, &readError{side: "copy", err: err}
			}
			if !bytes.Equal(ba[:n], bb[:n]) {
				return false, nil
			}
			off += int64(n)
		}
	}
	return true, nil
}

// readError is a failed read of one side of a comparison.
type readError struct {
	side string
	err  error
}

func (e *readError) Error() string { return "read " + e.side + ": " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

func readFullAt(r io.ReaderAt, p []byte, off int64) (int, error) {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return n, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// unionRanges merges two sorted lists of [start, end) ranges.
func unionRanges(a, b [][2]int64) [][2]int64 {
	all := append(append([][2]int64{}, a...), b...)
	sort.Slice(all, func(i, j int) bool { return all[i][0] < all[j][0] })
	var out [][2]int64
	for _, r := range all {
		if r[1] <= r[0] {
			continue
		}
		if n := len(out); n > 0 && r[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// A DataMapper knows where a file has data (SEEK_DATA, SEEK_HOLE).
type DataMapper interface {
	DataRanges(size int64) ([][2]int64, error)
}

// dataRanges is where r has data in its first size bytes: all of it,
// unless r can say otherwise.
func dataRanges(r io.ReaderAt, size int64) [][2]int64 {
	if m, ok := r.(DataMapper); ok {
		if ranges, err := m.DataRanges(size); err == nil {
			return ranges
		}
	}
	if f, ok := r.(interface{ Fd() uintptr }); ok {
		if ranges, err := fdDataRanges(int(f.Fd()), size); err == nil {
			return ranges
		}
	}
	return [][2]int64{{0, size}}
}
