package hosts

import (
	"bytes"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		list string
		want []Host
	}{
		{"node1", []Host{{Name: "node1"}}},
		{"node1,node2:16,alice@node3", []Host{{Name: "node1"}, {Name: "node2", Workers: 16}, {Name: "node3", User: "alice"}}},
		{" node1 , alice@node3:4\t", []Host{{Name: "node1"}, {Name: "node3", User: "alice", Workers: 4}}},
		{"n:1024", []Host{{Name: "n", Workers: 1024}}},
		{"n:08", []Host{{Name: "n", Workers: 8}}},
		{"[::1]:4", []Host{{Name: "::1", Workers: 4}}},
		{"[::1]", []Host{{Name: "::1"}}},
		{"bob@[fe80::1]:2", []Host{{Name: "fe80::1", User: "bob", Workers: 2}}},
		{"node1,alice@node1", []Host{{Name: "node1"}, {Name: "node1", User: "alice"}}}, // another user: another host
		{"10.0.0.1:3", []Host{{Name: "10.0.0.1", Workers: 3}}},
		{"node-1.example.com", []Host{{Name: "node-1.example.com"}}},
	} {
		got, err := Parse(c.list)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.list, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Parse(%q) = %v, want %v", c.list, got, c.want)
		}
	}
	for _, c := range []struct {
		list, want string // want is part of the error
	}{
		{"", "empty host name"},
		{"a,,b", "empty host name"},
		{"a,", "empty host name"},
		{" , ", "empty host name"},
		{"a:0", `"a:0"`},
		{"a:1025", "from 1 to 1024"},
		{"a:-1", "from 1 to 1024"},
		{"a:+4", "from 1 to 1024"},
		{"a:x", "from 1 to 1024"},
		{"a:", "no number of workers"},
		{"a:99999999999999999999", "from 1 to 1024"},
		{"-oProxyCommand=x", "must not start with \"-\""},
		{"-oProxyCommand=x:4", "ssh would take it for an option"},
		{"-x@node", "must not start with \"-\""},
		{"@node", "empty user"},
		{"alice@", "empty host name"},
		{"alice@:4", "empty host name"},
		{":4", "empty host name"},
		{"no de", "spaces"},
		{"a/b", `"/"`},
		{"a\x00b", "control characters"},
		{"a\nb", "spaces"},
		{"a@b@c", `"@"`},
		{"::1", "brackets"},
		{"fe80::1:4", "brackets"},
		{"[::1", "no closing bracket"},
		{"[::1]x", "after the bracketed address"},
		{"[::1]:", "no number of workers"},
		{"[]:4", "empty host name"},
		{"node[1-3]", "brackets"},
		{"[-x]", "must not start"},
		{"node1,node2,node1:4", "listed twice"},
		{"alice@n,alice@n", "listed twice"},
		{"[::1],[::1]:2", "listed twice"},
	} {
		got, err := Parse(c.list)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", c.list, got)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q): %v, want an error with %q", c.list, err, c.want)
		}
	}
}

func TestHostString(t *testing.T) {
	for _, c := range []struct {
		h              Host
		target, String string
	}{
		{Host{Name: "node3", User: "alice", Workers: 16}, "alice@node3", "alice@node3:16"},
		{Host{Name: "node3"}, "node3", "node3"},
		{Host{Name: "::1", Workers: 4}, "::1", "[::1]:4"},
		{Host{Name: "::1", User: "bob"}, "bob@::1", "bob@[::1]"},
	} {
		if got := c.h.Target(); got != c.target {
			t.Errorf("%#v.Target() = %q, want %q", c.h, got, c.target)
		}
		if got := c.h.String(); got != c.String {
			t.Errorf("%#v.String() = %q, want %q", c.h, got, c.String)
		}
		if back, err := Parse(c.h.String()); err != nil || len(back) != 1 || back[0] != c.h {
			t.Errorf("Parse(%q) = %v, %v, want %#v", c.h.String(), back, err, c.h)
		}
	}
}

func TestParseFile(t *testing.T) {
	const file = `# the cluster
node1
node2:16   # a comment after a host

alice@node3
node4 slots=8
	node5	slots=2
[::1]:3
`
	got, err := ParseFile(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	want := []Host{{Name: "node1"}, {Name: "node2", Workers: 16}, {Name: "node3", User: "alice"},
		{Name: "node4", Workers: 8}, {Name: "node5", Workers: 2}, {Name: "::1", Workers: 3}}
	if !slices.Equal(got, want) {
		t.Errorf("ParseFile = %v, want %v", got, want)
	}
	for _, c := range []struct {
		file, want string
	}{
		{"", "no hosts"},
		{"# nothing\n\n", "no hosts"},
		{"a\nb\n-oProxyCommand=x\n", "line 3: "},
		{"a\n\nb:0\n", "line 3: "},
		{"a slots=0", "line 1: "},
		{"a slots=x", "from 1 to 1024"},
		{"a slots=", "from 1 to 1024"},
		{"a:2 slots=4", "line 1: the number of workers is given twice"},
		{"a slots=2 slots=4", "given twice"},
		{"a max_slots=4", `line 1: "max_slots=4"`},
		{"a b", `line 1: "b"`},
		{"a\n#\nb\na\n", "line 4: host \"a\" listed twice (first on line 1)"},
		{"a,b", "line 1: "},
	} {
		got, err := ParseFile(strings.NewReader(c.file))
		if err == nil {
			t.Errorf("ParseFile(%q) = %v, want an error", c.file, got)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseFile(%q): %v, want an error with %q", c.file, err, c.want)
		}
	}
}

func TestExpandSlurm(t *testing.T) {
	for _, c := range []struct {
		list string
		want []string
	}{
		{"login", []string{"login"}},
		{"node[01-03,07],gpu[1-2]-ib,login", []string{"node01", "node02", "node03", "node07", "gpu1-ib", "gpu2-ib", "login"}},
		{"n[08-11]", []string{"n08", "n09", "n10", "n11"}},
		{"n[8-11]", []string{"n8", "n9", "n10", "n11"}},
		{"n[098-101]", []string{"n098", "n099", "n100", "n101"}},
		{"n[5]", []string{"n5"}},
		{"r[1-2]n[1-2]", []string{"r1n1", "r1n2", "r2n1", "r2n2"}},
		{"[1-2]x", []string{"1x", "2x"}},
		{"a,b", []string{"a", "b"}},
		{" a[1-2] ", []string{"a1", "a2"}},
		{"a[1,3],b", []string{"a1", "a3", "b"}},
		{"a[0-65535]", nil}, // 65536 names: allowed
	} {
		got, err := ExpandSlurm(c.list)
		if err != nil {
			t.Errorf("ExpandSlurm(%q): %v", c.list, err)
			continue
		}
		if c.want == nil {
			if len(got) != 65536 || got[65535] != "a65535" {
				t.Errorf("ExpandSlurm(%q): %d names", c.list, len(got))
			}
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("ExpandSlurm(%q) = %q, want %q", c.list, got, c.want)
		}
	}
	for _, c := range []struct {
		list, want string
	}{
		{"", "empty host name"},
		{"a,,b", "empty host name"},
		{"a,", "empty host name"},
		{"a[1-2", `"[" without "]"`},
		{"a]1", `"]" without "["`},
		{"a[[1]]", "within brackets"},
		{"a[]", "empty brackets"},
		{"a[3-1]", "backwards"},
		{"a[1-x]", "not a number"},
		{"a[ 1]", "not a number"},
		{"a[-1]", "not a number"},
		{"a[1-2-3]", "not a number"},
		{"a[1,]", "not a number"},
		{"a[1-99999999999999999999999]", "too large"},
		{"a[0-99999999]", "more than 65536"},
		{"a[0-18446744073709551615]", "more than 65536"},
		{"a[0-65536]", "more than 65536"},
		{"a[0-300]b[0-300]", "more than 65536"},
		{"a[0-40000],b[0-40000]", "more than 65536"},
		{"a[0-9,0-65530]", "more than 65536"},
	} {
		got, err := ExpandSlurm(c.list)
		if err == nil {
			t.Errorf("ExpandSlurm(%q) = %d names, want an error", c.list, len(got))
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ExpandSlurm(%q): %v, want an error with %q", c.list, err, c.want)
		}
	}
}

func TestFromSlurm(t *testing.T) {
	env := func(vars ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(vars); i += 2 {
				if vars[i] == k {
					return vars[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		getenv func(string) string
		want   []Host
	}{
		{env("SLURM_JOB_NODELIST", "n[1-2]", "SLURM_CPUS_ON_NODE", "32"), []Host{{Name: "n1", Workers: 32}, {Name: "n2", Workers: 32}}},
		{env("SLURM_JOB_NODELIST", "n1", "SLURM_NODELIST", "other"), []Host{{Name: "n1"}}},
		{env("SLURM_NODELIST", "n[3,5]"), []Host{{Name: "n3"}, {Name: "n5"}}},
		{env("SLURM_JOB_NODELIST", "n1", "SLURM_CPUS_ON_NODE", "0"), []Host{{Name: "n1"}}},
		{env("SLURM_JOB_NODELIST", "n1", "SLURM_CPUS_ON_NODE", "-4"), []Host{{Name: "n1"}}},
		{env("SLURM_JOB_NODELIST", "n1", "SLURM_CPUS_ON_NODE", "8(x2)"), []Host{{Name: "n1"}}},
		{env("SLURM_JOB_NODELIST", "n1", "SLURM_CPUS_ON_NODE", "4096"), []Host{{Name: "n1", Workers: MaxWorkers}}},
	} {
		got, err := FromSlurm(c.getenv)
		if err != nil {
			t.Errorf("FromSlurm: %v", err)
		} else if !slices.Equal(got, c.want) {
			t.Errorf("FromSlurm = %v, want %v", got, c.want)
		}
	}
	for _, c := range []struct {
		getenv func(string) string
		want   string
	}{
		{env(), "not inside a Slurm job: SLURM_JOB_NODELIST is not set"},
		{env("SLURM_CPUS_ON_NODE", "4"), "not inside a Slurm job"},
		{env("SLURM_JOB_NODELIST", "n[2-1]"), "SLURM_JOB_NODELIST: "},
		{env("SLURM_NODELIST", "n[1-"), "SLURM_NODELIST: "},
		{env("SLURM_JOB_NODELIST", "n1,n1"), "listed twice"},
		{env("SLURM_JOB_NODELIST", "-n1"), "must not start"},
	} {
		if got, err := FromSlurm(c.getenv); err == nil {
			t.Errorf("FromSlurm = %v, want an error with %q", got, c.want)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("FromSlurm: %v, want an error with %q", err, c.want)
		}
	}
}

// agentArgv is a command with arguments a shell would take apart.
var agentArgv = []string{"/opt/my pcopy/pcopy", "--serve-agent", "--allow-root", "/data/it's here", ""}

func TestRender(t *testing.T) {
	alice := Host{Name: "node3", User: "alice", Workers: 16}
	const quoted = `'/opt/my pcopy/pcopy' --serve-agent --allow-root '/data/it'\''s here' ''`
	for _, c := range []struct {
		template string
		host     Host
		want     []string
	}{
		{DefaultRsh, alice, []string{"ssh", "-T", "-o", "BatchMode=yes", "alice@node3", quoted}},
		{DefaultRsh, Host{Name: "node3"}, []string{"ssh", "-T", "-o", "BatchMode=yes", "node3", quoted}},
		{"srun --overlap -N1 -n1 -w {name} {argv}", alice,
			[]string{"srun", "--overlap", "-N1", "-n1", "-w", "node3", "/opt/my pcopy/pcopy", "--serve-agent", "--allow-root", "/data/it's here", ""}},
		{"mpirun -np 1 --host {name} {argv}", alice,
			[]string{"mpirun", "-np", "1", "--host", "node3", "/opt/my pcopy/pcopy", "--serve-agent", "--allow-root", "/data/it's here", ""}},
		{"kubectl exec -i {name} -- {argv}", alice,
			[]string{"kubectl", "exec", "-i", "node3", "--", "/opt/my pcopy/pcopy", "--serve-agent", "--allow-root", "/data/it's here", ""}},
		{`"my ssh" -F '/tmp/a b/config' {host} {cmd}`, alice, []string{"my ssh", "-F", "/tmp/a b/config", "alice@node3", quoted}},
		{"ssh -l {user} {name} {cmd}", alice, []string{"ssh", "-l", "alice", "node3", quoted}},
		{"ssh {host} 'exec {cmd}'", alice, []string{"ssh", "alice@node3", "exec " + quoted}},
		{"ssh  -o 'ProxyJump {name}-gw' \\\n {host}\t{cmd}\n", alice, []string{"ssh", "-o", "ProxyJump node3-gw", "alice@node3", quoted}},
		{"ssh -o \"A=\\\"\\\\\\$\\`\" -o \"a\\b $ x\" x\\ y {host} {cmd}", alice, []string{"ssh", "-o", "A=\"\\$`", "-o", `a\b $ x`, "x y", "alice@node3", quoted}},
		{"ssh -o '{a b}' -o {} {host} {cmd}", alice, []string{"ssh", "-o", "{a b}", "-o", "{}", "alice@node3", quoted}},
		{"ssh '' {host} {cmd}", alice, []string{"ssh", "", "alice@node3", quoted}},
		{"ssh {host} {cmd}", Host{Name: "::1", User: "bob"}, []string{"ssh", "bob@::1", quoted}},
	} {
		got, err := Render(c.template, c.host, agentArgv)
		if err != nil {
			t.Errorf("Render(%q): %v", c.template, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Render(%q) =\n%q, want\n%q", c.template, got, c.want)
		}
	}

	// What ssh's remote side gets back from the {cmd} word is argv.
	got, err := Render(DefaultRsh, alice, agentArgv)
	if err != nil {
		t.Fatal(err)
	}
	back, err := splitWords(got[len(got)-1])
	if err != nil || !slices.Equal(back, agentArgv) {
		t.Errorf("the {cmd} word splits back into %q, %v, want %q", back, err, agentArgv)
	}

	// Substituted text is not searched for placeholders again.
	got, err = Render("ssh {host} {cmd}", Host{Name: "n", User: "{name}"}, []string{"cp", "{host}"})
	if want := []string{"ssh", "{name}@n", "cp '{host}'"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Render = %q, %v, want %q", got, err, want)
	}
}

func TestRenderErrors(t *testing.T) {
	alice := Host{Name: "node3", User: "alice"}
	for _, c := range []struct {
		template string
		host     Host
		argv     []string
		want     string
	}{
		{"", alice, agentArgv, "empty"},
		{"  \n", alice, agentArgv, "empty"},
		{"ssh {host}", alice, agentArgv, "neither {cmd} nor {argv}"},
		{"ssh {host} {cmd} {argv}", alice, agentArgv, "both {cmd} and {argv}"},
		{"ssh {host} {cmd} {cmd}", alice, agentArgv, "more than once"},
		{"srun -w {name} {argv} {argv}", alice, agentArgv, "more than once"},
		{"ssh node3 {cmd}", alice, agentArgv, "every host would run the same command"},
		{"ssh {user} {cmd}", alice, agentArgv, "every host would run the same command"},
		{"ssh {hots} {cmd}", alice, agentArgv, "unknown placeholder {hots}"},
		{"ssh {host} {cmd} {CMD}", alice, agentArgv, "unknown placeholder {CMD}"},
		{"srun -w {name} x{argv}", alice, agentArgv, "{argv} must be a word of its own"},
		{"srun -w {name} '{argv} x'", alice, agentArgv, "{argv} must be a word of its own"},
		{"ssh -l {user} {name} {cmd}", Host{Name: "node3"}, agentArgv, `host "node3" has none`},
		{"ssh {host} {cmd}", alice, nil, "no command"},
		{"ssh {host} {cmd}", alice, []string{"a\x00b"}, "NUL"},
		{"ssh 'a {host} {cmd}", alice, agentArgv, "unbalanced single quote"},
		{`ssh "a {host} {cmd}`, alice, agentArgv, "unbalanced double quote"},
		{`ssh "a\" {host} {cmd}`, alice, agentArgv, "unbalanced double quote"},
		{`ssh {host} {cmd} \`, alice, agentArgv, "ends with a backslash"},
		{"ssh {host} {cmd} | tee log", alice, agentArgv, "never run by a shell"},
		{"ssh {host} {cmd}; true", alice, agentArgv, `';' outside quotes`},
		{"ssh {host} {cmd} &", alice, agentArgv, "never run by a shell"},
		{"ssh {host} {cmd} >log", alice, agentArgv, "never run by a shell"},
		{"ssh {host} {cmd} <in", alice, agentArgv, "never run by a shell"},
		{"ssh {host} {cmd} 2>&1", alice, agentArgv, "never run by a shell"},
		{"ssh $(cat opts) {host} {cmd}", alice, agentArgv, `"$(" would be expanded`},
		{"ssh `cat opts` {host} {cmd}", alice, agentArgv, "never run by a shell"},
		{"ssh \"`cat opts`\" {host} {cmd}", alice, agentArgv, "never run by a shell"},
		{`ssh "$(cat opts)" {host} {cmd}`, alice, agentArgv, "never run by a shell"},
		{"ssh -i $HOME/key {host} {cmd}", alice, agentArgv, `"$H" would be expanded`},
		{"ssh -i ${HOME}/key {host} {cmd}", alice, agentArgv, "never run by a shell"},
		{"ssh -i ~/key {host} {cmd}", alice, agentArgv, `"~"`},
		{"ssh {host} {cmd} # run it", alice, agentArgv, "comment"},
		{"ssh {host}\n{cmd}", alice, agentArgv, "line break"},
		{"(ssh {host} {cmd})", alice, agentArgv, "never run by a shell"},
		{"RSH=1 ssh {host} {cmd}", alice, agentArgv, "variable assignment"},
	} {
		got, err := Render(c.template, c.host, c.argv)
		if err == nil {
			t.Errorf("Render(%q) = %q, want an error", c.template, got)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Render(%q): %v, want an error with %q", c.template, err, c.want)
		}
	}
	// What a shell leaves alone is not refused.
	for _, ok := range []string{
		`ssh -o 'a|b;c&d>e<f$(g)` + "`h`" + `' {host} {cmd}`,
		`ssh "a|b;c&d>e<f'g" {host} {cmd}`,
		`ssh a\|b a\$HOME a\#b \~ a#b a~b a$ "$" "a$ b" {host} {cmd}`,
		`ssh '$HOME' '~' '#' {host} {cmd}`,
		`env RSH=1 ssh {host} {cmd}`,
	} {
		if _, err := Render(ok, alice, agentArgv); err != nil {
			t.Errorf("Render(%q): %v", ok, err)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"pcopy", "--serve-agent", "/usr/bin/pcopy"}, "pcopy --serve-agent /usr/bin/pcopy"},
		{[]string{"pcopy", "--host-timeout", "1m0s", "a_b.c:d@e%f+g,h", "--x=y"}, "pcopy --host-timeout 1m0s a_b.c:d@e%f+g,h --x=y"},
		{[]string{""}, "''"},
		{[]string{"a b", "it's", `"`, `\`, "$x", "~", "*", "a\nb"}, `'a b' 'it'\''s' '"' '\' '$x' '~' '*' 'a` + "\n" + `b'`},
		{[]string{"'"}, `''\'''`},
		{[]string{"X=1", "X=1", "=cmd"}, `'X=1' X=1 '=cmd'`},
		{[]string{"if", "if"}, `'if' if`},
		{[]string{"\xff"}, "'\xff'"},
		{nil, ""},
	} {
		if got := Quote(c.args); got != c.want {
			t.Errorf("Quote(%q) = %s, want %s", c.args, got, c.want)
		}
	}
}

// TestQuoteShell checks that a shell, and splitWords, split what Quote
// makes of random arguments back into the arguments.
func TestQuoteShell(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const special = "'\"\\\n\t $`*?[]{}~#!;&|<>()=%@,:^-_./ab"
	const plain = "abAZ09_-./:@%+,="
	randomArg := func() string {
		b := make([]byte, r.IntN(12))
		if r.IntN(2) == 0 { // plain characters but for one, if any
			for i := range b {
				b[i] = plain[r.IntN(len(plain))]
			}
			if len(b) > 0 {
				b[r.IntN(len(b))] = special[r.IntN(len(special))]
			}
			return string(b)
		}
		for i := range b {
			switch r.IntN(4) {
			case 0:
				b[i] = byte(1 + r.IntN(255)) // any byte but NUL, not always UTF-8
			default:
				b[i] = special[r.IntN(len(special))]
			}
		}
		return string(b)
	}
	var script strings.Builder
	var want []string
	for range 400 {
		args := make([]string, 1+r.IntN(5))
		for i := range args {
			args[i] = randomArg()
		}
		q := Quote(args)
		if back, err := splitWords(q); err != nil || !slices.Equal(back, args) {
			t.Fatalf("splitWords(Quote(%q)) = %q, %v", args, back, err)
		}
		script.WriteString("printf '%s\\0' " + q + "\n")
		want = append(want, args...)
	}
	ran := false
	for _, shell := range []string{"/bin/sh", "bash", "zsh", "ksh"} {
		path, err := exec.LookPath(shell)
		if err != nil {
			continue
		}
		ran = true
		out, err := exec.Command(path, "-c", script.String()).Output()
		if err != nil {
			t.Fatalf("%s: %v", shell, err)
		}
		got := strings.Split(string(bytes.TrimSuffix(out, []byte{0})), "\x00")
		if !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("%s gave back %q for %q (argument %d)", shell, got[i], want[i], i)
				}
			}
			t.Fatalf("%s gave back %d arguments, want %d", shell, len(got), len(want))
		}
	}
	if !ran {
		t.Skip("no /bin/sh")
	}
}
