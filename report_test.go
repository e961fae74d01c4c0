package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pcopy/pcopy/copier"
)

// A path that is not UTF-8 cannot be a JSON string as it is: the report
// gives it Go-quoted, and its exact bytes in base64.
func TestJSONReportOddPaths(t *testing.T) {
	out := outcome{code: 1, src: "src", dst: "dst", sum: copier.Summary{Duration: time.Second, Errors: []*copier.FileError{
		{Path: "bad\xffname", Err: errors.New("open source: permission denied")},
		{Path: "new\nline", Err: errors.New("x")},
	}}}
	var buf bytes.Buffer
	if err := writeJSON(&buf, out); err != nil {
		t.Fatal(err)
	}
	var r struct {
		Errors []map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(buf.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, &buf)
	}
	want := []map[string]string{
		{"path": `"bad\xffname"`, "path_base64": "YmFk/25hbWU=", "reason": "open source: permission denied"},
		{"path": "new\nline", "reason": "x"},
	}
	if len(r.Errors) != 2 || r.Errors[0]["path"] != want[0]["path"] || r.Errors[0]["path_base64"] != want[0]["path_base64"] ||
		r.Errors[1]["path"] != want[1]["path"] || r.Errors[1]["path_base64"] != "" {
		t.Errorf("errors = %q, want %q", r.Errors, want)
	}
}

// A full DST is one error and a hint: "at least" when the copy stopped
// before counting everything, the quota said apart, no free space where
// it is not known, and how much more to free where it is.
func TestFullMessage(t *testing.T) {
	for _, c := range []struct {
		f         copier.FullFs
		msg, hint string
	}{
		{copier.FullFs{Mount: "/mnt", Files: 3, Bytes: 5_000_000, Free: 1_000_000},
			"DST's filesystem, mounted at /mnt, is full: 3 files not copied: 5.0 MB needed, 1.0 MB free now",
			"free at least 4.0 MB more on it, or choose another DST, then run the same command again to finish the copy"},
		{copier.FullFs{Mount: "/mnt", Files: 3, Bytes: 5_000_000, AtLeast: true, Free: -1},
			"DST's filesystem, mounted at /mnt, is full: at least 3 files not copied: at least 5.0 MB needed",
			"free space on it, or choose another DST, then run the same command again to finish the copy"},
		{copier.FullFs{Mount: "/home", Quota: true, Files: 1, Bytes: 10, Free: 2_000_000_000},
			"DST's filesystem, mounted at /home, is over quota: 1 files not copied: 10 B needed, 2.0 GB free on it now, but not within the quota",
			"free space within the quota, or have it raised, or choose another DST, then run the same command again to finish the copy"},
	} {
		if msg, hint := fullMessage(&c.f); msg != c.msg || hint != c.hint {
			t.Errorf("fullMessage(%+v) =\n%q\n%q\nwant\n%q\n%q", c.f, msg, hint, c.msg, c.hint)
		}
	}
}
