package wire

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"reflect"
	"testing"
)

// oddNames are file names that break line- or text-based protocols.
var oddNames = []string{
	"plain",
	"new\nline",
	"tab\there",
	"bad\xff\xfeutf8",
	"-leading-dash",
	"--",
	" spaced ",
	"ünïcödé",
	"quote\"and'\\",
	"dir/sub/deep",
}

func TestProtocolRoundTrip(t *testing.T) {
	var jobs []Job
	for i, name := range oddNames {
		jobs = append(jobs, Job{ID: uint64(i + 1), Kind: KindFile, Rel: name, Size: int64(i) << 40,
			Mode: 0o4755, Mtime: -1234567890123456789, Atime: 1<<62 + 7, Fresh: i%2 == 0, Uid: 1<<32 - 1, Gid: uint32(i)})
	}
	jobs = append(jobs, Job{ID: 1 << 63, Kind: KindSymlink, Rel: string(bytes.Repeat([]byte("x"), 5000))},
		Job{ID: 5, Kind: KindSpecial, Rel: "dev/null", Mode: uint32(fs.ModeDevice | fs.ModeCharDevice | 0o666), Rdev: 1<<8 | 3},
		Job{ID: 6, Kind: KindHardlink, Rel: "b\nlink", Link: "a/first\xff"})
	msgs := []any{
		Hello{Version: Version, Worker: 3, Pid: 4242, SrcRoot: "/src\n", DstRoot: "/d\xffst",
			Settings: Settings{Update: UpdateChecksum, Fsync: true, Owner: true, Deref: true, Verify: true, LinkDest: "/snap\n", DryRun: true}},
		&Batch{Jobs: jobs},
		Progress{ID: 9, Bytes: 1 << 35},
		Result{ID: 9, Bytes: 123, Err: "open source: permission denied"},
		Result{ID: 10},
		Result{ID: 11, Unchanged: true},
		Result{ID: 12, Err: "changed", Changed: true},
		Result{ID: 13, Warn: "DST does not store extended attributes"},
		Result{ID: 14, Warn: "character device (making device nodes needs root)", Omitted: true},
		Result{ID: 15, Reused: true},
		Result{ID: 16, Bytes: 1 << 20, Err: "copy data: write: no space left on device", Errno: 28},
		Result{ID: 17, Err: "create temporary file: disk quota exceeded", Errno: 122},
		Fatal{Err: "boom"},
	}

	var buf bytes.Buffer
	c := NewConn(&buf, &buf)
	for _, m := range msgs {
		var err error
		switch m := m.(type) {
		case Hello:
			err = c.WriteHello(m)
		case *Batch:
			err = c.WriteBatch(m.Jobs)
		case Progress:
			err = c.WriteProgress(m)
		case Result:
			err = c.WriteResult(m)
		case Fatal:
			err = c.WriteFatal(m)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	for i, want := range msgs {
		got, err := c.Read()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("message %d:\n got %#v\nwant %#v", i, got, want)
		}
	}
	if _, err := c.Read(); err != io.EOF {
		t.Errorf("after last message: err = %v, want io.EOF", err)
	}
}

func TestProtocolRejects(t *testing.T) {
	valid := func(write func(c *Conn)) []byte {
		var buf bytes.Buffer
		c := NewConn(nil, &buf)
		write(c)
		c.Flush()
		return buf.Bytes()
	}
	res := valid(func(c *Conn) { c.WriteResult(Result{ID: 1, Bytes: 2, Err: "x"}) })
	unknownUpdate := valid(func(c *Conn) { c.WriteHello(Hello{Version: Version, Settings: Settings{Update: UpdateAll + 1}}) })
	tests := []struct {
		name string
		in   []byte
	}{
		{"truncated header", res[:2]},
		{"truncated body", res[:len(res)-1]},
		{"zero length", []byte{0, 0, 0, 0}},
		{"huge length", []byte{0xff, 0xff, 0xff, 0xff, 4}},
		{"unknown type", []byte{0, 0, 0, 1, 99}},
		{"trailing bytes", append(append([]byte{0, 0, 0, byte(len(res) - 4 + 1)}, res[4:]...), 0)},
		{"batch count beyond frame", []byte{0, 0, 0, 6, byte(msgBatch), 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{"string beyond frame", []byte{0, 0, 0, 4, byte(msgFatal), 0x7f, 'a', 'b'}},
		{"unknown update policy", unknownUpdate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConn(bytes.NewReader(tt.in), io.Discard)
			_, err := c.Read()
			if !errors.Is(err, ErrProtocol) {
				t.Errorf("err = %v, want a protocol error", err)
			}
		})
	}
}

func TestHelloVersionMismatch(t *testing.T) {
	var buf bytes.Buffer
	c := NewConn(&buf, &buf)
	c.WriteHello(Hello{Version: Version + 1, SrcRoot: "a", DstRoot: "b"})
	c.Flush()
	if _, err := c.ReadHello(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("readHello of another version: err = %v, want protocol error", err)
	}
	buf.Reset()
	c.WriteResult(Result{ID: 1})
	c.Flush()
	if _, err := c.ReadHello(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("readHello of a result: err = %v, want protocol error", err)
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder: it must return messages
// or an error, never panic, hang or allocate without bound.
func FuzzDecode(f *testing.F) {
	var buf bytes.Buffer
	c := NewConn(nil, &buf)
	c.WriteHello(Hello{Version: Version, Worker: 1, SrcRoot: "/a", DstRoot: "/b"})
	c.WriteBatch([]Job{{ID: 1, Kind: KindFile, Rel: "x\ny", Size: 5}, {ID: 2, Kind: KindSymlink, Rel: "l"}})
	c.WriteProgress(Progress{ID: 1, Bytes: 3})
	c.WriteResult(Result{ID: 1, Bytes: 5, Err: "e"})
	c.WriteResult(Result{ID: 2, Err: "no space", Errno: 28})
	c.WriteFatal(Fatal{Err: "f"})
	c.Flush()
	f.Add(buf.Bytes())
	f.Add([]byte{0, 0, 0, 1, 1})
	f.Add([]byte{0, 0, 0, 3, 2, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := NewConn(bytes.NewReader(in), io.Discard)
		for range 1000 {
			m, err := c.Read()
			if err != nil {
				return
			}
			if m == nil {
				t.Fatal("nil message without error")
			}
		}
	})
}
