package worker

import "golang.org/x/sys/unix"

// fdDataRanges finds the data regions of the first size bytes of fd with
// SEEK_DATA and SEEK_HOLE.
func fdDataRanges(fd int, size int64) ([][2]int64, error) {
	var out [][2]int64
	for pos := int64(0); pos < size; {
		data, err := unix.Seek(fd, pos, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // a hole to the end
		}
		if err != nil {
			return nil, err
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		if data >= size {
			break
		}
		out = append(out, [2]int64{data, min(hole, size)})
		pos = hole
	}
	return out, nil
}
