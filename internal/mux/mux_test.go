package mux

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

var agent = Hello{Mux: Version, Wire: 10, Pcopy: "0.6.0", Hostname: "node1", CPUs: 64, Uid: 1000}

// What a login shell prints before the agent starts is the host's noise,
// whatever bytes it holds; the hello after it is read whole.
func TestHandshakeSkipsNoise(t *testing.T) {
	for _, banner := range []string{"", "Welcome to node1\nLast login: today\n", "\x00\x1bpcopy\x00 half a magic\n", strings.Repeat("x", 60<<10)} {
		var out bytes.Buffer
		out.WriteString(banner)
		if err := WriteHello(&out, agent); err != nil {
			t.Fatal(err)
		}
		out.WriteString("after")
		r := bufio.NewReader(&out)
		h, noise, err := Handshake(r)
		if err != nil || h != agent || string(noise) != banner {
			t.Errorf("banner %.20q: Handshake = %+v, %.20q, %v", banner, h, noise, err)
		}
		if rest, _ := io.ReadAll(r); string(rest) != "after" {
			t.Errorf("banner %.20q: the hello's reader took %q too much", banner, rest)
		}
	}
}

func TestHandshakeFailures(t *testing.T) {
	var full bytes.Buffer
	WriteHello(&full, agent)
	for name, in := range map[string]string{
		"no agent, the command failed": "bash: pcopy: command not found\n",
		"endless noise":                strings.Repeat("y\n", maxNoise),
		"hello cut short":              full.String()[:len(full.String())-3],
	} {
		_, noise, err := Handshake(bufio.NewReader(strings.NewReader(in)))
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if name == "no agent, the command failed" && string(noise) != in {
			t.Errorf("%s: noise = %q, want what the host printed", name, noise)
		}
	}
	// Another framing version: only the version is read, and returned.
	var other bytes.Buffer
	WriteHello(&other, Hello{Mux: Version + 1, Wire: 99})
	h, _, err := Handshake(bufio.NewReader(&other))
	if err != nil || h.Mux != Version+1 {
		t.Errorf("another version: %+v, %v", h, err)
	}
}

func TestFramesRoundTrip(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	frames := []struct {
		typ     byte
		ch      uint64
		payload []byte
	}{
		{Open, 1, PutUvarint(3)}, {Data, 1, []byte("jobs")}, {Data, 300, bytes.Repeat([]byte{0}, MaxPayload)},
		{EOF, 1, nil}, {Ping, 0, []byte{1, 2}}, {Exit, 2, []byte("killed")},
	}
	for _, f := range frames {
		if err := w.Write(f.typ, f.ch, f.payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Write(Data, 1, make([]byte, MaxPayload+1)); !errors.Is(err, ErrProtocol) {
		t.Errorf("an oversized frame was written: %v", err)
	}
	if w.Written() != uint64(b.Len()) {
		t.Errorf("Written = %d, wrote %d", w.Written(), b.Len())
	}
	r := NewReader(bufio.NewReader(&b))
	for _, f := range frames {
		typ, ch, p, err := r.Read()
		if err != nil || typ != f.typ || ch != f.ch || !bytes.Equal(p, f.payload) && len(p)+len(f.payload) > 0 {
			t.Fatalf("read %d %d %d bytes, %v; want %d %d %d bytes", typ, ch, len(p), err, f.typ, f.ch, len(f.payload))
		}
	}
	if _, _, _, err := r.Read(); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
	if r.Consumed() != w.Written() {
		t.Errorf("Consumed = %d, Written = %d", r.Consumed(), w.Written())
	}
	if v, err := Uvarint(PutUvarint(1 << 40)); v != 1<<40 || err != nil {
		t.Errorf("Uvarint = %d, %v", v, err)
	}
	if _, err := Uvarint([]byte{0x80}); err == nil {
		t.Error("Uvarint took a truncated number")
	}
	in := []string{"/src", "", "a\x00b\xff"}
	if got, err := Strings(PutStrings(in...), 3); err != nil || len(got) != 3 || got[0] != in[0] || got[1] != in[1] || got[2] != in[2] {
		t.Errorf("Strings = %q, %v", got, err)
	}
	for _, bad := range [][]byte{PutStrings("a", "b"), append(PutStrings("a", "b", "c"), 0), {5, 'a'}} {
		if _, err := Strings(bad, 3); err == nil {
			t.Errorf("Strings(%q, 3) took it", bad)
		}
	}
}

// FuzzRead: no input makes the reader panic or allocate beyond MaxPayload.
func FuzzRead(f *testing.F) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Write(Data, 7, []byte("hello"))
	w.Write(Exit, 7, nil)
	f.Add(b.Bytes())
	f.Add([]byte{Data, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{99})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bufio.NewReader(bytes.NewReader(in)))
		for range 100 {
			_, _, p, err := r.Read()
			if err != nil {
				return
			}
			if len(p) > MaxPayload {
				t.Fatalf("payload of %d bytes", len(p))
			}
		}
	})
}

// A beat never waits behind a write under way (one blocked on a peer
// that stopped reading): the write sends it when it is done, with the
// payload made then.
func TestBeatRidesOnTheWriteUnderWay(t *testing.T) {
	pr, pw := io.Pipe()
	w := NewWriter(pw)
	wrote := make(chan error, 1)
	go func() { wrote <- w.Write(Data, 1, []byte("held up")) }()
	r := NewReader(bufio.NewReader(pr))
	// The write is blocked until the pipe is read. Give it the lock.
	for w.mu.TryLock() {
		w.mu.Unlock()
		runtime.Gosched()
	}
	made := 0
	if err := w.Beat(Ping, func() []byte { made++; return []byte{7} }); err != nil {
		t.Fatal(err)
	}
	typ, ch, payload, err := r.Read()
	if err != nil || typ != Data || ch != 1 || string(payload) != "held up" {
		t.Fatalf("first frame %d %d %q %v", typ, ch, payload, err)
	}
	typ, ch, payload, err = r.Read()
	if err != nil || typ != Ping || ch != 0 || !bytes.Equal(payload, []byte{7}) || made != 1 {
		t.Fatalf("the beat: %d %d %q %v (payload made %d times)", typ, ch, payload, err, made)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}
