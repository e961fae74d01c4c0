// Command pcopy copies a directory tree with parallel worker processes.
//
// The command is four files: this one starts it (signals, the flags,
// --version), options.go reads the command line into a request, copy.go
// does the copy it asks for and prints how it went, and report.go writes
// --log and --json. The copying is package copier; the bar is package
// progress.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/pcopy/pcopy/copier"
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

//go:generate go test -run TestManPageIsCurrent -update-man .

// main runs pcopy, or a worker when pcopy started it as one. A signal
// stops the copy; a second one ends pcopy at once.
func main() {
	if len(os.Args) > 1 && os.Args[1] == "--serve-agent" {
		os.Exit(serveAgent(os.Args[2:]))
	}
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

// newApp is pcopy's command line: its options (cliFlags, and --help,
// --help-all, --version, --completion), help texts and the copy, action.
// The man page is made from it too (TestManPageIsCurrent).
func newApp(stdout, stderr io.Writer, action cli.ActionFunc) *cli.App {
	// --version has no -v: cp -v and rsync -v users mean "verbose", and a
	// version printed instead of a copy would fail them silently.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version", DisableDefaultText: true}
	// --help is one screen of the common options (printShortHelp); the
	// help urfave/cli makes, of every option, is --help-all.
	cli.HelpFlag = &cli.BoolFlag{Name: "help-all", Usage: "print every option and the full description", DisableDefaultText: true}
	flags := append(cliFlags(), &cli.BoolFlag{Name: "help", Aliases: []string{"h"},
		Usage: "print the common options and examples (--help-all: every option)", DisableDefaultText: true},
		&cli.StringFlag{Name: "completion", Usage: "print the completion script for `SHELL` (bash, zsh or fish) and exit"})
	return &cli.App{
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
		Flags:                     flags,
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err.Error()}
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run maps errors to exit codes
		Action: func(c *cli.Context) error {
			switch {
			case c.Bool("help"):
				printShortHelp(stdout, flags)
				return nil
			case c.IsSet("completion"):
				return printCompletion(stdout, c.App, c.String("completion"))
			}
			return action(c)
		},
	}
}

// interrupted is the cause of the context's cancellation on a signal.
type interrupted struct{ sig os.Signal }

// Error says which signal it was.
func (i interrupted) Error() string { return "interrupted by " + signalName(i.sig) }

// signalName is the name messages give sig.
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return "SIGINT"
}

// signalExitCode is the exit code of a run that sig interrupted.
func signalExitCode(sig os.Signal) int {
	switch sig {
	case syscall.SIGTERM:
		return exitTerminated
	case syscall.SIGHUP:
		return exitHangup
	}
	return exitInterrupted
}

// run runs pcopy with the command line args and returns its exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var code int
	app := newApp(stdout, stderr, func(c *cli.Context) error {
		code = copyCommand(ctx, readRequest(c), args, stdout, stderr)
		return nil
	})
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
