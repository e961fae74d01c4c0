// Package mux carries the byte streams of a host's workers over the one
// connection that reaches the host's agent (an ssh session, a Slurm step,
// an mpirun or kubectl exec), and the handshake that opens it.
//
// The agent's output starts with Magic, so that whatever a login shell
// prints first (a banner, a message of the day) is told apart from the
// protocol: Handshake returns it as the host's noise, never parses it.
// After Magic comes the agent's hello, then frames in both directions:
// a type byte, a channel (uvarint), a payload length (uvarint) and the
// payload. Each worker is one channel; channel 0 is the connection's own
// (heartbeats).
package mux

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// Magic starts the agent's output.
const Magic = "\x00\x1bpcopy-agent\x00"

// Version is the version of this framing and of the agent's handshake.
const Version = 1

// MaxPayload bounds a frame's payload: what a malformed or hostile peer
// can make the reader allocate.
const MaxPayload = 1 << 20

// maxNoise bounds what is read before Magic: a connection that prints
// more than this without it does not lead to an agent.
const maxNoise = 64 << 10

// Frame types. Open, Data, EOF, Signal, Ping and Prove go from the
// coordinator to the agent; Opened, Data, Exit, Pong and Proved from the
// agent to the coordinator.
const (
	Open   byte = 1 // start worker number Uvarint(payload) on this channel
	Opened byte = 2 // the worker runs: its pid, a uvarint
	Data   byte = 3 // bytes for the worker's stdin, or from its stdout
	EOF    byte = 4 // close the worker's stdin
	Signal byte = 5 // send the worker a signal: SigTerm or SigKill
	Exit   byte = 6 // the worker exited; payload: why, "" when it succeeded
	Ping   byte = 7 // on channel 0: the coordinator's clock as it was sent and when it last heard from the agent (two Uvarint ns); the agent answers Pong with the payload
	Pong   byte = 8
	Prove  byte = 9  // on channel 0: show that you see SRC and DST as I do (see copier)
	Proved byte = 10 // on channel 0: what the agent found
)

// Signals a coordinator can send a worker.
const (
	SigTerm byte = 15
	SigKill byte = 9
)

// ErrProtocol marks a malformed frame or handshake.
var ErrProtocol = errors.New("agent protocol error")

// Hello is what the agent says of itself first.
type Hello struct {
	Mux      uint64 // this package's Version
	Wire     uint64 // the worker protocol's version (wire.Version)
	Pcopy    string // pcopy's version
	Hostname string
	CPUs     uint64
	Uid      uint64
}

// WriteHello writes Magic and h: the agent's first output.
func WriteHello(w io.Writer, h Hello) error {
	b := []byte(Magic)
	b = binary.AppendUvarint(b, h.Mux)
	b = binary.AppendUvarint(b, h.Wire)
	b = appendStr(b, h.Pcopy)
	b = appendStr(b, h.Hostname)
	b = binary.AppendUvarint(b, h.CPUs)
	b = binary.AppendUvarint(b, h.Uid)
	_, err := w.Write(b)
	return err
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Handshake reads the agent's first output from r: what comes before
// Magic (the host's noise, returned as it is), then its hello. The hello's
// versions are not checked here: the caller says what a mismatch means.
func Handshake(r *bufio.Reader) (h Hello, noise []byte, err error) {
	for {
		b, err := r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return h, noise, err
		}
		noise = append(noise, b)
		if bytes.HasSuffix(noise, []byte(Magic)) {
			noise = noise[:len(noise)-len(Magic)]
			break
		}
		if len(noise) > maxNoise {
			return h, noise, fmt.Errorf("%w: no agent answered (%d bytes of output without its greeting)", ErrProtocol, len(noise))
		}
	}
	fail := func(what string, err error) error {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%w: agent hello: %s: %v", ErrProtocol, what, err)
	}
	if h.Mux, err = binary.ReadUvarint(r); err != nil {
		return h, noise, fail("version", err)
	}
	if h.Mux != Version {
		// What follows may be laid out otherwise: the versions say enough.
		return h, noise, nil
	}
	if h.Wire, err = binary.ReadUvarint(r); err != nil {
		return h, noise, fail("protocol", err)
	}
	if h.Pcopy, err = readStr(r, 256); err != nil {
		return h, noise, fail("pcopy version", err)
	}
	if h.Hostname, err = readStr(r, 1024); err != nil {
		return h, noise, fail("hostname", err)
	}
	if h.CPUs, err = binary.ReadUvarint(r); err != nil {
		return h, noise, fail("CPU count", err)
	}
	if h.Uid, err = binary.ReadUvarint(r); err != nil {
		return h, noise, fail("uid", err)
	}
	return h, noise, nil
}

func readStr(r *bufio.Reader, max uint64) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return "", err
	}
	if n > max {
		return "", fmt.Errorf("%d bytes long", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// Writer writes frames; many goroutines may share one. Each frame is
// flushed as it is written: the workers' own streams are already batched.
type Writer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	hdr  []byte
	n    uint64               // bytes written, frames included
	beat atomic.Pointer[beat] // a heartbeat due (Beat)
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriterSize(w, 64<<10)} }

// Write writes one frame of type typ on channel ch.
func (w *Writer) Write(typ byte, ch uint64, payload []byte) error {
	if len(payload) > MaxPayload {
		return fmt.Errorf("%w: frame of %d bytes", ErrProtocol, len(payload))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.write(typ, ch, payload); err != nil {
		return err
	}
	return w.writeBeat()
}

// A Frame is one frame to write with WriteFrames.
type Frame struct {
	Type    byte
	Ch      uint64
	Payload []byte
}

// WriteFrames writes frames, in order, with one flush at the end.
func (w *Writer) WriteFrames(frames []Frame) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range frames {
		if len(f.Payload) > MaxPayload {
			return fmt.Errorf("%w: frame of %d bytes", ErrProtocol, len(f.Payload))
		}
		w.put(f.Type, f.Ch, f.Payload)
	}
	if err := w.w.Flush(); err != nil {
		return err
	}
	return w.writeBeat()
}

// Beat writes a heartbeat frame of type typ on channel 0, unless another
// write is under way, which may be blocked on a peer that stopped
// reading: then it never waits, and the next write sends the beat when it
// is done. payload is called as the frame is written (a timestamp in it
// says when the frame left).
func (w *Writer) Beat(typ byte, payload func() []byte) error {
	w.beat.Store(&beat{typ: typ, payload: payload})
	if !w.mu.TryLock() {
		return nil
	}
	defer w.mu.Unlock()
	return w.writeBeat()
}

type beat struct {
	typ     byte
	payload func() []byte
}

// writeBeat writes the beat that is due, if one is.
func (w *Writer) writeBeat() error {
	if b := w.beat.Swap(nil); b != nil {
		return w.write(b.typ, 0, b.payload())
	}
	return nil
}

// TryWrite is Write, unless another write is under way, which may be
// blocked on a peer that stopped reading: then it writes nothing. For
// heartbeats, which must never wait behind such a write.
func (w *Writer) TryWrite(typ byte, ch uint64, payload []byte) error {
	if !w.mu.TryLock() {
		return nil
	}
	defer w.mu.Unlock()
	return w.write(typ, ch, payload)
}

func (w *Writer) write(typ byte, ch uint64, payload []byte) error {
	w.put(typ, ch, payload)
	return w.w.Flush()
}

// put buffers a frame.
func (w *Writer) put(typ byte, ch uint64, payload []byte) {
	w.hdr = append(w.hdr[:0], typ)
	w.hdr = binary.AppendUvarint(w.hdr, ch)
	w.hdr = binary.AppendUvarint(w.hdr, uint64(len(payload)))
	w.w.Write(w.hdr)
	w.w.Write(payload)
	w.n += uint64(len(w.hdr) + len(payload))
}

// Written returns the bytes written so far.
func (w *Writer) Written() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// Reader reads frames; one goroutine reads, any may ask Consumed.
type Reader struct {
	r *bufio.Reader
	n atomic.Uint64
}

// NewReader returns a Reader of the frames in r (after the handshake, for
// the coordinator: the same bufio.Reader).
func NewReader(r *bufio.Reader) *Reader { return &Reader{r: r} }

// Read reads the next frame. Its payload is new memory, the reader's to
// keep. At the end of the stream between frames it returns io.EOF.
func (r *Reader) Read() (typ byte, ch uint64, payload []byte, err error) {
	typ, err = r.r.ReadByte()
	if err != nil {
		return 0, 0, nil, err
	}
	if typ < Open || typ > Proved {
		return 0, 0, nil, fmt.Errorf("%w: frame type %d", ErrProtocol, typ)
	}
	if ch, err = binary.ReadUvarint(r.r); err != nil {
		return 0, 0, nil, truncated(err)
	}
	n, err := binary.ReadUvarint(r.r)
	if err != nil {
		return 0, 0, nil, truncated(err)
	}
	if n > MaxPayload {
		return 0, 0, nil, fmt.Errorf("%w: frame of %d bytes", ErrProtocol, n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r.r, payload); err != nil {
		return 0, 0, nil, truncated(err)
	}
	r.n.Add(uint64(1 + uvarintLen(ch) + uvarintLen(n) + int(n)))
	return typ, ch, payload, nil
}

// Consumed returns the bytes read so far in frames.
func (r *Reader) Consumed() uint64 { return r.n.Load() }

func truncated(err error) error {
	if err == io.EOF {
		return fmt.Errorf("%w: truncated frame", ErrProtocol)
	}
	return err
}

func uvarintLen(v uint64) int {
	var b [binary.MaxVarintLen64]byte
	return binary.PutUvarint(b[:], v)
}

// Uvarint decodes a payload that is one uvarint (Open, Opened).
func Uvarint(payload []byte) (uint64, error) {
	v, n := binary.Uvarint(payload)
	if n <= 0 || n != len(payload) {
		return 0, fmt.Errorf("%w: bad number in frame", ErrProtocol)
	}
	return v, nil
}

// PutUvarint encodes vs as a payload.
func PutUvarint(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

// Uvarints decodes a payload of n numbers.
func Uvarints(payload []byte, n int) ([]uint64, error) {
	vs := make([]uint64, n)
	for i := range vs {
		v, m := binary.Uvarint(payload)
		if m <= 0 {
			return nil, fmt.Errorf("%w: bad number in frame", ErrProtocol)
		}
		vs[i], payload = v, payload[m:]
	}
	if len(payload) > 0 {
		return nil, fmt.Errorf("%w: bad number in frame", ErrProtocol)
	}
	return vs, nil
}

// PutStrings encodes strs as a payload.
func PutStrings(strs ...string) []byte {
	var b []byte
	for _, s := range strs {
		b = appendStr(b, s)
	}
	return b
}

// Strings decodes a payload of n strings (PutStrings).
func Strings(payload []byte, n int) ([]string, error) {
	strs := make([]string, n)
	for i := range strs {
		l, k := binary.Uvarint(payload)
		if k <= 0 || l > uint64(len(payload)-k) {
			return nil, fmt.Errorf("%w: bad strings in frame", ErrProtocol)
		}
		strs[i] = string(payload[k : k+int(l)])
		payload = payload[k+int(l):]
	}
	if len(payload) != 0 {
		return nil, fmt.Errorf("%w: bad strings in frame", ErrProtocol)
	}
	return strs, nil
}
