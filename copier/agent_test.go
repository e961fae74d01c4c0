package copier

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcopy/pcopy/internal/mux"
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

// A ping read late, after waiting in a pipe while the agent's host was
// stopped, is known for old news: what the fence is given is when the
// coordinator last heard from the agent, by this host's clock, whenever
// the ping is read.
func TestPingClockKnowsOldPings(t *testing.T) {
	c := newPingClock(int64(time.Hour)) // started long after the coordinator
	ms := func(n int64) uint64 { return uint64(n * int64(time.Millisecond)) }
	ping := func(sent, heard int64) []byte { return mux.PutUvarint(ms(sent), ms(heard)) }
	// Sent at 100, 200, 300 ms by the coordinator's clock (which heard
	// from the agent 10 ms before each), read 1 s later (or 1 s and a
	// little) by this host's.
	for i, read := range []int64{1100, 1203, 1301} {
		sent := int64(i+1) * 100
		heard, ok := c.heard(ping(sent, sent-10), int64(ms(read)))
		if !ok {
			t.Fatal("a ping not understood")
		}
		if want := int64(ms(1000 + sent - 10)); heard != want {
			t.Errorf("ping %d: heard at %v, want %v", i, time.Duration(heard), time.Duration(want))
		}
	}
	// Stopped at 1.3 s for 5 s: the pings the coordinator sent meanwhile,
	// having heard nothing since 290 ms, are read at 6.3 s.
	for _, sent := range []int64{400, 500, 2200} {
		heard, _ := c.heard(ping(sent, 290), int64(ms(6300)))
		if heard != int64(ms(1290)) {
			t.Errorf("a ping sent at %d ms and read after a stop says the agent was heard at %v", sent, time.Duration(heard))
		}
	}
	// Stopped before the first ping was read, an agent takes no ping for
	// news: it was started after the coordinator's clock started.
	late := newPingClock(int64(ms(500)))
	if heard, _ := late.heard(ping(300, 290), int64(ms(6300))); heard > int64(ms(790)) {
		t.Errorf("a first ping read after a stop says the agent was heard at %v", time.Duration(heard))
	}
	for _, bad := range [][]byte{{0xff}, mux.PutUvarint(1), mux.PutUvarint(1, 2), mux.PutUvarint(3, 2, 1)} {
		if _, ok := c.heard(bad, 0); ok {
			t.Errorf("a ping %x was taken", bad)
		}
	}
}
