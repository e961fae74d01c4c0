package worker

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// countingFile counts the bytes read from a file: the seam that tells a
// comparison reading holes from one reading data alone.
type countingFile struct {
	*os.File
	read int64
}

func (c *countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.File.ReadAt(p, off)
	c.read += int64(n)
	return n, err
}

// sparse makes a file of size bytes with data only where data says.
func sparse(t *testing.T, name string, size int64, data map[int64][]byte) *countingFile {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for off, b := range data {
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	return &countingFile{File: f}
}

// A 1 TiB file with 16 KiB of data compares with its copy reading about
// that: the holes of both are equal unread. Where one has a hole and the
// other zeros written, the content is equal; a byte that differs is seen,
// in data or against a hole.
func TestSparseCompareReadsOnlyData(t *testing.T) {
	const tib = 1 << 40
	data := map[int64][]byte{0: fill(8<<10, 'a'), tib / 2: fill(8<<10, 'b')}
	a := sparse(t, "a", tib, data)
	if r, err := fdDataRanges(int(a.Fd()), tib); err != nil || len(r) != 2 {
		t.Skipf("this filesystem does not tell holes from data (SEEK_DATA): %v %v", r, err)
	}
	b := sparse(t, "b", tib, data)
	if same, err := sameData(a, b, tib); err != nil || !same {
		t.Fatalf("a sparse file and its copy: same %v, %v", same, err)
	}
	if a.read > 1<<20 || b.read > 1<<20 {
		t.Errorf("read %d and %d bytes of a 1 TiB file with 16 KiB of data; holes were read", a.read, b.read)
	}
	if err := VerifyCopy(a, b, tib); err != nil {
		t.Errorf("--verify of the copy: %v", err)
	}

	zeros := sparse(t, "zeros", tib, map[int64][]byte{0: fill(8<<10, 'a'), tib / 2: fill(8<<10, 'b'), 1 << 30: make([]byte, 64<<10)})
	if same, err := sameData(a, zeros, tib); err != nil || !same {
		t.Errorf("a hole against zeros written: same %v, %v; want equal", same, err)
	}
	differs := sparse(t, "differs", tib, map[int64][]byte{0: fill(8<<10, 'a'), tib / 2: fill(8<<10, 'c')})
	if same, _ := sameData(a, differs, tib); same {
		t.Error("data that differs was not seen")
	}
	extra := sparse(t, "extra", tib, map[int64][]byte{0: fill(8<<10, 'a'), tib / 2: fill(8<<10, 'b'), 1 << 35: {1}})
	if same, _ := sameData(a, extra, tib); same {
		t.Error("a byte where the other file has a hole was not seen")
	}
	if err := VerifyCopy(a, extra, tib); err != errMismatch {
		t.Errorf("--verify against a copy that differs: %v", err)
	}
	short := sparse(t, "short", 1<<20, map[int64][]byte{0: fill(8<<10, 'a')})
	if _, err := sameData(a, short, tib); err == nil {
		t.Error("a copy shorter than the source compared without an error")
	}
	var _ io.ReaderAt = a
}

func fill(n int, c byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}
