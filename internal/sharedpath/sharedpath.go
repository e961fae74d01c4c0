// Package sharedpath makes paths that extend one another share their
// bytes. A walk down a chain of directories holds the path of every
// directory it is in: made one by one, a chain 20,000 deep holds 400 MB of
// them (the sum of their lengths); made with a Builder, 80 KB, for the
// path of a directory entered right after its parent's extends the same
// buffer, and the parent's path is the start of it.
package sharedpath

import "unsafe"

// Builder makes paths. Its zero value is ready; it is not safe for
// concurrent use, and must not be copied once used (Join panics).
//
// The bytes of a path handed out are never written again: the buffer is
// only appended to, past every path made from it, and a path that does not
// extend the last one made gets a buffer of its own.
type Builder struct {
	addr *Builder // of itself, to catch a copy (which would write where the original handed out)
	buf  []byte   // the last path made, with room to grow
}

// Join returns dir + "/" + rest (rest alone when dir is ""): rest is a
// name or a slash-separated path below dir.
func (b *Builder) Join(dir, rest string) string {
	if b.addr == nil {
		b.addr = b
	} else if b.addr != b {
		panic("sharedpath: Builder copied by value after use")
	}
	n := len(dir) + 1 + len(rest)
	if dir != "" && len(dir) == len(b.buf) && unsafe.StringData(dir) == unsafe.SliceData(b.buf) && n <= cap(b.buf) {
		b.buf = append(b.buf, '/')
		b.buf = append(b.buf, rest...)
	} else {
		buf := make([]byte, 0, max(2*n, 64))
		if dir != "" {
			buf = append(append(buf, dir...), '/')
		}
		b.buf = append(buf, rest...)
	}
	return unsafe.String(unsafe.SliceData(b.buf), len(b.buf))
}
