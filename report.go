package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"unicode/utf8"

	"github.com/pcopy/pcopy/copier"
)

// outcome is how a run went: what the exit code, the summary line and
// the JSON report say.
type outcome struct {
	code        int
	src, dst    string
	sum         copier.Summary
	interrupted bool
	fatal       string // why nothing, or not everything, could be attempted
}

// jsonReport is the object --json prints. Its field names are stable:
// scripts parse them (README, "JSON report").
type jsonReport struct {
	Version         string      `json:"version"`
	Src             jsonPath    `json:"src"`
	Dst             jsonPath    `json:"dst"`
	ExitCode        int         `json:"exit_code"`
	Interrupted     bool        `json:"interrupted"`
	Error           string      `json:"error,omitempty"`
	Files           int64       `json:"files"`
	Bytes           int64       `json:"bytes"`
	Symlinks        int64       `json:"symlinks"`
	HardLinks       int64       `json:"hard_links"`
	SpecialFiles    int64       `json:"special_files"`
	Dirs            int64       `json:"dirs"`
	Unchanged       int64       `json:"unchanged"`
	Failed          int         `json:"failed"`
	Vanished        int64       `json:"vanished"`
	Changed         int64       `json:"changed"`
	DurationSeconds float64     `json:"duration_seconds"`
	BytesPerSecond  float64     `json:"bytes_per_second"`
	Errors          []jsonError `json:"errors"`
	Warnings        []string    `json:"warnings"`
}

type jsonError struct {
	Path       jsonPath `json:"path"`
	PathBase64 string   `json:"path_base64,omitempty"` // the exact bytes, where path is not UTF-8
	Reason     string   `json:"reason"`
}

// jsonPath is a path in the report: as it is when it is UTF-8 (JSON
// escapes control characters), else Go-quoted.
type jsonPath string

func (p jsonPath) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(p)) {
		return json.Marshal(string(p))
	}
	return json.Marshal(copier.DisplayPath(string(p)))
}

func writeJSON(w io.Writer, out outcome) error {
	s := out.sum
	r := jsonReport{
		Version: version(), Src: jsonPath(out.src), Dst: jsonPath(out.dst),
		ExitCode: out.code, Interrupted: out.interrupted, Error: out.fatal,
		Files: s.Files, Bytes: s.Bytes, Symlinks: s.Symlinks, HardLinks: s.Hardlinks, SpecialFiles: s.Specials,
		Dirs: s.Dirs, Unchanged: s.Skipped, Failed: len(s.Errors), Vanished: s.Vanished, Changed: s.Changed,
		DurationSeconds: s.Duration.Seconds(), Errors: []jsonError{}, Warnings: s.Warnings,
	}
	if secs := s.Duration.Seconds(); secs > 0 {
		r.BytesPerSecond = float64(s.Bytes) / secs
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
