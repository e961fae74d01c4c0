package filter

import "testing"

func TestFilter(t *testing.T) {
	f, err := New([]string{"*.o", "build/", "/top.txt", "docs/**/*.tmp", "cache"}, []string{"keep.o"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rel   string
		isDir bool
		want  bool
	}{
		{"a.o", false, true},
		{"deep/er/a.o", false, true}, // no slash: the name, at any depth
		{"keep.o", false, false},     // an include takes it back
		{"sub/keep.o", false, false},
		{"build", true, true},
		{"sub/build", true, true},
		{"build", false, false}, // a trailing slash: directories only
		{"top.txt", false, true},
		{"sub/top.txt", false, false}, // a slash anchors to SRC
		{"docs/a.tmp", false, true},   // ** matches no directory too
		{"docs/x/y/a.tmp", false, true},
		{"other/a.tmp", false, false},
		{"cache", true, true},
		{"cache", false, true},
		{"a.go", false, false},
		{"", true, false}, // SRC itself, never
	} {
		if got := f.Excluded(c.rel, c.isDir); got != c.want {
			t.Errorf("excluded(%q, dir %v) = %v, want %v", c.rel, c.isDir, got, c.want)
		}
	}
	for _, bad := range []string{"[", "/", ""} {
		if _, err := New([]string{bad}, nil); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
	if f, _ := New(nil, []string{"*.go"}); f != nil {
		t.Error("includes alone make a filter; they only take back what is excluded")
	}
}
