package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/beneath"
	"github.com/pcopy/pcopy/internal/treecheck"
	"github.com/pcopy/pcopy/internal/wire"
	"github.com/pcopy/pcopy/internal/worker"
)

// TestMain makes this test binary the pcopy command when run as "pcopy"
// (testscript puts it on the scripts' PATH under that name) and a worker
// when run as one.
func TestMain(m *testing.M) {
	if os.Getenv(copier.WorkerEnv) != "" {
		pace()
		if dir := os.Getenv(stuckWorkerEnv); dir != "" {
			stuckWorker(dir)
		}
		main()
	}
	// Race-enabled binaries sleep a second on exit by default; every copy
	// waits for its workers to exit.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	testscript.Main(m, map[string]func(){"pcopy": main})
}

// paceEnv, set to a duration, has pcopy's workers wait that long before
// opening each directory they copy from or into: a copy of a small tree
// then lasts long enough for a test to watch its progress line and resize
// its terminal.
const paceEnv = "PCOPY_TEST_PACE"

// paceFilesEnv, set too, has them wait as long before each job (a file,
// link or part) as well.
const paceFilesEnv = "PCOPY_TEST_PACE_FILES"

func pace() {
	d, err := time.ParseDuration(os.Getenv(paceEnv))
	if err != nil {
		return
	}
	files := os.Getenv(paceFilesEnv) != ""
	beneath.TestHook = func(op beneath.Op, p string) {
		if op == beneath.OpOpenDir {
			time.Sleep(d)
		}
	}
	if files {
		worker.TestHook = func(*wire.Job) { time.Sleep(d) }
	}
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":  cmdExits,
			"treeeq": cmdTreeEq,
			"notemp": cmdNoTemp,
			"json":   cmdJSON,
			"inode":  cmdInode,
			"mtime":  cmdMtime,
		},
	})
}

// exits CODE command [args...] runs a command like exec and checks its exit
// code; its stdout and stderr are then checked with stdout and stderr.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("%v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// treeeq SRC DST checks that DST reproduces SRC: entries, types, modes,
// contents, link targets and mtimes. [-norootmtime] skips the roots' mtimes.
func cmdTreeEq(ts *testscript.TestScript, neg bool, args []string) {
	var opts treecheck.Options
	if len(args) == 3 && args[0] == "-norootmtime" {
		opts.IgnoreRootTimes = true
		args = args[1:]
	}
	if len(args) != 2 {
		ts.Fatalf("usage: treeeq [-norootmtime] SRC DST")
	}
	diffs, err := treecheck.Compare(ts.MkAbs(args[0]), ts.MkAbs(args[1]), opts)
	ts.Check(err)
	if neg {
		if len(diffs) == 0 {
			ts.Fatalf("%s and %s are the same", args[0], args[1])
		}
		return
	}
	if len(diffs) > 0 {
		ts.Fatalf("%s differs from %s:\n%s", args[1], args[0], strings.Join(diffs, "\n"))
	}
}

// notemp DIR checks that no pcopy temporary file is left below DIR.
func cmdNoTemp(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: notemp DIR")
	}
	if left := treecheck.TempFiles(ts.MkAbs(args[0]), copier.TempPrefix); len(left) > 0 {
		ts.Fatalf("temporary files left: %s", strings.Join(left, ", "))
	}
}

// json KEY=VALUE... checks fields of the JSON object the last command
// printed on stdout: KEY=VALUE compares the field, printed with %v, to
// VALUE; KEY~REGEXP matches it; a KEY like errors.0.path goes into arrays
// and objects.
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: json KEY=VALUE|KEY~REGEXP...")
	}
	var obj any
	if err := json.Unmarshal([]byte(ts.ReadFile("stdout")), &obj); err != nil {
		ts.Fatalf("stdout is not one JSON value: %v", err)
	}
	for _, arg := range args {
		i := strings.IndexAny(arg, "=~")
		if i < 0 {
			ts.Fatalf("json: %q is neither KEY=VALUE nor KEY~REGEXP", arg)
		}
		key, op, want := arg[:i], arg[i], arg[i+1:]
		v := obj
		for _, k := range strings.Split(key, ".") {
			switch o := v.(type) {
			case map[string]any:
				var ok bool
				if v, ok = o[k]; !ok {
					ts.Fatalf("json: no field %q in %s", k, key)
				}
			case []any:
				n, err := strconv.Atoi(k)
				if err != nil || n >= len(o) {
					ts.Fatalf("json: no element %s in %s (%d elements)", k, key, len(o))
				}
				v = o[n]
			default:
				ts.Fatalf("json: %s: %v has no field %q", key, v, k)
			}
		}
		got := fmt.Sprint(v)
		if op == '=' && got != want {
			ts.Fatalf("json: %s is %q, want %q", key, got, want)
		}
		if op == '~' && !regexp.MustCompile(want).MatchString(got) {
			ts.Fatalf("json: %s is %q, does not match %q", key, got, want)
		}
	}
}

// inode A B succeeds when A and B are one file (hard links to one inode);
// ! inode A B when they are not.
func cmdInode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: inode A B")
	}
	a, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	b, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	if same := os.SameFile(a, b); same == neg {
		ts.Fatalf("%s and %s: same file %v, want %v", args[0], args[1], same, !neg)
	}
}

// mtime FILE SECONDS moves FILE's modification time by SECONDS (+1.5,
// -100): DST's copy made older or newer, or off by less than a window.
func cmdMtime(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mtime FILE SECONDS")
	}
	secs, err := strconv.ParseFloat(args[1], 64)
	ts.Check(err)
	p := ts.MkAbs(args[0])
	info, err := os.Lstat(p)
	ts.Check(err)
	t := info.ModTime().Add(time.Duration(secs * float64(time.Second)))
	ts.Check(os.Chtimes(p, t, t))
}
