package main

import (
	"flag"
	"io"
	"os"
	"testing"
)

var updateMan = flag.Bool("update-man", false, "write pcopy.1 from the options (go generate does)")

// pcopy.1, the man page, is made from the same option definitions as
// --help-all: it fails here when an option changed and it was not made
// again (go generate ./...).
func TestManPageIsCurrent(t *testing.T) {
	man, err := newApp(io.Discard, io.Discard, nil).ToManWithSection(1)
	if err != nil {
		t.Fatal(err)
	}
	if *updateMan {
		must(t, os.WriteFile("pcopy.1", []byte(man), 0o644))
		return
	}
	have, err := os.ReadFile("pcopy.1")
	if err != nil || string(have) != man {
		t.Fatalf("pcopy.1 is not the man page the options make (%v): run go generate ./...", err)
	}
}
