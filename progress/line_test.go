package progress

import (
	"fmt"
	"strings"
	"testing"
)

// Names a terminal shows wider or narrower than they are long: 32 Japanese
// characters take 64 cells; "é" written as e and a combining accent takes
// one.
var (
	wideName      = "写真/" + strings.Repeat("日本語のファイル名", 3) + "です.jpg"
	combiningName = "cafe\u0301/" + strings.Repeat("re\u0301sume\u0301-", 6) + "final.txt"
)

func testFrame(name string) frame {
	return frame{percent: 45, bytes: "23.4/809.1 MB", rate: "37.2 MB/s", eta: "ETA 21s",
		files: "5632/200000 files", name: name}
}

// At any width the line fits in one row with a column to spare, and the
// numbers it shows are whole.
func TestLineNeverWraps(t *testing.T) {
	for _, name := range []string{"a.txt", wideName, combiningName, strings.Repeat("x/", 100)} {
		for width := 1; width <= 250; width++ {
			var l layout
			f := testFrame(name)
			f.errors = "3 errors"
			line := l.fit(f, width)
			if n := cells(line); n > max(width-1, 0) {
				t.Fatalf("width %d: %d cells: %q", width, n, line)
			}
			if width < 20 {
				continue // too narrow for sense; fitting is all
			}
			for _, num := range []string{f.bytes, f.rate, f.eta, f.files, f.errors, "45%"} {
				if i := strings.Index(line, num[:3]); i >= 0 && !strings.Contains(line, num) {
					t.Errorf("width %d: %q is cut in %q", width, num, line)
				}
			}
			if !strings.Contains(line, "45%") || !strings.Contains(line, "3 errors") {
				t.Errorf("width %d: percentage or errors dropped: %q", width, line)
			}
		}
	}
}

// What goes first as the width shrinks: the name, shortened from its
// start, then the bar, then the separators narrow, then the least telling
// numbers.
func TestLineDropsNameThenBarThenNumbers(t *testing.T) {
	f := testFrame("photos/2024/holiday/IMG_0001.jpg")
	for _, c := range []struct {
		width int
		want  string
	}{
		{200, " 45% |██████████████                   | 23.4/809.1 MB · 37.2 MB/s · ETA 21s · 5632/200000 files · photos/2024/holiday/IMG_0001.jpg"},
		{110, " 45% |████████          | 23.4/809.1 MB · 37.2 MB/s · ETA 21s · 5632/200000 files · …024/holiday/IMG_0001.jpg"},
		{80, " 45% |█████        | 23.4/809.1 MB · 37.2 MB/s · ETA 21s · 5632/200000 files"},
		{70, " 45% |██    | 23.4/809.1 MB · 37.2 MB/s · ETA 21s · 5632/200000 files"},
		{66, " 45% 23.4/809.1 MB · 37.2 MB/s · ETA 21s · 5632/200000 files"},
		{60, " 45% 23.4/809.1 MB 37.2 MB/s ETA 21s 5632/200000 files"},
		{40, " 45% 23.4/809.1 MB 37.2 MB/s ETA 21s"},
		{30, " 45% 23.4/809.1 MB ETA 21s"},
		{20, " 45% ETA 21s"},
	} {
		var l layout
		if got := l.fit(f, c.width); got != c.want {
			t.Errorf("width %d:\n got %q\nwant %q", c.width, got, c.want)
		}
	}
}

// As names of every length pass, the bar stays where it is and as long
// as it is: its edges do not jitter.
func TestBarStaysStill(t *testing.T) {
	var l layout
	var first string
	for i, name := range []string{"a", wideName, combiningName, "x", strings.Repeat("long/", 40) + "z"} {
		f := testFrame(name)
		f.percent = 10 + 20*i
		f.eta = fmt.Sprintf("ETA %ds", 100-i*20) // numbers change length too
		line := l.fit(f, 100)
		bar := line[:strings.LastIndex(line, "|")+1]
		if first == "" {
			first = bar
		}
		if cells(bar) != cells(first) || strings.Index(bar, "|") != strings.Index(first, "|") {
			t.Errorf("bar moved: %q, first %q", bar, first)
		}
	}
}

// Names are shortened by whole characters: a wide character is never cut
// in half, and an accent stays with its letter.
func TestKeepEnd(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc/def.txt", 20, "abc/def.txt"},
		{"abc/def.txt", 8, "…def.txt"},
		{"日本語.txt", 8, "…語.txt"},
		{"日本語.txt", 7, "…語.txt"},
		{"日本語.txt", 6, "….txt"},
		{"re\u0301sume\u0301.txt", 9, "…sume\u0301.txt"},
	} {
		got := keepEnd(c.in, c.n)
		if got != c.want || cells(got) > c.n {
			t.Errorf("keepEnd(%q, %d) = %q (%d cells), want %q", c.in, c.n, got, cells(got), c.want)
		}
	}
}

// A line drawn on a wider terminal is taken off all the rows a narrower
// one wrapped it over.
func TestEraseAfterNarrowing(t *testing.T) {
	r := &Reporter{shown: 113}
	for _, c := range []struct {
		width int
		want  string
	}{{150, "\r\x1b[K"}, {113, "\r\x1b[K"}, {60, "\r\x1b[1A\x1b[J"}, {40, "\r\x1b[2A\x1b[J"}} {
		if got := r.erase(c.width); got != c.want {
			t.Errorf("erase at %d columns = %q, want %q", c.width, got, c.want)
		}
	}
}
