// Package progress shows a copy's progress to the person running it: a
// schollz/progressbar bar on a terminal (percentage, bytes done and total,
// rate, ETA, files done and total), nothing while copying otherwise, and a
// one-line summary at the end.
//
// A Reporter implements copier.Reporter. The totals come from the copier's
// counting walk, which runs alongside the copy; until it has finished, the
// bar shows what has been copied and how much has been counted so far, but
// no percentage, so the percentage never runs backwards.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/pcopy/pcopy/copier"
)

// Reporter renders progress events. The zero value is not usable; see New.
type Reporter struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool // draw a bar
	quiet bool // print nothing but errors

	bar         *progressbar.ProgressBar
	copied      int64 // bytes
	done        int64 // files and symlinks finished (copied or failed)
	failed      int64 // of those, failed: shown as they happen
	files       int64 // total files and symlinks, as counted so far
	bytes       int64 // total bytes, as counted so far
	totalsKnown bool
	last        string // the file finished last

	start    time.Time
	stopLine chan struct{} // closes to stop the plain progress lines
	lineDone chan struct{}
}

// New returns a Reporter writing to w. With tty it draws a bar on w (which
// must then be a terminal); with quiet it prints nothing at all, errors
// being the caller's to print.
func New(w io.Writer, tty, quiet bool) *Reporter {
	r := &Reporter{w: w, tty: tty && !quiet, quiet: quiet, start: time.Now()}
	if r.tty {
		r.bar = r.newBar(-1)
	}
	return r
}

// WantsTotals says whether the reporter has a use for the counting walk.
func (r *Reporter) WantsTotals() bool { return r.tty || r.stopLine != nil }

// PrintEvery has a Reporter without a bar (stderr not a terminal, as in
// cron and CI logs) print a plain progress line every interval until
// Finish, so that long copies show life. Call it before the copy starts.
func (r *Reporter) PrintEvery(interval time.Duration) {
	if r.tty || r.quiet || interval <= 0 {
		return
	}
	r.stopLine, r.lineDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(r.lineDone)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-r.stopLine:
				return
			case <-t.C:
				r.mu.Lock()
				fmt.Fprintf(r.w, "pcopy: progress: %s\n", r.progressLine(time.Since(r.start)))
				r.mu.Unlock()
			}
		}
	}()
}

// progressLine says how far the copy is, in words: percentage and ETA
// once the totals are known.
func (r *Reporter) progressLine(elapsed time.Duration) string {
	rate := float64(r.copied) / max(elapsed.Seconds(), 1e-3)
	if !r.totalsKnown {
		return fmt.Sprintf("%s, %d files done (counting: %d files, %s so far), %s/s",
			HumanBytes(r.copied), r.done, r.files, HumanBytes(r.bytes), HumanBytes(int64(rate)))
	}
	pct := 100.0
	if r.bytes > 0 {
		pct = 100 * float64(r.copied) / float64(r.bytes)
	}
	eta := "-"
	if rate > 0 && r.bytes >= r.copied {
		eta = time.Duration(float64(r.bytes-r.copied) / rate * float64(time.Second)).Round(100 * time.Millisecond).String()
	}
	line := fmt.Sprintf("%.0f%%, %s of %s, %d/%d files, %s/s, ETA %s",
		pct, HumanBytes(r.copied), HumanBytes(r.bytes), r.done, r.files, HumanBytes(int64(rate)), eta)
	if r.failed > 0 {
		line += fmt.Sprintf(", %d errors so far", r.failed)
	}
	return line
}

func (r *Reporter) newBar(max int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(r.w),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		// No background redraw goroutine: it would write to w alongside
		// Warn. Progress events redraw the bar often enough.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetDescription(r.description()),
	)
}

func (r *Reporter) description() string {
	d := fmt.Sprintf("%d files (counting: %d, %s)", r.done, r.files, HumanBytes(r.bytes))
	if r.totalsKnown {
		d = fmt.Sprintf("%d/%d files", r.done, r.files)
	}
	if r.failed > 0 {
		// A failing copy must not look healthy until the end.
		d += fmt.Sprintf(" · %d errors", r.failed)
	}
	if r.last != "" {
		d += " " + shorten(r.last, 32)
	}
	return d
}

// shorten keeps the end of a path, which names the file, within n runes.
func shorten(p string, n int) string {
	p = copier.DisplayPath(p)
	if r := []rune(p); len(r) > n {
		return "…" + string(r[len(r)-n+1:])
	}
	return p
}

// Totals implements copier.Reporter. When the count is final the counting
// bar is replaced by one with a known size.
func (r *Reporter) Totals(files, bytes int64, final bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files, r.bytes = files, bytes
	if r.bar == nil {
		r.totalsKnown = final
		return
	}
	if final && !r.totalsKnown {
		r.totalsKnown = true
		r.bar.Clear()
		// A bar needs a positive size; a tree of empty files has none.
		r.bar = r.newBar(max(bytes, 1))
		r.bar.Set64(r.copied)
		return
	}
	r.bar.Describe(r.description())
}

// Bytes implements copier.Reporter.
func (r *Reporter) Bytes(n int64) {
	if n == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.copied += n
	if r.bar != nil {
		r.bar.Add64(n)
	}
}

// Settled implements copier.Reporter.
func (r *Reporter) Settled(n int64) { r.Bytes(n) }

// FileDone implements copier.Reporter.
func (r *Reporter) FileDone(rel string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	if err != nil {
		r.failed++
	}
	r.last = rel
	if r.bar != nil {
		r.bar.Describe(r.description())
	}
}

// Working implements copier.WorkingReporter: the bar names a large file
// while it is being copied.
func (r *Reporter) Working(rel string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = rel
	if r.bar != nil {
		r.bar.Describe(r.description())
	}
}

// Warn implements copier.Reporter. It shows nothing: warnings are printed
// together at the end, before the errors and the summary line (see
// Summary.Warnings), so that they neither break the bar nor scatter in a log.
func (r *Reporter) Warn(msg string) {}

// Finish completes and removes the bar, leaving the line free for the
// summary. complete says whether everything was copied, so the bar may
// show 100% for a moment.
func (r *Reporter) Finish(complete bool) {
	if r.stopLine != nil {
		close(r.stopLine)
		<-r.lineDone
		r.stopLine = nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bar == nil {
		return
	}
	if complete && r.totalsKnown {
		r.bar.Describe(r.description())
		r.bar.Finish()
		fmt.Fprintln(r.w)
	} else {
		r.bar.Clear()
	}
	r.bar = nil
}

// SummaryLine is the one line that ends every run that was not quiet.
func SummaryLine(s copier.Summary) string { return summaryLine(s, true) }

// DryRunSummaryLine is SummaryLine for a dry run, which copied nothing: no
// rate.
func DryRunSummaryLine(s copier.Summary) string { return summaryLine(s, false) }

func summaryLine(s copier.Summary, withRate bool) string {
	rate := ""
	if secs := s.Duration.Seconds(); withRate && secs > 0 {
		rate = " (" + HumanBytes(int64(float64(s.Bytes)/secs)) + "/s)"
	} else if withRate {
		rate = " (-)"
	}
	links := ""
	if s.Hardlinks > 0 {
		links = fmt.Sprintf(", %d hard links", s.Hardlinks)
	}
	if s.Specials > 0 {
		links += fmt.Sprintf(", %d special files", s.Specials)
	}
	unchanged := fmt.Sprintf("%d unchanged", s.Skipped)
	if s.Excluded > 0 {
		unchanged += fmt.Sprintf(", %d excluded", s.Excluded)
	}
	if s.Reused > 0 {
		unchanged += fmt.Sprintf(", %d reused from --link-dest", s.Reused)
	}
	if s.Deleted > 0 {
		unchanged += fmt.Sprintf(", %d deleted", s.Deleted)
	}
	line := fmt.Sprintf("%d files, %d symlinks%s, %d dirs, %s, %s in %s%s, %d errors",
		s.Files, s.Symlinks, links, s.Dirs, unchanged, HumanBytes(s.Bytes), s.Duration.Round(time.Millisecond), rate, len(s.Errors))
	var why []string
	if s.Vanished > 0 {
		why = append(why, fmt.Sprintf("%d vanished from SRC", s.Vanished))
	}
	if s.Changed > 0 {
		why = append(why, fmt.Sprintf("%d changed while copied", s.Changed))
	}
	if len(why) > 0 {
		line += " (" + strings.Join(why, ", ") + ")"
	}
	return line
}

// HumanBytes formats n with SI units, like the bar does.
func HumanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
