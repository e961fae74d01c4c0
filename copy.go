package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/progress"
)

// copyCommand does what r asks for, logging it with cmdline, the whole
// command line, and returns the exit code.
func copyCommand(ctx context.Context, r *request, cmdline []string, stdout, stderr io.Writer) int {
	var log *actionLog
	if r.log != "" {
		var err error
		if log, err = openActionLog(r.log, r.copy.DryRun); err != nil {
			printError(stderr, "--log: "+err.Error(), "")
			return exitUsage
		}
		log.start(cmdline)
	}
	out := runCopy(ctx, r, log, stdout, stderr)
	if log != nil {
		if err := log.close(out); err != nil {
			printError(stderr, "--log: "+err.Error(), "the log is incomplete")
			out.code = max(out.code, exitFailed)
		}
	}
	if r.json {
		if err := writeJSON(stdout, out); err != nil {
			printError(stderr, "--json: "+err.Error(), "")
			return max(out.code, exitFailed)
		}
	}
	return out.code
}

// runCopy does the copy r asks for, printing messages on stderr, and
// says how it went.
func runCopy(ctx context.Context, r *request, log *actionLog, stdout, stderr io.Writer) outcome {
	r.stdout = stdout
	f := r.check(stderr)
	defer r.closeHosts()
	if f != nil {
		return r.fail(stderr, f)
	}
	if r.checked >= 0 {
		return outcome{code: r.checked, src: r.copy.Src, dst: r.copy.Dst}
	}
	// A dry run draws no bar and prints no progress lines: it copies
	// nothing, and its list of what it would do goes to stdout, often the
	// same terminal, where the bar's redraws would break its lines.
	tty := false
	if f, ok := stderr.(*os.File); ok && !r.copy.DryRun {
		tty = term.IsTerminal(int(f.Fd()))
	}
	rep := progress.New(stderr, tty, r.quiet)
	if !r.copy.DryRun {
		rep.PrintEvery(r.interval)
	}
	var deleted []string // listed at the end, as what --delete did matters
	out, flush := r.verboseOut(stdout, rep)
	defer flush()
	r.copy.OnAction = r.actions(log, &deleted, out)
	r.copy.Reporter, r.copy.CountTotals = rep, rep.WantsTotals()
	sum, err := copier.Copy(ctx, r.copy)
	rep.Finish(err == nil, sum.Duration)
	return r.printOutcome(stderr, sum, err, deleted)
}

// verboseOut returns how lines are listed on stdout (by -v, or a dry
// run): above the bar when stdout is the terminal it is drawn on,
// buffered when stdout is not a terminal (flush writes what is left).
func (r *request) verboseOut(stdout io.Writer, rep *progress.Reporter) (println func(string), flush func()) {
	f, ok := stdout.(*os.File)
	if ok && term.IsTerminal(int(f.Fd())) {
		return func(line string) { rep.Println(stdout, true, line) }, func() {}
	}
	w := bufio.NewWriterSize(stdout, 32<<10)
	return func(line string) { rep.Println(w, false, line) }, func() { w.Flush() }
}

// actions returns the copy's OnAction, nil if it needs none: it writes
// each action to log, adds what --delete removes to deleted, and lists
// with println, on stdout, what a dry run would copy and delete, or,
// with -v, what the copy did (not with --json: its report is stdout).
func (r *request) actions(log *actionLog, deleted *[]string, println func(string)) func(copier.Action, string, string, error) {
	var onAction func(copier.Action, string, string, error)
	if log != nil {
		onAction = log.action
	}
	if r.copy.Delete {
		next := onAction
		onAction = func(a copier.Action, rel, host string, err error) {
			if a == copier.Deleted {
				*deleted = append(*deleted, rel)
			}
			if next != nil {
				next(a, rel, host, err)
			}
		}
	}
	list := r.listing()
	if list != nil {
		logAction := onAction
		onAction = func(a copier.Action, rel, host string, err error) {
			if logAction != nil {
				logAction(a, rel, host, err)
			}
			if line := list(a, displayRel(rel)); line != "" {
				println(line)
			}
		}
	}
	return onAction
}

// listing returns the line on stdout for each action: what a dry run
// would copy and delete, what -v saw copied, linked and deleted, and with
// -vv what was left unchanged or out; "" for no line. Nil when nothing is
// listed (with --json, whose report is stdout, or without -n and -v).
func (r *request) listing() func(a copier.Action, rel string) string {
	if r.json || !r.copy.DryRun && r.verbose == 0 {
		return nil
	}
	copied, deleted := "", "deleting " // as rsync -v says them
	if r.copy.DryRun {
		copied, deleted = "would copy ", "would delete "
	}
	return func(a copier.Action, rel string) string {
		switch {
		case a == copier.Copied || a == copier.Linked && !r.copy.DryRun:
			return copied + rel
		case a == copier.Deleted:
			return deleted + rel
		case r.verbose >= 2 && (a == copier.Unchanged || a == copier.Reused):
			return rel + " is uptodate"
		case r.verbose >= 2 && a == copier.Excluded:
			return rel + " is left out"
		}
		return ""
	}
}

// printOutcome prints on stderr how the copy went, from its summary sum,
// its error err and the paths --delete deleted, and returns its outcome.
func (r *request) printOutcome(stderr io.Writer, sum copier.Summary, err error, deleted []string) outcome {
	var refused *copier.RefusedError
	if errors.As(err, &refused) {
		return r.fail(stderr, &failure{exitUsage, refused.Msg, refused.Hint})
	}
	dryRun := r.copy.DryRun
	out := outcome{src: r.copy.Src, dst: r.copy.Dst, sum: sum, deleted: deleted}
	if !r.quiet && !dryRun {
		for _, rel := range deleted {
			fmt.Fprintf(stderr, "pcopy: deleted %s\n", displayRel(rel))
		}
	}
	if !r.quiet {
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
	if !r.quiet {
		prefix := ""
		if dryRun {
			prefix = "dry run, nothing written: "
		}
		line := progress.SummaryLine(sum)
		if dryRun {
			line = progress.DryRunSummaryLine(sum)
		}
		fmt.Fprintf(stderr, "pcopy: %s%s%s\n", prefix, line, notCopied(sum))
		for _, h := range sum.Hosts {
			fmt.Fprintf(stderr, "pcopy: %s\n", hostLine(h))
		}
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

// fail prints f, which stopped the run, and returns the run's outcome.
func (r *request) fail(stderr io.Writer, f *failure) outcome {
	printError(stderr, f.msg, f.hint)
	return outcome{code: f.code, fatal: f.msg, src: r.copy.Src, dst: r.copy.Dst}
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
