// Command pcopy copies a directory tree with parallel worker processes.
//
// This file is the whole command: flags, messages and exit codes. The
// copying is package copier; the bar is package progress.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/progress"
)

// Exit codes, documented in README.md.
const (
	exitOK          = 0
	exitFailed      = 1 // some entries could not be copied, or pcopy could not run
	exitUsage       = 2 // wrong usage or a refused request: nothing was written
	exitInterrupted = 130
	exitTerminated  = 143
	exitHangup      = 129
)

const helpText = `Copies the contents of directory SRC into directory DST, creating DST
(and its parents) if missing, with N worker processes. Running the same
command again updates the same tree: DST never gets a SRC subdirectory,
and files DST already has with the same size and modification time are
left alone (--checksum compares content instead, --force copies all).
When SRC is a file, it is copied to DST, or into DST when DST is an
existing directory or ends with a slash. Without DST, SRC is copied
beside itself, to "SRC copy" (a file: "NAME copy.EXT").

The copy keeps what cp -a keeps: file contents (holes too), empty
directories, symlinks (as links, never followed unless -L), hard links,
FIFOs, sockets and device nodes, permission bits, owners (as root),
extended attributes and ACLs, and modification and access times to the
nanosecond. A file gets its final name only when complete (an unnamed or
temporary file is linked or renamed into place), so an interrupted copy
never leaves a partial file under a final name.

Options go before SRC and DST. Use -- before a SRC that starts with "-".

EXAMPLES:
   pcopy photos /mnt/backup/photos      contents of photos/ into /mnt/backup/photos/
   pcopy -j 8 src dst                   use 8 worker processes
   pcopy notes.txt /mnt/backup/         copy one file into a directory
   pcopy photos                         copy to "photos copy" beside it
   pcopy --delete --exclude '*.tmp' src mirror
                                        make mirror an exact copy of src, *.tmp aside
   pcopy -n --delete src mirror         show what that would copy and delete
   pcopy --link-dest ../day1 home /backup/day2
                                        a snapshot: unchanged files linked from day1
   pcopy --json -q data /srv/data       a JSON report on stdout, for scripts
   pcopy -q data /srv/data || alert     scripts: only errors are printed; check the exit code

EXIT CODES:
   0 everything copied; 1 some entries failed (each is listed; when DST is
   full, what did not fit is counted); 2 usage error or refused request
   (nothing written); 130/143 interrupted by SIGINT/SIGTERM`

func main() {
	if os.Getenv(copier.WorkerEnv) != "" {
		if err := copier.RunWorkerProcess(); err != nil {
			fmt.Fprintf(os.Stderr, "pcopy: worker: %v\n", err)
			os.Exit(exitFailed)
		}
		os.Exit(exitOK)
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	// SIGHUP (the terminal closed) stops the copy as SIGTERM does.
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		sig := <-sigs
		cancel(interrupted{sig})
		sig = <-sigs // a second signal ends pcopy at once
		copier.KillWorkers()
		if term.IsTerminal(int(os.Stderr.Fd())) {
			fmt.Fprintln(os.Stderr) // off the bar's line
		}
		printError(os.Stderr, "interrupted again by "+signalName(sig)+": stopped at once",
			"run the same command again to finish the copy; it removes the temporary files left")
		os.Exit(signalExitCode(sig))
	}()
	os.Exit(run(ctx, os.Args, os.Stdout, os.Stderr))
}

// interrupted is the cause of the context's cancellation on a signal.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string { return "interrupted by " + signalName(i.sig) }

func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return "SIGINT"
}

func signalExitCode(sig os.Signal) int {
	switch sig {
	case syscall.SIGTERM:
		return exitTerminated
	case syscall.SIGHUP:
		return exitHangup
	}
	return exitInterrupted
}

// workersCap bounds -j whatever the machine.
const workersCap = 256

// maxWorkers is the most workers -j may ask for: 4 per CPU (more wait on
// each other for the cores and the disk), and workersCap at most.
func maxWorkers() int { return min(4*runtime.NumCPU(), workersCap) }

// wantsJSON says whether the command line (or PCOPY_JSON) asks for the JSON
// report, for a command line the flag parser could not take.
func wantsJSON(args []string) bool {
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if a == "--json" || a == "--json=true" || a == "-json" {
			return true
		}
	}
	v, err := strconv.ParseBool(os.Getenv("PCOPY_JSON"))
	return err == nil && v
}

// splitShortValues turns -j8 into -j 8, as getopt takes it, before the
// flag parser, which would look for an option named "j8".
func splitShortValues(args []string) []string {
	out := make([]string, 0, len(args)+1)
	for i, a := range args {
		if i > 0 && len(a) > 2 && a[0] == '-' && a[1] == 'j' && strings.Trim(a[2:], "0123456789") == "" {
			out = append(out, "-j", a[2:])
			continue
		}
		out = append(out, a)
	}
	return out
}

// asTyped returns the command-line argument that named the option name
// (as the flag parser reports it, without its dashes), as the user typed
// it: --hepl, not -hepl.
func asTyped(args []string, name string) string {
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); n == name && strings.HasPrefix(a, "-") {
			return a
		}
	}
	return "-" + name
}

// usageHint is the hint for a usage error: for an unknown flag, the flag
// meant, if one is close to it (-v: what it is not).
func usageHint(err error, flags []cli.Flag) string {
	const generic = "run 'pcopy --help' for usage"
	if strings.Contains(err.Error(), "for flag -progress-interval") {
		return "a duration with its unit: 30s, 5m, 1h"
	}
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	if !ok {
		return generic
	}
	if name == "v" {
		return "-v is not --version, and pcopy has no verbose listing yet: --log FILE records every entry"
	}
	name = strings.TrimLeft(name, "-")
	best, bestDist := "", 3 // no further than two edits
	for _, f := range append(flags, cli.HelpFlag, cli.VersionFlag) {
		for _, n := range f.Names() {
			if d := editDistance(name, n); d < bestDist && len(n) > 1 {
				best, bestDist = n, d
			}
		}
	}
	if best == "" {
		return generic
	}
	return "did you mean --" + best + "? (run 'pcopy --help' for usage)"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// usageError is wrong usage of the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var code int
	// --version has no -v: cp -v and rsync -v users mean "verbose", and a
	// version printed instead of a copy would fail them silently.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version", DisableDefaultText: true}
	app := &cli.App{
		Name: "pcopy",
		// -qn, -Lq: short options bundle as in every Unix tool.
		UseShortOptionHandling: true,
		Usage:                  "copy a directory tree with parallel worker processes",
		UsageText:              "pcopy [options] SRC [DST]",
		Description:            helpText,
		HideHelpCommand:        true,
		// A comma is part of a pattern ("*.{c,h}", "a,b.txt"), not a
		// separator: repeat the flag instead.
		DisableSliceFlagSeparator: true,
		Version:                   version(),
		Writer:                    stdout,
		ErrWriter:                 stderr,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "workers", Aliases: []string{"j"}, Value: runtime.NumCPU(),
				Usage: "number of worker processes", DefaultText: "number of CPUs"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors"},
			&cli.StringFlag{Name: "log", Usage: "append to `FILE` a line for each entry copied, linked, left " +
				"unchanged, skipped or failed, with the time, and one when the run starts and ends"},
			&cli.DurationFlag{Name: "progress-interval", Usage: "when stderr is not a terminal, print a plain " +
				"progress line every `INTERVAL` (like 30s), so long copies show life in logs; 0: never"},
			&cli.BoolFlag{Name: "json", Usage: "at the end, print a JSON report on stdout (counts, errors, " +
				"duration; see README for its fields); messages stay on stderr"},
			&cli.BoolFlag{Name: "checksum", Aliases: []string{"c"}, Usage: "leave a file already in DST alone when its " +
				"content is the same (read both), not when its size and modification time are"},
			&cli.BoolFlag{Name: "force", Usage: "copy every file, even those DST already holds"},
			&cli.BoolFlag{Name: "dereference", Aliases: []string{"L"}, Usage: "follow symlinks in SRC: copy what they " +
				"point to instead of the links (a link to nothing, or round in a loop, is reported)"},
			&cli.BoolFlag{Name: "no-owner", Usage: "leave copies owned by whoever runs pcopy; otherwise they get " +
				"their source's owner and group (as root; others keep the group where it is theirs)"},
			&cli.BoolFlag{Name: "verify", Usage: "read each copied file back and compare it with its source by hash " +
				"(XXH3); a copy that differs is an error and never gets its name"},
			&cli.StringFlag{Name: "link-dest", Usage: "hard-link from `DIR`, an earlier copy (relative to DST, as in " +
				"rsync), each file it holds unchanged, instead of copying it: daily snapshots cost only what changed"},
			&cli.BoolFlag{Name: "delete", Usage: "make DST a mirror: once everything is copied without an error, " +
				"remove what DST has and SRC lacks (never outside DST; what --exclude leaves out is kept)"},
			&cli.BoolFlag{Name: "delete-unrelated", Usage: "with --delete, mirror SRC into a DST that has entries " +
				"but none of SRC's names (refused otherwise: pcopy copies SRC's contents, not SRC, into DST)"},
			&cli.IntFlag{Name: "max-delete", Usage: "with --delete, delete at most `N` entries; the rest is " +
				"reported (exit 1) and left"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "write nothing: list on stdout what would be " +
				"copied and deleted, and end with the summary the copy would have"},
			&cli.StringSliceFlag{Name: "exclude", Usage: "leave out entries matching `PATTERN` (repeatable): * ? [a-z] " +
				"within a name, ** across directories; with a slash it matches the path from SRC; a trailing slash: " +
				"directories only. A directory left out is not entered"},
			&cli.StringSliceFlag{Name: "include", Usage: "copy entries matching `PATTERN` even if an --exclude matches " +
				"them (repeatable)"},
			&cli.StringFlag{Name: "exclude-from", Usage: "read --exclude patterns from `FILE`, one a line (# comments; " +
				"!PATTERN is an --include)"},
			&cli.BoolFlag{Name: "fsync", Usage: "flush each file and directory to disk before going on, " +
				"so that a copy that completed survives a power loss (slower)"},
			&cli.StringFlag{Name: "split-size", Value: "0", Usage: "copy files of at least `SIZE` (e.g. 512M, 2G) " +
				"in parts by several workers at once; for network filesystems, where one stream is slow " +
				"(on local disks it is slower); 0: never"},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run maps errors to exit codes, below
		Action: func(c *cli.Context) error {
			code = copyCommand(ctx, c, args, stdout, stderr)
			return nil
		},
	}
	for _, f := range app.Flags {
		setEnvVar(f)
	}
	if err := app.Run(splitShortValues(args)); err != nil {
		msg := err.Error()
		if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
			msg = "unknown option " + asTyped(args, name)
		}
		printError(stderr, msg, usageHint(err, app.Flags))
		if wantsJSON(args) {
			// Scripts parse stdout: the report comes even so.
			writeJSON(stdout, outcome{code: exitUsage, fatal: msg})
		}
		return exitUsage
	}
	return code
}

func copyCommand(ctx context.Context, c *cli.Context, cmdline []string, stdout, stderr io.Writer) int {
	var log *actionLog
	if name := c.String("log"); name != "" {
		var err error
		if log, err = openActionLog(name, c.Bool("dry-run")); err != nil {
			printError(stderr, "--log: "+err.Error(), "")
			return exitUsage
		}
		quoted := make([]string, len(cmdline))
		for i, a := range cmdline {
			quoted[i] = copier.DisplayPath(a)
		}
		start := "start"
		if c.Bool("dry-run") {
			start = "start dry run (nothing is written)"
		}
		log.line(fmt.Sprintf("%s: %s, version %s", start, strings.Join(quoted, " "), version()))
	}
	out := runCopy(ctx, c, stdout, stderr, log)
	if log != nil {
		if err := log.close(out); err != nil {
			printError(stderr, "--log: "+err.Error(), "the log is incomplete")
			out.code = max(out.code, exitFailed)
		}
	}
	if c.Bool("json") {
		if err := writeJSON(stdout, out); err != nil {
			printError(stderr, "--json: "+err.Error(), "")
			return max(out.code, exitFailed)
		}
	}
	return out.code
}

// runCopy does the copy the command line asks for, printing messages
// on stderr, and says how it went.
func runCopy(ctx context.Context, c *cli.Context, stdout, stderr io.Writer, log *actionLog) outcome {
	args := c.Args().Slice()
	if len(args) == 0 {
		printError(stderr, "expected SRC [DST]", "usage: pcopy [options] SRC [DST]; run 'pcopy --help' for more")
		return outcome{code: exitUsage, fatal: "expected SRC [DST]"}
	}
	if len(args) == 1 {
		// A SRC that does not exist is said first, before where it
		// would have gone (pcopy has no subcommands: "pcopy help" names
		// a SRC called help).
		if _, err := os.Lstat(args[0]); errors.Is(err, fs.ErrNotExist) {
			hint := ""
			if args[0] == "help" {
				hint = "pcopy has no subcommands: run 'pcopy --help'"
			}
			msg := fmt.Sprintf("source %s does not exist", copier.DisplayPath(args[0]))
			printError(stderr, msg, hint)
			return outcome{code: exitUsage, fatal: msg, src: args[0]}
		}
		// No DST: a sibling of SRC, like the classic copier's "[copy]".
		dst, err := siblingCopy(args[0])
		if err != nil {
			printError(stderr, err.Error(), "name DST: pcopy SRC DST")
			return outcome{code: exitUsage, fatal: err.Error(), src: args[0]}
		}
		args = append(args, dst)
		if !c.Bool("quiet") {
			fmt.Fprintf(stderr, "pcopy: no DST given: copying into %s\n", copier.DisplayPath(dst))
		}
	}
	fail := func(code int, msg, hint string) outcome {
		printError(stderr, msg, hint)
		out := outcome{code: code, fatal: msg}
		if len(args) == 2 {
			out.src, out.dst = args[0], args[1]
		}
		return out
	}
	if len(args) != 2 {
		hint := "usage: pcopy [options] SRC [DST]"
		for _, a := range args[min(len(args), 2):] {
			if strings.HasPrefix(a, "-") {
				hint = "options go before SRC and DST"
			}
		}
		return fail(exitUsage, fmt.Sprintf("expected SRC and DST, got %d arguments", len(args)), hint)
	}
	workers := c.Int("workers")
	if workers < 1 {
		return fail(exitUsage, fmt.Sprintf("--workers must be at least 1, not %d", workers), "")
	}
	if limit := maxWorkers(); workers > limit {
		return fail(exitUsage, fmt.Sprintf("--workers %d is more than this machine can use: at most %d (4 per CPU, %d CPUs, and never more than %d)",
			workers, limit, runtime.NumCPU(), workersCap), "each worker is a process; beyond a few per CPU they only wait for each other")
	}
	update := copier.UpdateChanged
	switch {
	case c.Bool("force") && c.Bool("checksum"):
		return fail(exitUsage, "--force and --checksum cannot go together", "--force copies everything; --checksum compares content")
	case c.Bool("force"):
		update = copier.UpdateAll
	case c.Bool("checksum"):
		update = copier.UpdateChecksum
	}
	splitSize, err := parseSize(c.String("split-size"))
	if err != nil {
		return fail(exitUsage, "--split-size: "+err.Error(), "a number of bytes with an optional K, M, G or T suffix, like 512M")
	}
	exclude, include := c.StringSlice("exclude"), c.StringSlice("include")
	if name := c.String("exclude-from"); name != "" {
		ex, in, err := readPatterns(name)
		if err != nil {
			return fail(exitUsage, "--exclude-from: "+err.Error(), "")
		}
		exclude, include = append(exclude, ex...), append(include, in...)
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(exitFailed, "cannot find the pcopy binary to start workers: "+err.Error(), "")
	}

	quiet := c.Bool("quiet")
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	rep := progress.New(stderr, tty, quiet)
	rep.PrintEvery(c.Duration("progress-interval"))
	dryRun := c.Bool("dry-run")
	var onAction func(copier.Action, string, error)
	if log != nil {
		onAction = log.action
	}
	var deleted []string // listed at the end, as what --delete did matters
	if c.Bool("delete") {
		next := onAction
		onAction = func(a copier.Action, rel string, err error) {
			if a == copier.Deleted {
				deleted = append(deleted, rel)
			}
			if next != nil {
				next(a, rel, err)
			}
		}
	}
	if dryRun && !c.Bool("json") {
		logAction := onAction
		onAction = func(a copier.Action, rel string, err error) {
			if logAction != nil {
				logAction(a, rel, err)
			}
			if a == copier.Copied || a == copier.Deleted {
				verb := map[copier.Action]string{copier.Copied: "copy", copier.Deleted: "delete"}[a]
				fmt.Fprintf(stdout, "would %s %s\n", verb, displayRel(rel))
			}
		}
	}
	sum, err := copier.Copy(ctx, copier.Options{
		OnAction:        onAction,
		Src:             args[0],
		Dst:             args[1],
		Workers:         workers,
		Spawn:           copier.Exec(exe, os.Args[0]),
		Reporter:        rep,
		CountTotals:     rep.WantsTotals(),
		SplitSize:       splitSize,
		Update:          update,
		Fsync:           c.Bool("fsync"),
		NoOwner:         c.Bool("no-owner"),
		Dereference:     c.Bool("dereference"),
		Delete:          c.Bool("delete"),
		DeleteUnrelated: c.Bool("delete-unrelated"),
		MaxDelete:       c.Int("max-delete"),
		Verify:          c.Bool("verify"),
		LinkDest:        c.String("link-dest"),
		DryRun:          dryRun,
		Exclude:         exclude,
		Include:         include,
	})
	rep.Finish(err == nil, sum.Duration)

	var refused *copier.RefusedError
	if errors.As(err, &refused) {
		return fail(exitUsage, refused.Msg, refused.Hint)
	}
	out := outcome{src: args[0], dst: args[1], sum: sum, deleted: deleted}
	if !quiet && !dryRun {
		for _, rel := range deleted {
			fmt.Fprintf(stderr, "pcopy: deleted %s\n", displayRel(rel))
		}
	}
	if !quiet {
		for _, w := range sum.Warnings {
			fmt.Fprintf(stderr, "pcopy: warning: %s\n", w)
		}
	}
	for _, fe := range sum.Errors {
		printError(stderr, fe.Error(), "")
	}
	for _, f := range sum.Full {
		msg, hint := fullMessage(f)
		printError(stderr, msg, hint)
	}
	var intr interrupted
	if errors.As(err, &intr) {
		printError(stderr, fmt.Sprintf("%s after copying %d files (%s); temporary files were removed",
			intr.Error(), sum.Files, progress.HumanBytes(sum.Bytes)), "run the same command again to finish the copy")
		out.code, out.interrupted = signalExitCode(intr.sig), true
		return out
	}
	if !quiet {
		prefix := ""
		if dryRun {
			prefix = "dry run, nothing written: "
		}
		line := progress.SummaryLine(sum)
		if dryRun {
			line = progress.DryRunSummaryLine(sum)
		}
		fmt.Fprintf(stderr, "pcopy: %s%s%s\n", prefix, line, notCopied(sum))
	}
	out.dryRun = dryRun
	switch {
	case err == nil:
		out.code = exitOK
	case errors.Is(err, copier.ErrIncomplete):
		out.code = exitFailed
	default:
		printError(stderr, err.Error(), "")
		out.code, out.fatal = exitFailed, err.Error()
	}
	return out
}

// setEnvVar lets the environment variable PCOPY_NAME (NAME the flag's
// long name in capitals, "-" as "_") set flag f: for scripts and cron
// jobs. The command line wins.
func setEnvVar(f cli.Flag) {
	name := "PCOPY_" + strings.ToUpper(strings.ReplaceAll(f.Names()[0], "-", "_"))
	switch f := f.(type) {
	case *cli.BoolFlag:
		f.EnvVars = []string{name}
	case *cli.IntFlag:
		f.EnvVars = []string{name}
	case *cli.StringFlag:
		f.EnvVars = []string{name}
	case *cli.StringSliceFlag:
		f.EnvVars = []string{name}
	case *cli.DurationFlag:
		f.EnvVars = []string{name}
	}
}

// buildVersion, when set at build time (go build -ldflags
// "-X main.buildVersion=1.2.3"), is the version pcopy reports.
var buildVersion string

// version is pcopy's version: buildVersion, the module version it was
// built as, or the commit of a build from a checkout, as --version and
// --json say.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	if buildVersion != "" {
		v = buildVersion
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+changes"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		v = "devel-" + rev[:min(len(rev), 12)] + modified
	}
	if v == "" {
		v = "(devel)"
	}
	return v + " (" + info.GoVersion + ")"
}

// readPatterns reads an --exclude-from file: a pattern a line, blank
// lines and lines starting with # ignored, !PATTERN an include.
func readPatterns(name string) (exclude, include []string, err error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, nil, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case strings.TrimSpace(line) == "", strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "!"):
			include = append(include, line[1:])
		default:
			exclude = append(exclude, line)
		}
	}
	return exclude, include, nil
}

// siblingCopy names the copy of src made when no DST is given: "NAME
// copy" beside it, or "NAME copy.EXT" for a file with an extension.
func siblingCopy(src string) (string, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", err
	}
	dir, name := filepath.Split(abs)
	if name == "" {
		return "", fmt.Errorf("%s has no parent to put a copy in", src)
	}
	if info, err := os.Stat(abs); err == nil && !info.IsDir() {
		if ext := filepath.Ext(name); ext != "" && ext != name {
			return filepath.Join(dir, strings.TrimSuffix(name, ext)+" copy"+ext), nil
		}
	}
	return filepath.Join(dir, name+" copy"), nil
}

// parseSize reads a size like 4096, 512K, 64M or 2G (powers of 1024).
func parseSize(s string) (int64, error) {
	mult := int64(1)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'K', 'k':
			mult = 1 << 10
		case 'M', 'm':
			mult = 1 << 20
		case 'G', 'g':
			mult = 1 << 30
		case 'T', 't':
			mult = 1 << 40
		}
		if mult > 1 {
			s = s[:n-1]
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	return v * mult, nil
}

// fullMessage says that a filesystem of DST had no room left, and what
// that left out: one error, not one per file.
func fullMessage(f *copier.FullFs) (msg, hint string) {
	atLeast := ""
	if f.AtLeast {
		atLeast = "at least "
	}
	state, free := "full", " free now"
	if f.Quota {
		state, free = "over quota", " free on it now, but not within the quota"
	}
	msg = fmt.Sprintf("DST's filesystem, mounted at %s, is %s: %s%d files not copied: %s%s needed",
		copier.DisplayPath(f.Mount), state, atLeast, f.Files, atLeast, progress.HumanBytes(f.Bytes))
	if f.Free >= 0 {
		msg += ", " + progress.HumanBytes(f.Free) + free
	}
	fix := "free space on it"
	switch {
	case f.Quota:
		fix = "free space within the quota, or have it raised"
	case f.Free >= 0 && f.Bytes > f.Free:
		fix = "free at least " + progress.HumanBytes(f.Bytes-f.Free) + " more on it"
	}
	return msg, fix + ", or choose another DST, then run the same command again to finish the copy"
}

// printError is the one way pcopy reports an error: one line, then a hint
// line when one helps.
func printError(w io.Writer, msg, hint string) {
	fmt.Fprintf(w, "pcopy: error: %s\n", msg)
	if hint != "" {
		fmt.Fprintf(w, "pcopy: hint: %s\n", hint)
	}
}
