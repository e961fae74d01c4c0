package progress

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rivo/uniseg"
	"github.com/schollz/progressbar/v3"
)

// A frame is what one drawing of the bar's line says. Its fields are in
// the order they appear on the line.
type frame struct {
	percent int    // of the work done; -1 while the totals are still counted
	bytes   string // copied of to copy: "23/809 MB"
	rate    string // "37 MB/s"
	eta     string // "ETA 21s"; empty when there is no estimate
	files   string // done of all: "5632/200000 files"
	hosts   string // in a copy on many hosts, those running: "2/3 hosts"
	errors  string // "3 errors"; empty when there are none
	name    string // the file finished or in flight last
}

// The numbers go, when even without the file name and the bar a line
// cannot hold them all, in this order, least telling first. The
// percentage and the count of errors are never dropped.
var dropOrder = []func(*frame) *string{
	func(f *frame) *string { return &f.hosts },
	func(f *frame) *string { return &f.files },
	func(f *frame) *string { return &f.rate },
	func(f *frame) *string { return &f.bytes },
	func(f *frame) *string { return &f.eta },
}

// minName is the fewest cells worth showing of a file name.
const minName = 8

// layout fits frames to a width. It keeps the bar's length from one frame
// to the next while the width stays, so that the bar's edges stay still as
// the numbers and the names after it change length.
type layout struct {
	width   int // the terminal's, in cells
	reserve int // cells kept for the numbers: the most they took so far
	bar     *progressbar.ProgressBar
	barLen  int // of bar's track, in cells
}

// fit renders f in at most width-1 cells (the last column is left alone:
// a line that fills it wraps on some terminals). The file name is
// shortened or dropped first, then the bar is shortened or dropped, then
// the separators are narrowed, and only then do numbers go, whole.
func (l *layout) fit(f frame, width int) string {
	if width != l.width {
		*l = layout{width: width}
	}
	room := width - 1
	head := ""
	if f.percent >= 0 {
		head = fmt.Sprintf("%3d%%", f.percent)
	}
	sep := " · "
	nums := joinFields(sep, f.bytes, f.rate, f.eta, f.files, f.hosts, f.errors)
	for _, drop := range dropOrder {
		if cells(head)+1+cells(nums) <= room {
			break
		}
		sep = " "
		nums = joinFields(sep, f.bytes, f.rate, f.eta, f.files, f.hosts, f.errors)
		if cells(head)+1+cells(nums) > room {
			*drop(&f) = ""
			nums = joinFields(sep, f.bytes, f.rate, f.eta, f.files, f.hosts, f.errors)
		}
	}
	line := joinFields(" ", head, nums)
	if cells(line) > room {
		return cut(line, room) // a terminal too narrow for any sense
	}

	if f.percent >= 0 {
		l.reserve = max(l.reserve, cells(nums))
		// The percentage and the bar's ends take 6 cells, spaces 2.
		track := min(max(room/6, 8), 40, room-8-l.reserve)
		if track >= 5 {
			line = joinFields(" ", l.render(f.percent, track), nums)
		}
	}
	if left := room - cells(line) - cells(sep); f.name != "" && left >= minName {
		line += sep + keepEnd(f.name, left)
	}
	return line
}

// render draws the percentage, and the bar, with a track of n cells, with
// schollz/progressbar. The percentage is ours: the bar's own is computed
// in floating point and can say 56% of 57/100. The line is ours to lay
// out.
func (l *layout) render(percent, n int) string {
	percent = min(max(percent, 0), 100)
	if l.bar == nil || l.barLen != n || l.bar.IsFinished() && percent < 100 {
		l.barLen = n
		l.bar = progressbar.NewOptions(100,
			progressbar.OptionSetWriter(io.Discard),
			progressbar.OptionSetWidth(n),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(false),
			progressbar.OptionSetRenderBlankState(true),
		)
	}
	l.bar.Set(percent)
	// "\r  45% |████      |  "
	s := l.bar.String()
	if i := strings.Index(s, progressbar.ThemeDefault.BarStart); i >= 0 {
		s = s[i:]
	}
	return fmt.Sprintf("%3d%% %s", percent, strings.TrimRight(s, " "))
}

func joinFields(sep string, fields ...string) string {
	var b strings.Builder
	for _, f := range fields {
		if f == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(f)
	}
	return b.String()
}

// cells is how many terminal cells s takes: two for a wide (East Asian)
// character, none for a combining mark.
func cells(s string) int { return uniseg.StringWidth(s) }

// keepEnd shortens s to at most n cells by dropping whole characters
// (grapheme clusters: a letter with its combining marks) from its start,
// which for a path keeps the file's name.
func keepEnd(s string, n int) string {
	if cells(s) <= n {
		return s
	}
	var clusters []string
	var widths []int
	for state, rest := -1, s; rest != ""; {
		var c string
		var w int
		c, rest, w, state = uniseg.FirstGraphemeClusterInString(rest, state)
		clusters, widths = append(clusters, c), append(widths, w)
	}
	used, i := 1, len(clusters) // "…" takes one cell
	for i > 0 && used+widths[i-1] <= n {
		i--
		used += widths[i]
	}
	return "…" + strings.Join(clusters[i:], "")
}

// cut keeps at most n cells of the start of s.
func cut(s string, n int) string {
	var b strings.Builder
	used := 0
	for state, rest := -1, s; rest != ""; {
		var c string
		var w int
		c, rest, w, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if used+w > n {
			break
		}
		used += w
		b.WriteString(c)
	}
	return b.String()
}

// etaString says how long is left, in a figure a person reads at a glance.
func etaString(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// bytesOf says n of total as "23/809 MB", or with both units when they
// differ: "512 kB/1.2 GB"; more marks a total still being counted:
// "23/809+ MB".
func bytesOf(n, total int64, more bool) string {
	plus := ""
	if more {
		plus = "+"
	}
	a, b := HumanBytes(n), HumanBytes(total)
	an, au, _ := strings.Cut(a, " ")
	bn, bu, _ := strings.Cut(b, " ")
	if au == bu {
		return an + "/" + bn + plus + " " + bu
	}
	return a + "/" + bn + plus + " " + bu
}
