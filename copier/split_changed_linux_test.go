package copier

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/tempname"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// splitBytes is a Reporter that keeps the sum of the bytes reported, so
// that a test can wait for parts to be in and check what was taken back.
type splitBytes struct {
	nopReporter
	mu   sync.Mutex
	cond *sync.Cond
	sum  int64
}

func newSplitBytes() *splitBytes {
	r := &splitBytes{}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *splitBytes) Bytes(n int64) {
	r.mu.Lock()
	r.sum += n
	r.mu.Unlock()
	r.cond.Broadcast()
}

// waitFor blocks until at least n bytes are reported.
func (r *splitBytes) waitFor(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.sum < n {
		r.cond.Wait()
	}
}

func (r *splitBytes) total() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sum
}

// splitJob is a job for the split file that a worker was given.
type splitJob struct {
	kind   wire.Kind
	offset int64
	size   int64
}

// A file copied in parts whose source changes while the parts are copied
// is handled as a whole file that changes: its temporary file removed and
// its bytes taken back, then, the first time, looked at again and copied
// once more as it is now (in parts again, or whole if it is now too small
// to split); if it changes again, it is reported once and counted in
// Summary.Changed; one that vanishes is reported once and counted in
// Summary.Vanished. The change comes as the first part starts while another
// part is under way (every part in flight then sees it), as the last part
// starts once the others are in, or as the coordinator checks the source
// before it finishes the file.
func TestSplitSourceChangingWhileCopied(t *testing.T) {
	const (
		parts     = 4         // with 2 workers: 2 each
		small     = 100 << 10 // below SplitSize: copied whole
		splitSize = 1 << 20
	)
	for _, c := range []struct {
		name   string
		when   string // "first part", "last part" or "finish"
		shrink bool   // the change leaves it smaller than SplitSize
		keeps  bool   // it changes every time, not only once
		vanish bool   // the change removes it
		// queued: the file's parts are as large as a batch, so a worker
		// holds one at a time and the other two wait in the queue when
		// the first two see the change: they are never copied.
		queued bool
	}{
		{name: "changes once as the first part starts", when: "first part"},
		{name: "changes once as the first part starts, the other parts queued", when: "first part", queued: true},
		{name: "changes once as the last part starts", when: "last part"},
		{name: "changes once as it is finished", when: "finish"},
		{name: "shrinks once as the first part starts", when: "first part", shrink: true},
		{name: "keeps changing as the first part starts", when: "first part", keeps: true},
		{name: "keeps changing as the last part starts", when: "last part", keeps: true},
		{name: "keeps changing as it is finished", when: "finish", keeps: true},
		{name: "vanishes as the first part starts", when: "first part", vanish: true},
		{name: "vanishes as it is finished", when: "finish", vanish: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			size := int64(4 << 20)
			if c.queued {
				size = parts * maxBatchBytes
			}
			part := size / parts
			old := minPart
			minPart = part
			t.Cleanup(func() { minPart = old })
			tmp := t.TempDir()
			src, dst := filepath.Join(tmp, "src"), filepath.Join(tmp, "dst")
			big := filepath.Join(src, "big")
			if err := os.MkdirAll(src, 0o755); err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
			if err := os.WriteFile(big, bytes.Repeat([]byte{'a'}, int(size)), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(big, t0, t0); err != nil {
				t.Fatal(err)
			}

			// change rewrites big in place (or shorter), with other bytes
			// and another mtime.
			var mu sync.Mutex
			changes := 0
			change := func() {
				mu.Lock()
				defer mu.Unlock()
				if changes > 0 && !c.keeps {
					return
				}
				changes++
				if c.vanish {
					if err := os.Remove(big); err != nil {
						t.Error(err)
					}
					return
				}
				n := int(size)
				if c.shrink {
					n = small
				}
				f, err := os.OpenFile(big, os.O_WRONLY, 0)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := f.WriteAt(bytes.Repeat([]byte{byte('a' + changes)}, n), 0); err != nil {
					t.Error(err)
				}
				if int64(n) < size {
					if err := f.Truncate(int64(n)); err != nil {
						t.Error(err)
					}
				}
				if err := f.Close(); err != nil {
					t.Error(err)
				}
				mt := t0.Add(time.Duration(changes) * time.Hour)
				if err := os.Chtimes(big, mt, mt); err != nil {
					t.Error(err)
				}
			}

			// The jobs for big, by the mtime they were listed with: one
			// round of copying each.
			rep := newSplitBytes()
			rounds := map[int64][]splitJob{}
			var order []int64
			gates := map[int64]*struct{ second, changed chan struct{} }{}
			gate := func(mtime int64) *struct{ second, changed chan struct{} } {
				g := gates[mtime]
				if g == nil {
					g = &struct{ second, changed chan struct{} }{make(chan struct{}), make(chan struct{})}
					gates[mtime] = g
				}
				return g
			}
			worker.TestHook = func(j *wire.Job) {
				if j.Rel != "big" {
					return
				}
				mu.Lock()
				if rounds[j.Mtime] == nil {
					order = append(order, j.Mtime)
				}
				rounds[j.Mtime] = append(rounds[j.Mtime], splitJob{j.Kind, j.Offset, j.Size})
				n := len(rounds[j.Mtime])
				first := len(order) == 1 // the round listed first
				g := gate(j.Mtime)
				mu.Unlock()
				if j.Kind != wire.KindPart || !first && !c.keeps {
					return
				}
				switch {
				case c.when == "first part" && n == 1:
					// Another part is under way when the file changes.
					<-g.second
					change()
					close(g.changed)
				case c.when == "first part" && n == 2:
					close(g.second)
					<-g.changed
				case c.when == "last part" && n == parts:
					// The other parts are in: their bytes are reported.
					rep.waitFor((parts - 1) * part)
					change()
				}
			}
			t.Cleanup(func() { worker.TestHook = nil })
			if c.when == "finish" {
				// The coordinator stats the source once all parts are in,
				// before it finishes the file.
				beneath.TestHook = func(op beneath.Op, p string) {
					if op == beneath.OpStat && p == big {
						change()
					}
				}
				t.Cleanup(func() { beneath.TestHook = nil })
			}

			sum, err := Copy(context.Background(), Options{Src: src, Dst: dst, Workers: 2, SplitSize: splitSize, Reporter: rep})
			worker.TestHook, beneath.TestHook = nil, nil

			mu.Lock()
			defer mu.Unlock()
			if wantRounds := map[bool]int{false: 2, true: 1}[c.vanish]; len(order) != wantRounds {
				t.Errorf("big was copied in %d rounds, want %d: %v", len(order), wantRounds, rounds)
			}
			for i, mtime := range order {
				jobs := rounds[mtime]
				whole := c.shrink && i == 1
				if whole {
					if len(jobs) != 1 || jobs[0].kind != wire.KindFile {
						t.Errorf("round %d: jobs %v, want one job for the whole file", i+1, jobs)
					}
					continue
				}
				// Each part once: a part still in flight when another
				// reported the change is not copied again on its own.
				// The parts queued when the first reports it are not
				// copied at all.
				want := parts
				if c.queued && i == 0 {
					want = 2
				}
				offsets := map[int64]int{}
				for _, j := range jobs {
					if j.kind != wire.KindPart || j.offset%part != 0 || j.offset >= size || j.size != part {
						t.Errorf("round %d: job %v, want parts of %d bytes: %v", i+1, j, part, jobs)
					}
					offsets[j.offset]++
				}
				for off, n := range offsets {
					if n != 1 {
						t.Errorf("round %d: the part at %d was copied %d times, want once: %v", i+1, off, n, jobs)
					}
				}
				if len(offsets) != want {
					t.Errorf("round %d: %d parts copied, want %d: %v", i+1, len(offsets), want, jobs)
				}
			}

			names, rerr := os.ReadDir(dst)
			if rerr != nil {
				t.Fatal(rerr)
			}
			for _, n := range names {
				if tempname.Is(n.Name()) {
					t.Errorf("a temporary file is left in DST: %s", n.Name())
				}
			}

			if !c.keeps && !c.vanish {
				if err != nil || sum.Changed != 0 || sum.Vanished != 0 {
					t.Fatalf("err = %v (%v), %d changed, %d vanished; want the retry to copy it", err, sum.Errors, sum.Changed, sum.Vanished)
				}
				want, _ := os.ReadFile(big)
				got, gerr := os.ReadFile(filepath.Join(dst, "big"))
				if gerr != nil || !bytes.Equal(got, want) || len(want) == 0 || want[0] != 'b' {
					t.Errorf("DST/big is %d bytes (%v), want the %d bytes of SRC/big as it is after the change", len(got), gerr, len(want))
				}
				sinfo, _ := os.Stat(big)
				if dinfo, err := os.Stat(filepath.Join(dst, "big")); err == nil && !dinfo.ModTime().Equal(sinfo.ModTime()) {
					t.Errorf("DST/big has mtime %v, want the changed source's %v", dinfo.ModTime(), sinfo.ModTime())
				}
				if sum.Files != 1 || sum.Bytes != int64(len(want)) || rep.total() != int64(len(want)) {
					t.Errorf("%d files, %d bytes copied, %d bytes reported; want 1 file, %d bytes (the first round's taken back)",
						sum.Files, sum.Bytes, rep.total(), len(want))
				}
				return
			}
			if !errors.Is(err, ErrIncomplete) || len(sum.Errors) != 1 || sum.Errors[0].Path != "big" {
				t.Fatalf("err = %v, errors %v; want big reported once", err, sum.Errors)
			}
			wantMsg, changed, vanished := "changed while it was being copied", int64(1), int64(0)
			if c.vanish {
				wantMsg, changed, vanished = "vanished after it was listed", 0, 1
			}
			if msg := sum.Errors[0].Error(); !strings.Contains(msg, wantMsg) || strings.Contains(msg, "copy part") {
				t.Errorf("big reported as %q, want %q as for a whole file", msg, wantMsg)
			}
			if sum.Changed != changed || sum.Vanished != vanished {
				t.Errorf("summary counts %d changed, %d vanished; want %d, %d", sum.Changed, sum.Vanished, changed, vanished)
			}
			if _, err := os.Lstat(filepath.Join(dst, "big")); err == nil {
				t.Error("a copy of a file that changed or vanished reached its name")
			}
			if sum.Files != 0 || sum.Bytes != 0 || rep.total() != 0 {
				t.Errorf("%d files, %d bytes copied, %d bytes reported; want none (taken back)", sum.Files, sum.Bytes, rep.total())
			}
		})
	}
}
