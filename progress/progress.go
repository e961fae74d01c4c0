// Package progress shows a copy's progress to the person running it: on a
// terminal, one line that is redrawn in place (percentage, bar, bytes
// copied of those to copy, rate, ETA, files done of all, errors, and the
// file at hand), fitted to the terminal's width in cells; without one,
// nothing or a plain line now and then; and a one-line summary at the end.
//
// A Reporter implements copier.Reporter. The totals come from the copier's
// counting walk, which runs alongside the copy; until it has finished, the
// line shows what has been done and how much has been counted so far, but
// no percentage, so the percentage never runs backwards.
//
// Bytes are counted the way the summary counts them: only those copied.
// Files DST already held (and files linked, reused or failed) move the
// files done and the percentage, as they leave less to do, but not the
// bytes copied or the rate.
package progress

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/pcopy/pcopy/copier"
)

// frameEvery is how often the line is redrawn: often enough to look
// alive, seldom enough to cost nothing and to be read.
const frameEvery = 200 * time.Millisecond

// Reporter renders progress events. The zero value is not usable; see New.
type Reporter struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool // draw the line
	quiet bool // print nothing but errors
	now   func() time.Time
	width func() int // the terminal's, in cells

	start       time.Time
	copied      int64 // bytes copied
	settled     int64 // bytes of the counted total done without a copy
	done        int64 // files finished (copied, unchanged or failed)
	failed      int64 // of those, failed: shown as they happen
	files       int64 // total files, as counted so far
	bytes       int64 // total bytes, as counted so far
	totalsKnown bool
	last        string // the file finished or begun last
	hosts       string // "3 hosts", "2/3 hosts": those running of those given

	byteRate, fileRate meter

	lay      layout
	shown    int       // cells of the line on the screen; 0 when there is none
	lines    []byte    // what Println gathered for linesOut, above the bar
	linesOut io.Writer // stdout
	drawn    time.Time // when flushLines last wrote

	stop    chan struct{} // closes to stop the drawing or the plain lines
	stopped chan struct{}
}

// New returns a Reporter writing to w. With tty it draws its line on w
// (which must then be a terminal); with quiet it prints nothing at all,
// errors being the caller's to print.
func New(w io.Writer, tty, quiet bool) *Reporter {
	r := newReporter(w, tty, quiet, time.Now, termWidth(w))
	if r.tty {
		r.loop(frameEvery, true)
	}
	return r
}

func newReporter(w io.Writer, tty, quiet bool, now func() time.Time, width func() int) *Reporter {
	start := now()
	return &Reporter{w: w, tty: tty && !quiet, quiet: quiet, now: now, width: width, start: start,
		byteRate: newMeter(start), fileRate: newMeter(start)}
}

// termWidth asks the terminal w is for its width each time: a window can
// be resized at any moment, and SIGWINCH only hurries the redraw.
func termWidth(w io.Writer) func() int {
	return func() int {
		if f, ok := w.(*os.File); ok {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
				return cols
			}
		}
		return 80
	}
}

// loop calls tick every interval, and with watchResize at once when the
// terminal is resized, until Finish.
func (r *Reporter) loop(interval time.Duration, watchResize bool) {
	r.stop, r.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(r.stopped)
		var resize <-chan os.Signal
		if watchResize {
			var unwatch func()
			resize, unwatch = resized()
			defer unwatch()
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
			case <-resize:
			}
			r.mu.Lock()
			r.tick()
			r.mu.Unlock()
		}
	}()
}

// tick samples the rates and shows where the copy is.
func (r *Reporter) tick() {
	now := r.now()
	r.byteRate.sample(now, r.copied)
	r.fileRate.sample(now, r.done)
	if r.tty {
		if len(r.lines) > 0 {
			r.flushLines()
			return
		}
		r.draw(r.lay.fit(r.frame(), r.width()))
		return
	}
	fmt.Fprintf(r.w, "pcopy: progress: %s\n", r.progressLine())
}

// WantsTotals says whether the reporter has a use for the counting walk.
func (r *Reporter) WantsTotals() bool { return r.tty || r.stop != nil }

// PrintEvery has a Reporter without a terminal (as in cron and CI logs)
// print a plain progress line every interval until Finish, so that long
// copies show life. Call it before the copy starts.
func (r *Reporter) PrintEvery(interval time.Duration) {
	if r.tty || r.quiet || interval <= 0 {
		return
	}
	r.loop(interval, false)
}

// progressLine says how far the copy is, in words: percentage and ETA
// once the totals are known.
func (r *Reporter) progressLine() string {
	rate := HumanBytes(int64(r.byteRate.rate()))
	if !r.totalsKnown {
		return fmt.Sprintf("%s, %d files done (counting: %d files, %s so far), %s/s",
			HumanBytes(r.copied), r.done, r.files, HumanBytes(r.bytes), rate)
	}
	eta := "-"
	if d, ok := r.eta(); ok {
		eta = etaString(d)
	}
	line := fmt.Sprintf("%d%%, %s of %s, %d/%d files, %s/s, ETA %s",
		r.percent(), HumanBytes(r.copied), HumanBytes(r.toCopy()), r.done, r.files, rate, eta)
	if r.hosts != "" {
		line += ", " + r.hosts
	}
	if r.failed > 0 {
		line += fmt.Sprintf(", %s so far", plural(r.failed, "error"))
	}
	return line
}

// toCopy is how many bytes there are to copy: those counted less those
// that needed no copy.
func (r *Reporter) toCopy() int64 { return max(r.bytes-r.settled, r.copied) }

// percent is how much of the work is done, by bytes (or by files when
// there are no bytes). It says 100 only when everything is.
func (r *Reporter) percent() int {
	doneBytes := r.copied + r.settled
	var p float64
	switch {
	case r.bytes > 0:
		p = float64(doneBytes) / float64(r.bytes)
	case r.files > 0:
		p = float64(r.done) / float64(r.files)
	default:
		p = 1
	}
	pct := min(int(p*100), 100)
	if pct == 100 && (doneBytes < r.bytes || r.done < r.files) {
		pct = 99
	}
	return pct
}

// eta estimates the time left from what is left and the smoothed rates:
// of bytes, for large files, and of files, for a tree of many small ones;
// whichever takes longer.
func (r *Reporter) eta() (time.Duration, bool) {
	if !r.totalsKnown {
		return 0, false
	}
	var secs float64
	known := true
	if left := r.bytes - r.copied - r.settled; left > 0 {
		if rate := r.byteRate.rate(); rate > 0 {
			secs = float64(left) / rate
		} else {
			known = false
		}
	}
	if left := r.files - r.done; left > 0 {
		if rate := r.fileRate.rate(); rate > 0 {
			secs, known = max(secs, float64(left)/rate), true
		}
	}
	if !known || math.IsInf(secs, 0) {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// frame is what the line says now.
func (r *Reporter) frame() frame {
	f := frame{
		percent: -1,
		bytes:   bytesOf(r.copied, r.toCopy(), !r.totalsKnown),
		rate:    HumanBytes(int64(r.byteRate.rate())) + "/s",
		files:   fmt.Sprintf("%d/%d files", r.done, max(r.files, r.done)),
		hosts:   r.hosts,
		name:    copier.DisplayPath(r.last),
	}
	if !r.totalsKnown {
		f.files = fmt.Sprintf("%d/%d+ files", r.done, max(r.files, r.done))
	} else {
		f.percent = r.percent()
		if d, ok := r.eta(); ok {
			f.eta = "ETA " + etaString(d)
		}
	}
	if r.failed > 0 {
		f.errors = plural(r.failed, "error")
	}
	return f
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// draw replaces the line on the screen with line.
func (r *Reporter) draw(line string) {
	io.WriteString(r.w, r.erase(r.width())+line)
	r.shown = cells(line)
}

// erase is what takes the line off the screen and leaves the cursor at
// its start. A line drawn on a wider terminal than the one now was
// rewrapped over several rows by the resize (as tmux, VTE, iTerm2, kitty
// and Windows Terminal do), the cursor on the last: go up to the first,
// then clear to the end of the screen, or fragments of it would stay.
func (r *Reporter) erase(width int) string {
	rows := 1
	if width > 0 && r.shown > width {
		rows = (r.shown + width - 1) / width
	}
	if rows == 1 {
		return "\r\x1b[K"
	}
	return fmt.Sprintf("\r\x1b[%dA\x1b[J", rows-1)
}

// Totals implements copier.Reporter.
func (r *Reporter) Totals(files, bytes int64, final bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files, r.bytes, r.totalsKnown = files, bytes, final
}

// Bytes implements copier.Reporter.
func (r *Reporter) Bytes(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.copied += n
}

// Settled implements copier.Reporter.
func (r *Reporter) Settled(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.settled += n
}

// FileDone implements copier.Reporter.
func (r *Reporter) FileDone(rel string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	if err != nil {
		r.failed++
	}
	r.last = rel
}

// Working implements copier.WorkingReporter: the line names a large file
// while it is being copied.
func (r *Reporter) Working(rel string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = rel
}

// Hosts implements copier.HostReporter: the line says how many hosts run
// workers, of how many were given.
func (r *Reporter) Hosts(running, given int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hosts = fmt.Sprintf("%d/%d hosts", running, given)
	if running == given {
		r.hosts = plural(int64(given), "host")
	}
}

// Println writes line to w (stdout, for -v). When w is the terminal the
// bar is drawn on (sameScreen), lines are gathered and written together,
// at most 20 times a second (and at each frame): the bar is taken off,
// the lines written, and the bar drawn again below them, so that the
// listing scrolls above a bar that stays in sight.
func (r *Reporter) Println(w io.Writer, sameScreen bool, line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.tty || !sameScreen {
		io.WriteString(w, line+"\n")
		return
	}
	r.lines, r.linesOut = append(r.lines, line+"\n"...), w
	if r.now().Sub(r.drawn) >= time.Second/20 {
		r.flushLines()
	}
}

// flushLines writes the lines Println gathered above the bar, and draws
// the bar below them.
func (r *Reporter) flushLines() {
	if len(r.lines) == 0 {
		return
	}
	if r.shown > 0 {
		io.WriteString(r.w, r.erase(r.width()))
		r.shown = 0
	}
	r.linesOut.Write(r.lines)
	r.lines = r.lines[:0]
	r.drawn = r.now()
	r.draw(r.lay.fit(r.frame(), r.width()))
}

// Warn implements copier.Reporter. It shows nothing: warnings are printed
// together at the end, before the errors and the summary line (see
// Summary.Warnings), so that they neither break the line nor scatter in a
// log.
func (r *Reporter) Warn(msg string) {}

// Finish stops the drawing and takes the line off the screen, leaving it
// for the summary. Before that it draws the final frame, which agrees
// with the summary: bytes and files as counted there, and the rate over
// the copy's whole duration, elapsed. complete says whether everything
// was copied.
func (r *Reporter) Finish(complete bool, elapsed time.Duration) {
	if r.stop != nil {
		close(r.stop)
		<-r.stopped
		r.stop = nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushLines()
	if !r.tty || r.shown == 0 {
		return // a copy over before the first frame shows only its summary
	}
	f := r.frame()
	f.eta = ""
	if secs := elapsed.Seconds(); secs > 0 {
		f.rate = HumanBytes(int64(float64(r.copied)/secs)) + "/s"
	}
	if complete {
		// The copy's own walk has the last word on what there was.
		f.percent = 100
		f.bytes = bytesOf(r.copied, r.copied, false)
		f.files = fmt.Sprintf("%d/%d files", r.done, r.done)
	}
	width := r.width()
	r.draw(r.lay.fit(f, width))
	io.WriteString(r.w, r.erase(width))
	r.shown = 0
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
	unchanged := fmt.Sprintf("%d unchanged", s.Unchanged)
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
