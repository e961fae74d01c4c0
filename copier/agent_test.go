package copier

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcopy/pcopy/internal/wire"
)

// An agent's allowed roots hold what is in them, and nothing a symlink in
// them, or a path spelled with "..", leads out to.
func TestAllowedRoots(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, d := range []string{"root/sub", "rootless", "elsewhere"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(root, "escape"))
	os.Symlink(root, filepath.Join(dir, "via-link"))
	for path, ok := range map[string]bool{
		root:                                   true,
		filepath.Join(root, "sub"):             true,
		filepath.Join(dir, "via-link", "sub"):  true, // the same directory, by another name
		filepath.Join(root, "escape"):          false,
		filepath.Join(root, "sub", "..", ".."): false,
		filepath.Join(dir, "rootless"):         false, // a name that merely starts like it
		filepath.Join(root, "missing"):         false,
	} {
		err := allowed(path, []string{root})
		if (err == nil) != ok {
			t.Errorf("allowed(%s) = %v, want ok %v", path, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "is not allowed here") {
			t.Errorf("allowed(%s): %v", path, err)
		}
	}
}

// A coordinator that skipped the proof still cannot have a worker copy
// outside the allowed roots: the agent reads each worker's hello, however
// it is cut into frames, before the worker sees a byte of it.
func TestAgentChecksEachWorkersHello(t *testing.T) {
	root := t.TempDir()
	other := t.TempDir()
	hello := func(src, dst string) []byte {
		var b bytes.Buffer
		c := wire.NewConn(nil, &b)
		c.WriteHello(wire.Hello{Version: wire.Version, Worker: 1, SrcRoot: src, DstRoot: dst})
		c.Flush()
		return append(b.Bytes(), "next frame"...)
	}
	a := &agent{allow: []string{root}}
	for _, tc := range []struct {
		src, dst string
		ok       bool
	}{{root, root, true}, {root, other, false}, {other, root, false}} {
		w := &agentWorker{}
		msg := hello(tc.src, tc.dst)
		var passed []byte
		var err error
		for i := 0; i < len(msg) && err == nil; i += 7 {
			var out []byte
			out, err = a.checkHello(w, msg[i:min(i+7, len(msg))])
			passed = append(passed, out...)
			if w.checked && i+7 < len(msg) {
				passed = append(passed, msg[i+7:]...)
				break
			}
		}
		if tc.ok != (err == nil) || tc.ok && !bytes.Equal(passed, msg) || !tc.ok && len(passed) > 0 {
			t.Errorf("src %s, dst %s: err %v, passed %d of %d bytes", tc.src, tc.dst, err, len(passed), len(msg))
		}
	}
}
