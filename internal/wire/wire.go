// Package wire is the protocol between pcopy's coordinator and its
// workers: the messages, their encoding, and a connection that reads and
// writes them.
//
// Every message is a frame: a 4-byte big-endian length n, then n bytes of
// which the first is the message type and the rest its payload. Integers in
// payloads are varints; byte strings (paths, error texts) are a uvarint length
// followed by raw bytes, so any file name round-trips exactly. The first frame
// in each direction is a hello carrying a magic string and the protocol
// version; a peer that speaks another version is refused.
package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	helloMagic = "pcopy-wire"
	// Version is the protocol's; peers of different versions refuse each
	// other.
	Version = 11

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

// Kind says what a job copies.
type Kind byte

const (
	KindFile    Kind = 1
	KindSymlink Kind = 2
	// KindPart copies bytes Offset to Offset+Size of file Rel into the
	// existing temporary file Temp in Rel's destination directory: one
	// range of a large file that several workers copy at once.
	KindPart Kind = 3
	// KindSpecial makes a FIFO, socket or device node (Rdev) like Rel.
	KindSpecial Kind = 4
	// KindHardlink gives the file already copied to Link (a path below
	// DST, like Rel) the name Rel too: Rel and Link are hard links to one
	// file in SRC.
	KindHardlink Kind = 5
)

// Hello is the first message in each direction. The coordinator fills every
// field; a worker answers with only Version and Pid.
type Hello struct {
	Version  uint64
	Worker   uint64 // the worker's number, for its name in ps and messages
	Pid      uint64 // the worker's process id (worker -> coordinator)
	SrcRoot  string
	DstRoot  string
	Settings Settings
}

// Settings are how each file is copied: made once from the copy's options,
// sent to each worker in its hello, and held by value by every part that
// acts on them. A new option that changes how a file is copied is a field
// here, and nowhere else but where it is set and where it is acted on.
type Settings struct {
	Update Update // when a file already in DST is left as it is
	Fsync  bool   // flush each file to disk before it gets its name
	Owner  bool   // give copies their source's owner and group (as far as allowed)
	Deref  bool   // follow symlinks in SRC: jobs name what they point to
	Verify bool   // read each copy back and compare it with its source by hash
	// LinkDest, if set, is an earlier copy: a file it holds unchanged is
	// hard-linked from there instead of copied (absolute, clean).
	LinkDest string
	// DryRun: decide what to do with each job, reading what it takes, but
	// write nothing; the result says what the job would have done.
	DryRun bool
	// ModifyWindow: modification times this close (in ns) count as the
	// same, for DST filesystems that keep coarse times (FAT's 2 s).
	ModifyWindow int64
	// Keep says which entries DST already has are left as they are,
	// whatever Update says.
	Keep Keep
	// BwLimit, when positive, is the bytes a second this machine's
	// workers copy together; BwWord is where the word they share is
	// opened (see package bwlimit); "" where it comes otherwise.
	BwLimit int64
	BwWord  string
	// BackupDir, if set, is where what DST has at a name is moved (by
	// rename, under the same path) before a job replaces it (absolute,
	// clean, on DST's filesystem).
	BackupDir string
}

// Keep says which entries DST already has are left alone.
type Keep uint8

const (
	KeepNone     Keep = iota // as Update says
	KeepExisting             // whatever is at the name (--ignore-existing)
	KeepNewer                // a file whose mtime is later than its source's (--update)
)

// Update says when a file already in DST is left as it is.
type Update uint8

const (
	// UpdateChanged leaves a file whose copy has the same size and
	// modification time (to the nanosecond), as rsync does.
	UpdateChanged Update = iota
	// UpdateChecksum leaves a file whose copy has the same size and
	// content, whatever its time, and then gives it the source's time.
	UpdateChecksum
	// UpdateAll copies every file.
	UpdateAll
)

// Job is one entry for a worker to copy. Rel is the slash-separated path
// below both roots ("" for the root itself, when copying a single file).
// Size, Mode and the times are what the coordinator saw when it walked the
// source; the worker applies them to the copy.
type Job struct {
	ID     uint64
	Kind   Kind
	Rel    string
	Size   int64
	Mode   uint32 // os.FileMode bits
	Mtime  int64  // ns since the Unix epoch
	Atime  int64
	Sparse bool   // allocated less than its size when listed: copy only its data
	Temp   string // KindPart: the temporary file's name
	Offset int64  // KindPart: where the range starts
	Fresh  bool   // nothing in DST to compare with: its directory, or for a KindHardlink the file linked to, is new
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

// Batch is jobs for a worker, coordinator to worker. A worker does them in
// order and answers each with a Result.
type Batch struct {
	Jobs []Job
}

// Progress tells the coordinator how far a worker is in a long job.
type Progress struct {
	ID    uint64
	Bytes int64 // bytes done so far in this job (cumulative)
}

// Result is the end of one job, worker to coordinator.
type Result struct {
	ID        uint64
	Bytes     int64
	Err       string // "" when the job succeeded
	Unchanged bool   // DST already held the file (see Update): nothing was copied
	Changed   bool   // Err: the source changed or went away after it was listed
	Warn      string // something not kept, though the job succeeded (xattrs DST cannot store)
	Omitted   bool   // not made, as designed (a device node, without root): Warn says why
	Reused    bool   // hard-linked from Settings.LinkDest, not copied
	// Errno is the system error under Err, if there is one (0 if not),
	// so that the coordinator can tell a full disk or a denied permission
	// from other failures, and a library user can match it with
	// errors.Is. Worker and coordinator run on one system, so the number
	// means the same to both.
	Errno uint64
}

// Fatal is a worker's last word: why it cannot go on.
type Fatal struct {
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

// Conn speaks the protocol over a byte stream. Writes are buffered until
// Flush, so a worker can send the results of a whole batch in one write.
type Conn struct {
	r   *bufio.Reader
	w   *bufio.Writer
	enc encoder
	buf []byte // frame read buffer, reused
}

func NewConn(r io.Reader, w io.Writer) *Conn {
	return &Conn{r: bufio.NewReaderSize(r, 64<<10), w: bufio.NewWriterSize(w, 64<<10)}
}

// Flush sends what the Write methods buffered.
func (c *Conn) Flush() error { return c.w.Flush() }

func (c *Conn) put() error {
	_, err := c.w.Write(c.enc.frame())
	return err
}

// WriteHello buffers a hello.
func (c *Conn) WriteHello(h Hello) error {
	c.enc.begin(msgHello)
	c.enc.str(helloMagic)
	c.enc.uvarint(h.Version)
	c.enc.uvarint(h.Worker)
	c.enc.uvarint(h.Pid)
	c.enc.str(h.SrcRoot)
	c.enc.str(h.DstRoot)
	s := &h.Settings
	c.enc.uvarint(uint64(s.Update))
	c.enc.bool(s.Fsync)
	c.enc.bool(s.Owner)
	c.enc.bool(s.Deref)
	c.enc.bool(s.Verify)
	c.enc.str(s.LinkDest)
	c.enc.bool(s.DryRun)
	c.enc.uvarint(uint64(s.ModifyWindow))
	c.enc.uvarint(uint64(s.Keep))
	c.enc.uvarint(uint64(s.BwLimit))
	c.enc.str(s.BwWord)
	c.enc.str(s.BackupDir)
	return c.put()
}

// WriteBatch buffers a batch of jobs.
func (c *Conn) WriteBatch(jobs []Job) error {
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

// WriteProgress buffers a progress report.
func (c *Conn) WriteProgress(p Progress) error {
	c.enc.begin(msgProgress)
	c.enc.uvarint(p.ID)
	c.enc.varint(p.Bytes)
	return c.put()
}

// WriteResult buffers a job's result.
func (c *Conn) WriteResult(r Result) error {
	c.enc.begin(msgResult)
	c.enc.uvarint(r.ID)
	c.enc.varint(r.Bytes)
	c.enc.str(r.Err)
	c.enc.bool(r.Unchanged)
	c.enc.bool(r.Changed)
	c.enc.str(r.Warn)
	c.enc.bool(r.Omitted)
	c.enc.bool(r.Reused)
	c.enc.uvarint(r.Errno)
	return c.put()
}

// WriteFatal buffers a worker's fatal error.
func (c *Conn) WriteFatal(f Fatal) error {
	c.enc.begin(msgFatal)
	c.enc.str(f.Err)
	return c.put()
}

// FrameReady says whether a whole frame is already buffered, so that
// reading it cannot block.
func (c *Conn) FrameReady() bool {
	if c.r.Buffered() < 4 {
		return false
	}
	hdr, _ := c.r.Peek(4) // cannot block: the bytes are buffered
	return c.r.Buffered() >= 4+int(binary.BigEndian.Uint32(hdr))
}

// Read returns the next message: a Hello, *Batch, Progress, Result or
// Fatal. It returns io.EOF only at a clean end of stream (between frames).
func (c *Conn) Read() (any, error) {
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
	return decode(msgType(buf[0]), buf[1:])
}

// decodeHello decodes a hello's fields and checks them.
func decodeHello(d *decoder) (any, error) {
	if magic := d.str("hello"); d.err == nil && magic != helloMagic {
		return nil, fmt.Errorf("%w: not a pcopy peer (bad magic)", ErrProtocol)
	}
	h := Hello{
		Version: d.uvarint("hello version"),
		Worker:  d.uvarint("hello worker"),
		Pid:     d.uvarint("hello pid"),
		SrcRoot: d.str("hello source root"),
		DstRoot: d.str("hello destination root"),
		Settings: Settings{
			Update:       Update(d.uvarint("hello update policy")),
			Fsync:        d.bool("hello fsync flag"),
			Owner:        d.bool("hello owner flag"),
			Deref:        d.bool("hello dereference flag"),
			Verify:       d.bool("hello verify flag"),
			LinkDest:     d.str("hello link-dest"),
			DryRun:       d.bool("hello dry-run flag"),
			ModifyWindow: int64(d.uvarint("hello modify window")),
			Keep:         Keep(d.uvarint("hello keep policy")),
			BwLimit:      int64(d.uvarint("hello bandwidth limit")),
			BwWord:       d.str("hello bandwidth word"),
			BackupDir:    d.str("hello backup directory"),
		},
	}
	if h.Settings.Update > UpdateAll {
		d.fail("hello update policy")
	}
	if h.Settings.ModifyWindow < 0 {
		d.fail("hello modify window")
	}
	if h.Settings.BwLimit < 0 {
		d.fail("hello bandwidth limit")
	}
	if h.Settings.Keep > KeepNewer {
		d.fail("hello keep policy")
	}
	return h, d.done("hello")
}

func decode(t msgType, payload []byte) (any, error) {
	d := decoder{b: payload}
	switch t {
	case msgHello:
		return decodeHello(&d)
	case msgBatch:
		n := d.uvarint("batch count")
		// Each job takes at least 14 bytes, so a count larger than that
		// allows is malformed; checking first keeps the allocation bounded.
		if d.err == nil && (n > maxFrameJobs || n > uint64(len(d.b))/14) {
			return nil, fmt.Errorf("%w: batch count %d exceeds frame", ErrProtocol, n)
		}
		b := &Batch{Jobs: make([]Job, 0, n)}
		for i := uint64(0); i < n && d.err == nil; i++ {
			b.Jobs = append(b.Jobs, Job{
				ID:     d.uvarint("job id"),
				Kind:   Kind(d.uvarint("job kind")),
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
		p := Progress{ID: d.uvarint("progress id"), Bytes: d.varint("progress bytes")}
		return p, d.done("progress")
	case msgResult:
		r := Result{ID: d.uvarint("result id"), Bytes: d.varint("result bytes"), Err: d.str("result error"),
			Unchanged: d.bool("result unchanged flag"), Changed: d.bool("result changed flag"), Warn: d.str("result warning"),
			Omitted: d.bool("result omitted flag"), Reused: d.bool("result reused flag"), Errno: d.uvarint("result errno")}
		return r, d.done("result")
	case msgFatal:
		f := Fatal{Err: d.str("fatal")}
		return f, d.done("fatal")
	}
	return nil, fmt.Errorf("%w: unknown message type %d", ErrProtocol, t)
}

// ReadHello reads the first frame and checks it is a hello of our version.
func (c *Conn) ReadHello() (Hello, error) {
	m, err := c.Read()
	if err != nil {
		if err == io.EOF {
			err = fmt.Errorf("%w: stream ended before hello", ErrProtocol)
		}
		return Hello{}, err
	}
	h, ok := m.(Hello)
	if !ok {
		return Hello{}, fmt.Errorf("%w: expected hello, got %T", ErrProtocol, m)
	}
	if h.Version != Version {
		return Hello{}, fmt.Errorf("%w: peer speaks protocol version %d, this pcopy speaks %d (mixed pcopy versions?)",
			ErrProtocol, h.Version, Version)
	}
	return h, nil
}
