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
