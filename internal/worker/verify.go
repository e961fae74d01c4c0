package worker

import (
	"errors"
	"fmt"
	"io"
)

// Verification (Options.Verify): once a file's data is written, the copy
// is read back and compared with its source, where either has data (see
// sameData); a copy that differs is an error, and it never gets its name.

// errMismatch is a copy whose content is not its source's.
var errMismatch = errors.New("verify: the copy's content differs from the source's; not kept")

// VerifyCopy compares the first size bytes of src and dst.
func VerifyCopy(src, dst io.ReaderAt, size int64) error {
	same, err := sameData(src, dst, size)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if !same {
		return errMismatch
	}
	return nil
}
