package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/progress"
)

// outcome is how a run went: what the exit code, the summary line and
// the JSON report say.
type outcome struct {
	code        int
	src, dst    string
	sum         copier.Summary
	interrupted bool
	dryRun      bool
	deleted     []string // what --delete removed (or would have)
	fatal       string   // why nothing, or not everything, could be attempted
}

// actionLog writes --log FILE: a line when the run starts, one per entry
// acted on (copied, linked, unchanged, skipped, failed), and one at the
// end with the exit code and the summary. Appended to, so that a cron
// job's runs follow one another in one file.
type actionLog struct {
	dry bool // a dry run: the actions are what would be done
	f   *os.File
	w   *bufio.Writer
	err error // the first write error; the copy goes on
}

// openActionLog opens the log file name to append to, for a dry run if
// dry.
func openActionLog(name string, dry bool) (*actionLog, error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &actionLog{dry: dry, f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// start writes the first line: the command line, cmdline, and pcopy's
// version.
func (l *actionLog) start(cmdline []string) {
	quoted := make([]string, len(cmdline))
	for i, a := range cmdline {
		quoted[i] = copier.DisplayPath(a)
	}
	start := "start"
	if l.dry {
		start = "start dry run (nothing is written)"
	}
	l.line(fmt.Sprintf("%s: %s, version %s", start, strings.Join(quoted, " "), version()))
}

// line writes a line saying what, after the time.
func (l *actionLog) line(what string) {
	if l.err == nil {
		_, l.err = fmt.Fprintf(l.w, "%s %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), what)
	}
}

// action is a copier.Options.OnAction.
func (l *actionLog) action(a copier.Action, rel, host string, err error) {
	what := a.String()
	if host != "" {
		what += "@" + host // one word, whatever the path holds
	}
	what += " " + displayRel(rel)
	if l.dry {
		what = "would be " + what
	}
	if err != nil {
		what += ": " + err.Error()
	}
	l.line(what)
}

// close writes the last line and says whether the log is whole.
func (l *actionLog) close(out outcome) error {
	end := fmt.Sprintf("end exit %d", out.code)
	switch {
	case out.fatal != "":
		end += ": " + out.fatal
	case out.src != "" && out.dryRun:
		end += ": " + progress.DryRunSummaryLine(out.sum)
	case out.src != "":
		end += ": " + progress.SummaryLine(out.sum) + notCopied(out.sum)
	}
	l.line(end)
	if err := l.w.Flush(); l.err == nil {
		l.err = err
	}
	if err := l.f.Close(); l.err == nil {
		l.err = err
	}
	return l.err
}

// notCopied is what the summary line adds when DST had no room left: the
// entries not copied, which are not among its errors.
func notCopied(s copier.Summary) string {
	if n := s.NotCopied(); n > 0 {
		return fmt.Sprintf(", %d not copied for lack of room", n)
	}
	return ""
}

// displayRel is rel as messages show it ("." for SRC itself).
func displayRel(rel string) string {
	if rel == "" {
		return "."
	}
	return copier.DisplayPath(rel)
}

// jsonReport is the object --json prints. Its field names are stable:
// scripts parse them (README, "JSON report").
type jsonReport struct {
	Version         string      `json:"version"`
	Src             jsonPath    `json:"src"`
	Dst             jsonPath    `json:"dst"`
	ExitCode        int         `json:"exit_code"`
	Interrupted     bool        `json:"interrupted"`
	DryRun          bool        `json:"dry_run"`
	Error           string      `json:"error,omitempty"`
	Files           int64       `json:"files"`
	Bytes           int64       `json:"bytes"`
	Symlinks        int64       `json:"symlinks"`
	HardLinks       int64       `json:"hard_links"`
	SpecialFiles    int64       `json:"special_files"`
	Dirs            int64       `json:"dirs"`
	Unchanged       int64       `json:"unchanged"`
	Excluded        int64       `json:"excluded"`
	Deleted         int64       `json:"deleted"`
	Reused          int64       `json:"reused"`
	DeletedPaths    []jsonPath  `json:"deleted_paths"`
	Failed          int         `json:"failed"`
	Vanished        int64       `json:"vanished"`
	Changed         int64       `json:"changed"`
	NotCopied       int64       `json:"not_copied"`
	DstFull         []jsonFull  `json:"dst_full"`
	DurationSeconds float64     `json:"duration_seconds"`
	BytesPerSecond  float64     `json:"bytes_per_second"`
	Errors          []jsonError `json:"errors"`
	Warnings        []string    `json:"warnings"`
	Hosts           []jsonHost  `json:"hosts,omitempty"`
}

// jsonHost is what one machine did in a copy on many hosts
// (copier.HostSummary); this one has local true.
type jsonHost struct {
	Name    string `json:"name"`
	Local   bool   `json:"local"`
	Workers int    `json:"workers"`
	Done    int64  `json:"done"`
	Failed  int64  `json:"failed"`
	Bytes   int64  `json:"bytes"`
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Lost    int    `json:"times_lost"`
	WireOut int64  `json:"wire_bytes_out"`
	WireIn  int64  `json:"wire_bytes_in"`
}

// jsonError is a path that failed, and why.
type jsonError struct {
	Path       jsonPath `json:"path"`
	PathBase64 string   `json:"path_base64,omitempty"` // the exact bytes, where path is not UTF-8
	Reason     string   `json:"reason"`
}

// jsonFull is a filesystem of DST that had no room left (copier.FullFs).
type jsonFull struct {
	Mount       jsonPath `json:"mount"`
	OverQuota   bool     `json:"over_quota"`
	Files       int64    `json:"files"`
	NeededBytes int64    `json:"needed_bytes"`
	AtLeast     bool     `json:"at_least"`
	FreeBytes   *int64   `json:"free_bytes"` // null where not known
}

// jsonPath is a path in the report: as it is when it is UTF-8 (JSON
// escapes control characters), else Go-quoted.
type jsonPath string

// MarshalJSON writes p as a JSON string.
func (p jsonPath) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(p)) {
		return json.Marshal(string(p))
	}
	return json.Marshal(copier.DisplayPath(string(p)))
}

// writeJSON writes to w the JSON report of out.
func writeJSON(w io.Writer, out outcome) error {
	s := out.sum
	r := jsonReport{
		Version: version(), Src: jsonPath(out.src), Dst: jsonPath(out.dst),
		ExitCode: out.code, Interrupted: out.interrupted, DryRun: out.dryRun, Error: out.fatal,
		Files: s.Files, Bytes: s.Bytes, Symlinks: s.Symlinks, HardLinks: s.Hardlinks, SpecialFiles: s.Specials,
		Dirs: s.Dirs, Unchanged: s.Unchanged, Excluded: s.Excluded, Deleted: s.Deleted, Reused: s.Reused, Failed: len(s.Errors), Vanished: s.Vanished, Changed: s.Changed,
		NotCopied: s.NotCopied(), DstFull: []jsonFull{},
		DurationSeconds: s.Duration.Seconds(), Errors: []jsonError{}, Warnings: s.Warnings,
	}
	for _, f := range s.Full {
		jf := jsonFull{Mount: jsonPath(f.Mount), OverQuota: f.Quota, Files: f.Files, NeededBytes: f.Bytes, AtLeast: f.AtLeast}
		if f.Free >= 0 {
			jf.FreeBytes = &f.Free
		}
		r.DstFull = append(r.DstFull, jf)
	}
	if secs := s.Duration.Seconds(); secs > 0 && !out.dryRun {
		r.BytesPerSecond = float64(s.Bytes) / secs // a dry run copies nothing: 0
	}
	for _, h := range s.Hosts {
		jh := jsonHost{Name: h.Name, Local: h.Name == "", Workers: h.Workers, Done: h.Done, Failed: h.Failed,
			Bytes: h.Bytes, State: h.State, Reason: h.Reason, Lost: h.Failures, WireOut: h.WireOut, WireIn: h.WireIn}
		if jh.Local {
			jh.Name, _ = os.Hostname()
		}
		r.Hosts = append(r.Hosts, jh)
	}
	r.DeletedPaths = []jsonPath{}
	for _, rel := range out.deleted {
		r.DeletedPaths = append(r.DeletedPaths, jsonPath(rel))
	}
	if r.Warnings == nil {
		r.Warnings = []string{}
	}
	for _, e := range s.Errors {
		je := jsonError{Path: jsonPath(e.Path), Reason: e.Err.Error()}
		if !utf8.ValidString(e.Path) {
			je.PathBase64 = base64.StdEncoding.EncodeToString([]byte(e.Path))
		}
		r.Errors = append(r.Errors, je)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
