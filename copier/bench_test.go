package copier

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/afero"

	"github.com/pcopy/pcopy/internal/wire"
)

// in-process workers: the coordinator, protocol and dispatch, without a disk.
func BenchmarkCopyTreeMem(b *testing.B) {
	fsys := afero.NewMemMapFs()
	for i := range 2000 {
		afero.WriteFile(fsys, fmt.Sprintf("/src/d%02d/f%04d", i%40, i), []byte("data"), 0o644)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := Copy(context.Background(), Options{Src: "/src", Dst: fmt.Sprintf("/dst%d", i), Fs: fsys, Workers: 2}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2000), "ns/file")
}

// nullWorkers returns a Spawner whose workers do nothing: each job is
// reported done at once, so that a copy measures the coordinator alone
// (the walk, tasks, batching, the protocol, results, directories).
func nullWorkers() Spawner {
	return func(id int) (WorkerProcess, error) {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		_, cancel := context.WithCancel(context.Background())
		w := &inProcWorker{stdin: inW, stdout: outR, cancel: cancel, done: make(chan struct{}), inR: inR, outW: outW}
		go func() {
			defer close(w.done)
			defer outW.Close()
			c := wire.NewConn(inR, outW)
			if _, err := c.ReadHello(); err != nil {
				return
			}
			c.WriteHello(wire.Hello{Version: wire.Version, Pid: 1})
			c.Flush()
			// Read on, as a worker does, while results are written:
			// with unbuffered pipes both sides would otherwise block.
			batches := make(chan *wire.Batch, 64)
			go func() {
				defer close(batches)
				for {
					m, err := c.Read()
					if err != nil {
						return
					}
					if b, ok := m.(*wire.Batch); ok {
						batches <- b
					}
				}
			}()
			for b := range batches {
				for _, j := range b.Jobs {
					c.WriteResult(wire.Result{ID: j.ID, Bytes: j.Size})
				}
				c.Flush()
			}
		}()
		return w, nil
	}
}

// BenchmarkCoordinatorNullWorkers: how many jobs a second one coordinator
// hands out and takes back, against workers that do nothing, with the
// source listed from the operating system's filesystem (a tree of
// empty files, in the page cache) and DST's directories made there.
func BenchmarkCoordinatorNullWorkers(b *testing.B) {
	src := filepath.Join(b.TempDir(), "src")
	const files = 20000
	for i := range files {
		p := filepath.Join(src, fmt.Sprintf("d%03d", i%100), fmt.Sprintf("f%05d", i))
		if i < 100 {
			os.MkdirAll(filepath.Dir(p), 0o755)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	dst := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		sum, err := Copy(context.Background(), Options{Src: src, Dst: filepath.Join(dst, fmt.Sprint(i)), Workers: 4, Spawn: nullWorkers()})
		if err != nil || sum.Files != files {
			b.Fatalf("copied %d files: %v", sum.Files, err)
		}
	}
	b.ReportMetric(float64(b.N*files)/b.Elapsed().Seconds(), "jobs/s")
}
