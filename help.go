package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

// shortHelp is what pcopy --help prints: one screen (at most 50 lines) with
// the options most runs need and examples; --help-all lists every option
// (the full help, and the man page, come from the same flag definitions).
const shortHelp = `Usage: pcopy [options] SRC [DST]

Copies the contents of directory SRC into DST (made if missing) with
parallel worker processes, keeping what cp -a keeps. Run again, it copies
only what changed. A file gets its name only when complete.

Common options:
%s
Examples:
  pcopy photos /mnt/backup/photos    contents of photos/ into backup/photos/
  pcopy -v -j 8 src dst              8 workers, list each file copied
  pcopy -n --delete src mirror       show what a mirror run would do
  pcopy --delete --exclude '*.tmp' src mirror
  pcopy --link-dest ../day1 home /backup/day2    a snapshot (unchanged: linked)
  find src -newer stamp -printf '%%P\0' | pcopy --from0 --files-from - src dst
  pcopy -q --json data /srv/data || alert        for scripts and cron

Exit codes: 0 all copied; 1 some entries failed (each listed); 2 usage
error or refused (nothing written); 130/143 interrupted.
Every option: pcopy --help-all, or man pcopy. Each option can also be
set by the environment: PCOPY_WORKERS=8, PCOPY_DRY_RUN=true.
`

// commonFlags are the options shortHelp shows, in its order, each with a
// short description.
var commonFlags = []struct{ name, usage string }{
	{"workers", "number of worker processes (default: CPUs)"},
	{"verbose", "list each entry copied on stdout; -vv also those left"},
	{"quiet", "print only errors"},
	{"dry-run", "write nothing: list what would be copied and deleted"},
	{"checksum", "on re-runs compare content, not size and time"},
	{"update", "leave files DST has that are newer than SRC's"},
	{"delete", "remove from DST what SRC lacks (a mirror)"},
	{"exclude", "leave out entries matching PATTERN (repeatable)"},
	{"files-from", "copy only the paths listed in FILE (- for stdin)"},
	{"one-file-system", "do not cross into other mounted filesystems"},
	{"link-dest", "hard-link unchanged files from DIR, an earlier copy"},
	{"log", "append a line per entry to FILE"},
	{"json", "print a JSON report on stdout at the end"},
	{"hosts", "also run workers on other machines (see --help-all)"},
	{"version", "print the version"},
}

// printShortHelp writes shortHelp, its option lines made from flags.
func printShortHelp(w io.Writer, flags []cli.Flag) {
	byName := map[string]cli.Flag{}
	for _, f := range append(flags, cli.VersionFlag) {
		byName[f.Names()[0]] = f
	}
	var b strings.Builder
	for _, c := range commonFlags {
		f, ok := byName[c.name]
		if !ok {
			panic("shortHelp names an unknown option: " + c.name)
		}
		fmt.Fprintf(&b, "  %-28s %s\n", flagSpelling(f), c.usage)
	}
	fmt.Fprintf(w, shortHelp, b.String())
}

// flagSpelling is how a flag is written: "-j, --workers N".
func flagSpelling(f cli.Flag) string {
	var names []string
	for _, n := range f.Names() {
		if len(n) == 1 {
			names = append([]string{"-" + n}, names...)
		} else {
			names = append(names, "--"+n)
		}
	}
	s := strings.Join(names, ", ")
	if df, ok := f.(cli.DocGenerationFlag); ok && df.TakesValue() {
		name := "VALUE"
		switch f.(type) {
		case *cli.IntFlag:
			name = "N"
		case *cli.DurationFlag:
			name = "DURATION"
		}
		if u := df.GetUsage(); strings.Count(u, "`") >= 2 {
			name = strings.Split(u, "`")[1] // the usage's `NAME`, as urfave/cli shows it
		}
		s += " " + name
	}
	return s
}
