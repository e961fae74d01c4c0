package copier

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The wire protocol between the coordinator and a worker.
//
// Every message is a frame: a 4-byte big-endian length n, then n bytes of
// which the first is the message type and the rest its payload. Integers in
// payloads are varints; byte strings (paths, error texts) are a uvarint length
// followed by raw bytes, so any file name round-trips exactly. The first frame
// in each direction is a hello carrying a magic string and the protocol
// version; a peer that speaks another version is refused.

const (
	protocolMagic   = "pcopy-wire"
	protocolVersion = 9

	// maxFrame and maxFrameJobs bound the memory a malformed or hostile
	// frame can make the decoder allocate. A batch of jobs with long
	// paths stays far below them.
	maxFrame     = 1 << 24
	maxFrameJobs = 1024
)

// ErrProtocol marks a malformed, truncated or unexpected message.
var ErrProtocol = errors.New("protocol error")

type msgType byte

const (
	msgHello    msgType = 1 // both directions, first frame
	msgBatch    msgType = 2 // coordinator -> worker: jobs to do
	msgProgress msgType = 3 // worker -> coordinator: bytes done so far in one job
	msgResult   msgType = 4 // worker -> coordinator: one job finished
	msgFatal    msgType = 5 // worker -> coordinator: the worker cannot go on
)

// JobKind says what a job copies.
type JobKind byte

const (
	KindFile    JobKind = 1
	KindSymlink JobKind = 2
	// KindPart copies bytes Offset to Offset+Size of file Rel into the
	// existing temporary file Temp in Rel's destination directory: one
	// range of a large file that several workers copy at once.
	KindPart JobKind = 3
	// KindSpecial makes a FIFO, socket or device node (Rdev) like Rel.
	KindSpecial JobKind = 4
	// KindHardlink gives the file already copied to Link (a path below
	// DST, like Rel) the name Rel too: Rel and Link are hard links to one
	// file in SRC.
	KindHardlink JobKind = 5
)

// hello is the first message in each direction. The coordinator fills every
// field; a worker answers with only Version and Pid.
type hello struct {
	Version uint64
	Worker  uint64 // the worker's number, for its name in ps and messages
	Pid     uint64 // the worker's process id (worker -> coordinator)
	SrcRoot string
	DstRoot string
	Update  UpdatePolicy // when a file already in DST is left as it is
	Fsync   bool         // flush each file to disk before it gets its name
	Owner   bool         // give copies their source's owner and group (as far as allowed)
	Deref   bool         // follow symlinks in SRC: jobs name what they point to
	Verify  bool         // read each copy back and compare it with its source by hash
	// LinkDest, if set, is an earlier copy: a file it holds unchanged is
	// hard-linked from there instead of copied (absolute, clean).
	LinkDest string
}

// Job is one entry for a worker to copy. Rel is the slash-separated path
// below both roots ("" for the root itself, when copying a single file).
// Size, Mode and the times are what the coordinator saw when it walked the
// source; the worker applies them to the copy.
type Job struct {
	ID     uint64
	Kind   JobKind
	Rel    string
	Size   int64
	Mode   uint32 // os.FileMode bits
	Mtime  int64  // ns since the Unix epoch
	Atime  int64
	Sparse bool   // allocated less than its size when listed: copy only its data
	Temp   string // KindPart: the temporary file's name
	Offset int64  // KindPart: where the range starts
	Fresh  bool   // its destination directory was made by this copy: nothing to compare with
	Uid    uint32 // the owner and group listed
	Gid    uint32
	Rdev   uint64 // KindSpecial: the device number
	Link   string // KindHardlink: the other name
	// The source's identity and change time when it was listed (0 where
	// the filesystem has none): a file is copied only if it is still that
	// file, and accepted only if its size, mtime and ctime did not change
	// from the listing to the end of the copy. A writer can set an mtime
	// back; no one but the kernel's clock sets a ctime.
	Dev, Ino uint64
	Ctime    int64
}

type batch struct {
	Jobs []Job
}

type progressMsg struct {
	ID    uint64
	Bytes int64 // bytes done so far in this job (cumulative)
}

type result struct {
	ID      uint64
	Bytes   int64
	Err     string // "" when the job succeeded
	Skipped bool   // DST already held the file (see UpdatePolicy): nothing was copied
	Changed bool   // Err: the source changed or went away after it was listed
	Warn    string // something not kept, though the job succeeded (xattrs DST cannot store)
	Omitted bool   // not made, as designed (a device node, without root): Warn says why
	Reused  bool   // hard-linked from hello.LinkDest, not copied
	// Err came from DST's filesystem having no room left, not from the
	// job itself: the coordinator writes nothing more to that filesystem.
	Full fullKind
}

// fullKind says whether a job failed because the filesystem it wrote to
// had no room left for it.
type fullKind byte

const (
	notFull   fullKind = iota
	noSpace            // ENOSPC: the filesystem is full
	overQuota          // EDQUOT: the user's quota on it is used up
)

type fatal struct {
	Err string
}

// encoder builds one frame.
type encoder struct{ buf []byte }

func (e *encoder) begin(t msgType) {
	e.buf = append(e.buf[:0], 0, 0, 0, 0, byte(t))
}
func (e *encoder) uvarint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) varint(v int64)   { e.buf = binary.AppendVarint(e.buf, v) }
func (e *encoder) bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}
func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}
func (e *encoder) frame() []byte {
	binary.BigEndian.PutUint32(e.buf, uint32(len(e.buf)-4))
	return e.buf
}

// decoder reads fields from one frame's payload; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or malformed %s", ErrProtocol, what)
	}
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bool(what string) bool {
	switch v := d.uvarint(what); {
	case d.err != nil:
		return false
	case v > 1:
		d.fail(what)
		return false
	default:
		return v == 1
	}
}

func (d *decoder) str(what string) string {
	n := d.uvarint(what)
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail(what)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) done(what string) error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes after %s", ErrProtocol, len(d.b), what)
	}
	return d.err
}

// conn speaks the protocol over a byte stream. Writes are buffered until
// flush, so a worker can send the results of a whole batch in one write.
type conn struct {
	r   *bufio.Reader
	w   *bufio.Writer
	enc encoder
	buf []byte // frame read buffer, reused
}

func newConn(r io.Reader, w io.Writer) *conn {
	return &conn{r: bufio.NewReaderSize(r, 64<<10), w: bufio.NewWriterSize(w, 64<<10)}
}

func (c *conn) flush() error { return c.w.Flush() }

func (c *conn) put() error {
	_, err := c.w.Write(c.enc.frame())
	return err
}

func (c *conn) writeHello(h hello) error {
	c.enc.begin(msgHello)
	c.enc.str(protocolMagic)
	c.enc.uvarint(h.Version)
	c.enc.uvarint(h.Worker)
	c.enc.uvarint(h.Pid)
	c.enc.str(h.SrcRoot)
	c.enc.str(h.DstRoot)
	c.enc.uvarint(uint64(h.Update))
	c.enc.bool(h.Fsync)
	c.enc.bool(h.Owner)
	c.enc.bool(h.Deref)
	c.enc.bool(h.Verify)
	c.enc.str(h.LinkDest)
	return c.put()
}

func (c *conn) writeBatch(jobs []Job) error {
	c.enc.begin(msgBatch)
	c.enc.uvarint(uint64(len(jobs)))
	for i := range jobs {
		j := &jobs[i]
		c.enc.uvarint(j.ID)
		c.enc.uvarint(uint64(j.Kind))
		c.enc.str(j.Rel)
		c.enc.varint(j.Size)
		c.enc.uvarint(uint64(j.Mode))
		c.enc.varint(j.Mtime)
		c.enc.varint(j.Atime)
		c.enc.bool(j.Sparse)
		c.enc.str(j.Temp)
		c.enc.varint(j.Offset)
		c.enc.bool(j.Fresh)
		c.enc.uvarint(uint64(j.Uid))
		c.enc.uvarint(uint64(j.Gid))
		c.enc.uvarint(j.Rdev)
		c.enc.str(j.Link)
		c.enc.uvarint(j.Dev)
		c.enc.uvarint(j.Ino)
		c.enc.varint(j.Ctime)
	}
	return c.put()
}

func (c *conn) writeProgress(p progressMsg) error {
	c.enc.begin(msgProgress)
	c.enc.uvarint(p.ID)
	c.enc.varint(p.Bytes)
	return c.put()
}

func (c *conn) writeResult(r result) error {
	c.enc.begin(msgResult)
	c.enc.uvarint(r.ID)
	c.enc.varint(r.Bytes)
	c.enc.str(r.Err)
	c.enc.bool(r.Skipped)
	c.enc.bool(r.Changed)
	c.enc.str(r.Warn)
	c.enc.bool(r.Omitted)
	c.enc.bool(r.Reused)
	c.enc.uvarint(uint64(r.Full))
	return c.put()
}

func (c *conn) writeFatal(f fatal) error {
	c.enc.begin(msgFatal)
	c.enc.str(f.Err)
	return c.put()
}

// read returns the next message: a hello, *batch, progressMsg, result or
// fatal. It returns io.EOF only at a clean end of stream (between frames).
// frameReady says whether a whole frame is already buffered, so that
// reading it cannot block.
func (c *conn) frameReady() bool {
	if c.r.Buffered() < 4 {
		return false
	}
	hdr, _ := c.r.Peek(4) // cannot block: the bytes are buffered
	return c.r.Buffered() >= 4+int(binary.BigEndian.Uint32(hdr))
}

func (c *conn) read() (any, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: truncated frame header", ErrProtocol)
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > maxFrame {
		return nil, fmt.Errorf("%w: frame length %d out of range", ErrProtocol, n)
	}
	if cap(c.buf) < int(n) {
		c.buf = make([]byte, n)
	}
	buf := c.buf[:n]
	if _, err := io.ReadFull(c.r, buf); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: truncated frame (want %d bytes)", ErrProtocol, n)
		}
		return nil, err
	}
	return decodeMessage(msgType(buf[0]), buf[1:])
}

func decodeMessage(t msgType, payload []byte) (any, error) {
	d := decoder{b: payload}
	switch t {
	case msgHello:
		if magic := d.str("hello"); d.err == nil && magic != protocolMagic {
			return nil, fmt.Errorf("%w: not a pcopy peer (bad magic)", ErrProtocol)
		}
		h := hello{
			Version:  d.uvarint("hello version"),
			Worker:   d.uvarint("hello worker"),
			Pid:      d.uvarint("hello pid"),
			SrcRoot:  d.str("hello source root"),
			DstRoot:  d.str("hello destination root"),
			Update:   UpdatePolicy(d.uvarint("hello update policy")),
			Fsync:    d.bool("hello fsync flag"),
			Owner:    d.bool("hello owner flag"),
			Deref:    d.bool("hello dereference flag"),
			Verify:   d.bool("hello verify flag"),
			LinkDest: d.str("hello link-dest"),
		}
		return h, d.done("hello")
	case msgBatch:
		n := d.uvarint("batch count")
		// Each job takes at least 14 bytes, so a count larger than that
		// allows is malformed; checking first keeps the allocation bounded.
		if d.err == nil && (n > maxFrameJobs || n > uint64(len(d.b))/14) {
			return nil, fmt.Errorf("%w: batch count %d exceeds frame", ErrProtocol, n)
		}
		b := &batch{Jobs: make([]Job, 0, n)}
		for i := uint64(0); i < n && d.err == nil; i++ {
			b.Jobs = append(b.Jobs, Job{
				ID:     d.uvarint("job id"),
				Kind:   JobKind(d.uvarint("job kind")),
				Rel:    d.str("job path"),
				Size:   d.varint("job size"),
				Mode:   uint32(d.uvarint("job mode")),
				Mtime:  d.varint("job mtime"),
				Atime:  d.varint("job atime"),
				Sparse: d.bool("job sparse flag"),
				Temp:   d.str("job temporary name"),
				Offset: d.varint("job offset"),
				Fresh:  d.bool("job fresh flag"),
				Uid:    uint32(d.uvarint("job uid")),
				Gid:    uint32(d.uvarint("job gid")),
				Rdev:   d.uvarint("job device"),
				Link:   d.str("job link"),
				Dev:    d.uvarint("job source device"),
				Ino:    d.uvarint("job source inode"),
				Ctime:  d.varint("job source ctime"),
			})
		}
		return b, d.done("batch")
	case msgProgress:
		p := progressMsg{ID: d.uvarint("progress id"), Bytes: d.varint("progress bytes")}
		return p, d.done("progress")
	case msgResult:
		r := result{ID: d.uvarint("result id"), Bytes: d.varint("result bytes"), Err: d.str("result error"),
			Skipped: d.bool("result skipped flag"), Changed: d.bool("result changed flag"), Warn: d.str("result warning"),
			Omitted: d.bool("result omitted flag"), Reused: d.bool("result reused flag"), Full: fullKind(d.uvarint("result full kind"))}
		if r.Full > overQuota {
			d.fail("result full kind")
		}
		return r, d.done("result")
	case msgFatal:
		f := fatal{Err: d.str("fatal")}
		return f, d.done("fatal")
	}
	return nil, fmt.Errorf("%w: unknown message type %d", ErrProtocol, t)
}

// readHello reads the first frame and checks it is a hello of our version.
func (c *conn) readHello() (hello, error) {
	m, err := c.read()
	if err != nil {
		if err == io.EOF {
			err = fmt.Errorf("%w: stream ended before hello", ErrProtocol)
		}
		return hello{}, err
	}
	h, ok := m.(hello)
	if !ok {
		return hello{}, fmt.Errorf("%w: expected hello, got %T", ErrProtocol, m)
	}
	if h.Version != protocolVersion {
		return hello{}, fmt.Errorf("%w: peer speaks protocol version %d, this pcopy speaks %d (mixed pcopy versions?)",
			ErrProtocol, h.Version, protocolVersion)
	}
	return h, nil
}
