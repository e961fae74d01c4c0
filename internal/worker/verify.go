package worker

import (
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/xxh3"
)

// Verification (Options.Verify): once a file's data is written, both the
// source and the copy are read again and hashed with XXH3-128 (fast, and
// made for telling data apart, not for security); a copy whose hash
// differs is an error, and it never gets its name.

// errMismatch is a copy whose content is not its source's.
var errMismatch = errors.New("verify: the copy's content differs from the source's; not kept")

// hashReaderAt hashes the first size bytes of r.
func hashReaderAt(r io.ReaderAt, size int64) (xxh3.Uint128, error) {
	bp := GetBuf()
	defer PutBuf(bp)
	buf := *bp
	h := xxh3.New()
	for off := int64(0); off < size; {
		n, err := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		h.Write(buf[:n])
		off += int64(n)
		if err == io.EOF && off < size {
			return xxh3.Uint128{}, io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return xxh3.Uint128{}, err
		}
	}
	return h.Sum128(), nil
}

// VerifyCopy compares the first size bytes of src and dst by hash.
func VerifyCopy(src, dst io.ReaderAt, size int64) error {
	hs, err := hashReaderAt(src, size)
	if err != nil {
		return fmt.Errorf("verify: read source: %w", err)
	}
	hd, err := hashReaderAt(dst, size)
	if err != nil {
		return fmt.Errorf("verify: read copy: %w", err)
	}
	if hs != hd {
		return errMismatch
	}
	return nil
}
