package copier

import (
	"errors"
	"testing"
	"time"

	"github.com/pcopy/pcopy/internal/tempname"
)

// A worker's fence holds while its agent hears from the coordinator, and
// stops it once the agent has heard nothing for the timeout.
func TestFence(t *testing.T) {
	f, heard, err := newFence()
	if err != nil {
		t.Skipf("no fence here: %v", err)
	}
	defer f.Close()
	defer func() { tempname.Fence = nil }()
	if err := useFence(int(f.Fd()), "500000000"); err != nil { // 500 ms
		t.Fatal(err)
	}
	if err := tempname.Fenced(); err != nil {
		t.Fatalf("fenced at once: %v", err)
	}
	time.Sleep(600 * time.Millisecond)
	if err := tempname.Fenced(); !errors.Is(err, tempname.ErrFenced) {
		t.Fatalf("not fenced after the timeout: %v", err)
	}
	heard(monotonicNow())
	if err := tempname.Fenced(); err != nil {
		t.Fatalf("still fenced after the agent heard again: %v", err)
	}
	if err := useFence(int(f.Fd()), "soon"); err == nil {
		t.Error("a bad timeout was taken")
	}
}
