package sharedpath

import (
	"testing"
	"unsafe"
)

// TestChainShares: the paths of a chain share one buffer (a few, as it
// grows), and no path handed out ever changes, whatever is made after it.
func TestChainShares(t *testing.T) {
	var b Builder
	var paths, want []string
	dir, w := "", ""
	for i := range 1000 {
		name := string(rune('a' + i%26))
		dir = b.Join(dir, name)
		if w == "" {
			w = name
		} else {
			w = w + "/" + name
		}
		paths, want = append(paths, dir), append(want, w)
	}
	buffers := map[*byte]bool{}
	for _, p := range paths {
		buffers[unsafe.StringData(p)] = true
	}
	if len(buffers) > 12 {
		t.Errorf("a chain of 1000 paths uses %d buffers; want them shared (a few, doubling)", len(buffers))
	}
	// Siblings: a path that does not extend the last one made.
	side := b.Join(paths[500], "sibling")
	deeper := b.Join(side, "x")
	b.Join(paths[10], "y")
	for i := range paths {
		if paths[i] != want[i] {
			t.Fatalf("path %d changed: %q, want %q", i, paths[i], want[i])
		}
	}
	if side != want[500]+"/sibling" || deeper != side+"/x" {
		t.Errorf("siblings: %q %q", side, deeper)
	}
	if got := b.Join("", "top"); got != "top" {
		t.Errorf("Join(\"\", top) = %q", got)
	}
}

// TestCopyPanics: a Builder copied after use would append where the
// original handed out paths; Join on the copy panics instead.
func TestCopyPanics(t *testing.T) {
	var b Builder
	b.Join(b.Join("", "a"), "b")
	c := b
	defer func() {
		if recover() == nil {
			t.Error("Join on a copied Builder did not panic")
		}
	}()
	c.Join("a", "c")
}
