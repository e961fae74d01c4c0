package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/walk"
)

// cliFlags are pcopy's options, each also settable by an environment
// variable (setEnvVar).
func cliFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.IntFlag{Name: "workers", Aliases: []string{"j"}, Value: runtime.NumCPU(),
			Usage: "number of worker processes", DefaultText: "number of CPUs"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only errors"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "list on stdout each entry as it is " +
			"copied, linked or deleted; -vv also those left unchanged or left out"},
		&cli.StringFlag{Name: "log", Usage: "append to `FILE` a line for each entry copied, linked, left " +
			"unchanged, skipped or failed, with the time, and one when the run starts and ends"},
		&cli.DurationFlag{Name: "progress-interval", Usage: "when stderr is not a terminal, print a plain " +
			"progress line every `INTERVAL` (like 30s), so long copies show life in logs; 0: never"},
		&cli.BoolFlag{Name: "json", Usage: "at the end, print a JSON report on stdout (counts, errors, " +
			"duration; see README for its fields); messages stay on stderr"},
		&cli.BoolFlag{Name: "checksum", Aliases: []string{"c"}, Usage: "leave a file already in DST alone when its " +
			"content is the same (read both), not when its size and modification time are"},
		&cli.BoolFlag{Name: "force", Usage: "copy every file, even those DST already holds"},
		&cli.StringFlag{Name: "modify-window", Value: "0", Usage: "on re-runs, count modification times " +
			"within `SECONDS` of each other as equal (2 for FAT, 1 for some network filesystems)"},
		&cli.BoolFlag{Name: "ignore-existing", Usage: "leave whatever DST already has at a name as it is, " +
			"even if it differs from SRC"},
		&cli.BoolFlag{Name: "update", Aliases: []string{"u"}, Usage: "leave a file DST already has when it " +
			"is newer (a later modification time) than its source"},
		&cli.StringFlag{Name: "files-from", Usage: "copy only the paths listed in `FILE` (- for stdin), one a line, " +
			"relative to SRC, with the directories above them; a directory listed is made, not filled"},
		&cli.BoolFlag{Name: "from0", Usage: "the --files-from list is separated by NUL bytes, as find -print0 makes it"},
		&cli.BoolFlag{Name: "one-file-system", Aliases: []string{"x"}, Usage: "do not cross into other " +
			"filesystems or bind mounts below SRC (/proc, a USB disk): their mount points are made, empty"},
		&cli.StringFlag{Name: "backup-dir", Usage: "move what DST has into `DIR` (relative to DST, or absolute; " +
			"on DST's filesystem) before a re-run replaces it or --delete removes it, under the same path"},
		&cli.StringFlag{Name: "bwlimit", Usage: "copy at most `RATE` bytes a second, all workers together " +
			"(50M, 1G), so a backup does not starve a busy disk"},
		&cli.StringFlag{Name: "min-size", Usage: "leave out files smaller than `SIZE` (e.g. 4K); they count as excluded"},
		&cli.StringFlag{Name: "max-size", Usage: "leave out files larger than `SIZE` (e.g. 2G); they count as excluded"},
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
	}
	flags = append(flags, hostFlags()...)
	for _, f := range flags {
		setEnvVar(f)
	}
	return flags
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

// usageError is wrong usage of the command line.
type usageError struct{ msg string }

// Error is the message.
func (e usageError) Error() string { return e.msg }

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

// request is one run of pcopy, as its command line asks for it: the
// copy, and the command's own settings. A wrong command line goes to
// --log and --json too, and a --log that cannot be opened is said before
// anything else: so readRequest only reads the command line, and check,
// once the log is open, completes the copy's options or says what is
// wrong.
type request struct {
	copy     copier.Options // the run adds OnAction, Reporter and CountTotals
	quiet    bool           // print only errors
	verbose  int            // -v: 1, -vv: 2
	json     bool           // print a JSON report on stdout
	log      string         // --log FILE, or ""
	interval time.Duration  // --progress-interval

	// The command line as given, where check reads it into copy.
	args            []string // SRC [DST]
	force, checksum bool
	splitSize       string
	modifyWindow    string
	filesFrom       string // --files-from FILE
	from0           bool
	minSize         string
	bwlimit         string
	maxSize         string
	excludeFrom     string
	hosts           hostRequest
	remote          []*copier.Host // the hosts whose agents run workers, closed after the copy
	checked         int            // with --check-hosts: the exit code; -1 before the check
	stdout          io.Writer      // where --check-hosts prints its table
}

// readRequest reads the command line of c.
func readRequest(c *cli.Context) *request {
	return &request{
		copy: copier.Options{
			Workers:         c.Int("workers"),
			Fsync:           c.Bool("fsync"),
			NoOwner:         c.Bool("no-owner"),
			Dereference:     c.Bool("dereference"),
			Delete:          c.Bool("delete"),
			DeleteUnrelated: c.Bool("delete-unrelated"),
			MaxDelete:       c.Int("max-delete"),
			Verify:          c.Bool("verify"),
			LinkDest:        c.String("link-dest"),
			DryRun:          c.Bool("dry-run"),
			Exclude:         c.StringSlice("exclude"),
			Include:         c.StringSlice("include"),
			IgnoreExisting:  c.Bool("ignore-existing"),
			KeepNewer:       c.Bool("update"),
			OneFilesystem:   c.Bool("one-file-system"),
			BackupDir:       c.String("backup-dir"),
		},
		quiet:        c.Bool("quiet"),
		verbose:      verbosity(c),
		json:         c.Bool("json"),
		log:          c.String("log"),
		interval:     c.Duration("progress-interval"),
		args:         c.Args().Slice(),
		force:        c.Bool("force"),
		checksum:     c.Bool("checksum"),
		splitSize:    c.String("split-size"),
		modifyWindow: c.String("modify-window"),
		filesFrom:    c.String("files-from"),
		from0:        c.Bool("from0"),
		minSize:      c.String("min-size"),
		bwlimit:      c.String("bwlimit"),
		maxSize:      c.String("max-size"),
		excludeFrom:  c.String("exclude-from"),
		hosts:        readHostRequest(c),
		checked:      -1,
	}
}

// verbosity is 1 for -v (or PCOPY_VERBOSE=true), 2 for -vv.
func verbosity(c *cli.Context) int {
	if n := c.Count("verbose"); n > 0 {
		return n
	}
	if c.Bool("verbose") {
		return 1 // from the environment, which sets no count
	}
	return 0
}

// failure is why a run stops before it copies: an error, a hint (or
// ""), and the exit code.
type failure struct {
	code      int
	msg, hint string
}

// check completes r.copy from the command line, or says what is wrong
// with it. Without DST, it says on stderr where the copy goes.
func (r *request) check(stderr io.Writer) *failure {
	if f := r.paths(stderr); f != nil {
		return f
	}
	workers := r.copy.Workers
	if workers < 1 {
		return &failure{exitUsage, fmt.Sprintf("--workers must be at least 1, not %d", workers), ""}
	}
	if limit := maxWorkers(); workers > limit {
		return &failure{exitUsage, fmt.Sprintf("--workers %d is more than this machine can use: at most %d (4 per CPU, %d CPUs, and never more than %d)",
			workers, limit, runtime.NumCPU(), workersCap), "each worker is a process; beyond a few per CPU they only wait for each other"}
	}
	r.copy.Update = copier.UpdateChanged
	switch {
	case r.force && r.checksum:
		return &failure{exitUsage, "--force and --checksum cannot go together", "--force copies everything; --checksum compares content"}
	case r.force:
		r.copy.Update = copier.UpdateAll
	case r.checksum:
		r.copy.Update = copier.UpdateChecksum
	}
	size, err := parseSize(r.splitSize)
	if err != nil {
		return &failure{exitUsage, "--split-size: " + err.Error(), sizeHint}
	}
	r.copy.SplitSize = size
	if f := r.selection(); f != nil {
		return f
	}
	switch {
	case r.verbose > 0 && r.json:
		return &failure{exitUsage, "-v lists on stdout, where --json's report goes", "--log FILE records every entry"}
	case r.verbose > 0 && r.quiet:
		return &failure{exitUsage, "-v and -q cannot go together", ""}
	}
	if r.excludeFrom != "" {
		ex, in, err := readPatterns(r.excludeFrom)
		if err != nil {
			return &failure{exitUsage, "--exclude-from: " + err.Error(), ""}
		}
		r.copy.Exclude, r.copy.Include = append(r.copy.Exclude, ex...), append(r.copy.Include, in...)
	}
	exe, err := os.Executable()
	if err != nil {
		return &failure{exitFailed, "cannot find the pcopy binary to start workers: " + err.Error(), ""}
	}
	r.copy.Spawn = copier.Exec(exe, os.Args[0])
	if r.hosts.check && !r.hosts.any() {
		return &failure{exitUsage, "--check-hosts checks the hosts of --hosts, --hostfile or --hosts-from: none given", ""}
	}
	if r.hosts.any() {
		return r.spread(stderr)
	}
	return nil
}

const sizeHint = "a number of bytes with an optional K, M, G or T suffix, like 512M"

// selection checks the options that choose which files are copied and
// which DST keeps: --modify-window, --ignore-existing, --update,
// --min-size and --max-size.
func (r *request) selection() *failure {
	secs, err := strconv.ParseFloat(r.modifyWindow, 64)
	if err != nil || secs < 0 || math.IsInf(secs, 0) || math.IsNaN(secs) || secs > 1e9 {
		return &failure{exitUsage, fmt.Sprintf("--modify-window: %q is not a number of seconds", r.modifyWindow), "like 2 (for FAT) or 0.5"}
	}
	r.copy.ModifyWindow = time.Duration(secs * float64(time.Second))
	keep := r.copy.IgnoreExisting || r.copy.KeepNewer
	switch {
	case r.copy.IgnoreExisting && r.copy.KeepNewer:
		return &failure{exitUsage, "--ignore-existing and --update cannot go together", "--ignore-existing already leaves every file DST has"}
	case keep && r.force:
		return &failure{exitUsage, "--force cannot go with --ignore-existing or --update", "--force copies everything; they leave some files as they are"}
	}
	for _, o := range []struct {
		flag, value string
		to          *int64
	}{{"--min-size", r.minSize, &r.copy.MinSize}, {"--max-size", r.maxSize, &r.copy.MaxSize}} {
		if o.value == "" {
			continue
		}
		n, err := parseSize(o.value)
		if err != nil {
			return &failure{exitUsage, o.flag + ": " + err.Error(), sizeHint}
		}
		*o.to = n
	}
	if f := r.readFilesFrom(); f != nil {
		return f
	}
	if r.copy.OneFilesystem && !walk.OneFilesystemWorks {
		return &failure{exitUsage, "-x (--one-file-system) works on Linux only", ""}
	}
	if r.bwlimit != "" {
		rate := strings.TrimSuffix(strings.TrimSuffix(r.bwlimit, "/s"), "B")
		n, err := parseSize(rate)
		switch {
		case err == nil && strings.Trim(rate, "0123456789") == "":
			// rsync takes a bare number as KiB/s: say which it is.
			return &failure{exitUsage, fmt.Sprintf("--bwlimit %s: give the unit", r.bwlimit), "like 500K or 50M (bytes a second, K = 1024)"}
		case err != nil || n <= 0:
			return &failure{exitUsage, fmt.Sprintf("--bwlimit %s: not a rate", r.bwlimit), "like 500K or 50M (bytes a second, K = 1024)"}
		}
		r.copy.BwLimit = n
	}
	if r.copy.MaxSize > 0 && r.copy.MinSize > r.copy.MaxSize {
		return &failure{exitUsage, fmt.Sprintf("--min-size %s is more than --max-size %s: nothing would be copied", r.minSize, r.maxSize), ""}
	}
	return nil
}

// readFilesFrom reads the list of --files-from: lines, or with --from0
// NUL-separated names (which may hold newlines).
func (r *request) readFilesFrom() *failure {
	if r.filesFrom == "" {
		if r.from0 {
			return &failure{exitUsage, "--from0 says how the --files-from list is separated: no list given", ""}
		}
		return nil
	}
	var data []byte
	var err error
	if r.filesFrom == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(r.filesFrom)
	}
	if err != nil {
		return &failure{exitUsage, "--files-from: " + err.Error(), ""}
	}
	sep := "\n"
	if r.from0 {
		sep = "\x00"
	}
	r.copy.FilesFrom = []string{}
	for _, p := range strings.Split(string(data), sep) {
		if p != "" {
			r.copy.FilesFrom = append(r.copy.FilesFrom, p)
		}
	}
	return nil
}

// spread starts the agents of the hosts asked for and has the copy's
// workers run on them and, as --local-workers says, here.
func (r *request) spread(stderr io.Writer) *failure {
	specs, err := r.hosts.specs()
	if err != nil {
		return &failure{exitUsage, err.Error(), ""}
	}
	local := r.hosts.local
	if local < 0 {
		local = r.copy.Workers
	}
	if r.hosts.timeout <= 0 {
		return &failure{exitUsage, "--host-timeout must be more than 0", ""}
	}
	got, errs, err := r.hosts.connect(specs, stderr)
	if err != nil {
		return &failure{exitUsage, err.Error(), "a template like 'ssh -T {host} {cmd}' or 'srun -N1 -n1 -w {host} {argv}'"}
	}
	if r.hosts.check {
		r.checked = checkHosts(specs, got, errs, r.copy.Src, r.copy.Dst, r.stdout)
		return nil
	}
	for i, h := range got {
		if errs[i] != nil {
			fmt.Fprintf(stderr, "pcopy: warning: %v; going on without it\n", errs[i])
			continue
		}
		r.remote = append(r.remote, h)
	}
	if len(r.remote) == 0 && local == 0 {
		return &failure{exitUsage, "no host could be used, and --local-workers is 0", "see the messages above for why each host was refused"}
	}
	r.copy.Hosts, r.copy.Workers = r.remote, local
	if !r.quiet {
		fmt.Fprintf(stderr, "pcopy: %s\n", describeHosts(local, r.remote))
	}
	return nil
}

// closeHosts ends the connections to the hosts: their agents exit.
func (r *request) closeHosts() {
	for _, h := range r.remote {
		h.Close()
	}
}

// paths sets r.copy.Src and r.copy.Dst from SRC [DST], as far as it
// gets: the report of a wrong command line names them too. Without DST,
// SRC is copied beside itself, as stderr says.
func (r *request) paths(stderr io.Writer) *failure {
	switch len(r.args) {
	case 0:
		return &failure{exitUsage, "expected SRC [DST]", "usage: pcopy [options] SRC [DST]; run 'pcopy --help' for more"}
	case 1:
		src := r.args[0]
		r.copy.Src = src
		// A SRC that does not exist is said first, before where it
		// would have gone (pcopy has no subcommands: "pcopy help" names
		// a SRC called help).
		if _, err := os.Lstat(src); errors.Is(err, fs.ErrNotExist) {
			hint := ""
			if src == "help" {
				hint = "pcopy has no subcommands: run 'pcopy --help'"
			}
			return &failure{exitUsage, fmt.Sprintf("source %s does not exist", copier.DisplayPath(src)), hint}
		}
		// No DST: a sibling of SRC, like the classic copier's "[copy]".
		dst, err := siblingCopy(src)
		if err != nil {
			return &failure{exitUsage, err.Error(), "name DST: pcopy SRC DST"}
		}
		r.copy.Dst = dst
		if !r.quiet {
			fmt.Fprintf(stderr, "pcopy: no DST given: copying into %s\n", copier.DisplayPath(dst))
		}
		return nil
	case 2:
		r.copy.Src, r.copy.Dst = r.args[0], r.args[1]
		return nil
	}
	hint := "usage: pcopy [options] SRC [DST]"
	for _, a := range r.args[2:] {
		if strings.HasPrefix(a, "-") {
			hint = "options go before SRC and DST"
		}
	}
	return &failure{exitUsage, fmt.Sprintf("expected SRC and DST, got %d arguments", len(r.args)), hint}
}

// workersCap bounds -j whatever the machine.
const workersCap = 256

// maxWorkers is the most workers -j may ask for: 4 per CPU (more wait on
// each other for the cores and the disk), and workersCap at most.
func maxWorkers() int { return min(4*runtime.NumCPU(), workersCap) }

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
