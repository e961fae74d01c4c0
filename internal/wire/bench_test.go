package wire

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// BenchmarkProtocolBatch encodes and decodes one full batch of jobs with
// realistic paths; ns/job is the per-file IPC cost (a batch holds at most 128 jobs).
func BenchmarkProtocolBatch(b *testing.B) {
	jobs := make([]Job, 128)
	for i := range jobs {
		jobs[i] = Job{ID: uint64(1000 + i), Kind: KindFile, Rel: fmt.Sprintf("a%02d/b%02d/c%02d/f%05d.bin", i%10, i%7, i%3, i),
			Size: 4096, Mode: 0o644, Mtime: 1577836800123456789, Atime: 1577836800123456789}
	}
	var buf bytes.Buffer
	w := NewConn(nil, &buf)
	b.ResetTimer()
	for range b.N {
		buf.Reset()
		if err := w.WriteBatch(jobs); err != nil {
			b.Fatal(err)
		}
		w.Flush()
		r := NewConn(bytes.NewReader(buf.Bytes()), io.Discard)
		m, err := r.Read()
		if err != nil || len(m.(*Batch).Jobs) != len(jobs) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(jobs)), "ns/job")
}

// BenchmarkCopyTreeMem copies a tree of 2,000 small files on MemMapFs with
