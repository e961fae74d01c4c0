package hosts

import (
	"fmt"
	"strings"
)

// DefaultRsh is the launcher template used when the user gives none: ssh,
// never asking for a password.
const DefaultRsh = "ssh -T -o BatchMode=yes {host} {cmd}"

// notShell ends the errors about what a shell would do with a template.
const notShell = "a launcher template is split into words by pcopy and never run by a shell"

// Render makes the command line that starts argv on host through a
// launcher. The template is split into words as a POSIX shell splits a
// simple command (quotes and backslashes, but no expansion, and no shell
// operators), and then its placeholders are replaced: a word that is just
// {argv} by the words of argv (for srun, mpirun, kubectl); {cmd}, in any
// word, by argv as one shell-quoted string (for ssh, whose remote side
// hands it to a shell); {host} by host.Target(); {name} by host.Name;
// {user} by host.User. A template has {host} or {name}, and either {cmd}
// or {argv}.
func Render(template string, host Host, argv []string) ([]string, error) {
	words, err := splitWords(template)
	if err != nil {
		return nil, err
	}
	if err := checkTemplate(words); err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("no command to run")
	}
	for _, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("argument %q contains a NUL byte", a)
		}
	}
	values := map[string]string{"host": host.Target(), "name": host.Name, "user": host.User, "cmd": Quote(argv)}
	var out []string
	for _, w := range words {
		if w == "{argv}" {
			out = append(out, argv...)
			continue
		}
		var b strings.Builder
		for {
			start, end, name := nextPlaceholder(w)
			if start < 0 {
				b.WriteString(w)
				break
			}
			if name == "user" && host.User == "" {
				return nil, fmt.Errorf("the template has {user}, and host %q has none", host.String())
			}
			b.WriteString(w[:start])
			b.WriteString(values[name])
			w = w[end:]
		}
		out = append(out, b.String())
	}
	return out, nil
}

// checkTemplate checks the placeholders in a template's words.
func checkTemplate(words []string) error {
	if len(words) == 0 {
		return fmt.Errorf("empty launcher template")
	}
	if name, _, ok := strings.Cut(words[0], "="); ok && isShellName(name) {
		return fmt.Errorf("%q: a shell would take it for a variable assignment, but %s (put env first: env %s ...)",
			words[0], notShell, words[0])
	}
	count := make(map[string]int)
	for _, w := range words {
		for rest := w; ; {
			start, end, name := nextPlaceholder(rest)
			if start < 0 {
				break
			}
			switch name {
			case "host", "name", "user", "cmd":
			case "argv":
				if w != "{argv}" {
					return fmt.Errorf("{argv} must be a word of its own, not part of %q", w)
				}
			default:
				return fmt.Errorf("unknown placeholder {%s} (known: {host}, {name}, {user}, {cmd}, {argv})", name)
			}
			count[name]++
			rest = rest[end:]
		}
	}
	switch {
	case count["cmd"] > 0 && count["argv"] > 0:
		return fmt.Errorf("the template has both {cmd} and {argv}: use {cmd} for a launcher that hands the command to a shell (ssh), {argv} for one that runs it itself (srun, mpirun, kubectl)")
	case count["cmd"]+count["argv"] == 0:
		return fmt.Errorf("the template has neither {cmd} nor {argv}: where does the command go?")
	case count["cmd"] > 1 || count["argv"] > 1:
		return fmt.Errorf("the template has the command more than once")
	case count["host"]+count["name"] == 0:
		return fmt.Errorf("the template has neither {host} nor {name}: every host would run the same command")
	}
	return nil
}

// nextPlaceholder finds the first placeholder in w: a name of letters,
// digits and underscores in braces. It returns where it starts and ends,
// and its name; start is -1 if there is none. Other braces are text.
func nextPlaceholder(w string) (start, end int, name string) {
	for i := 0; i < len(w); i++ {
		if w[i] != '{' {
			continue
		}
		j := i + 1
		for j < len(w) && isNameByte(w[j]) {
			j++
		}
		if j > i+1 && j < len(w) && w[j] == '}' {
			return i, j + 1, w[i+1 : j]
		}
	}
	return -1, -1, ""
}

func isNameByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isShellName reports whether s is a shell variable's name.
func isShellName(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// expands reports whether a "$" followed by rest would be expanded by a
// shell (a variable, a parameter, "${", "$(").
func expands(rest string) bool {
	return rest != "" && (isNameByte(rest[0]) || strings.IndexByte("{(@*#?-$!", rest[0]) >= 0)
}

// splitWords splits a command line into words as a POSIX shell would,
// without expanding anything, and refuses what a shell would do more
// with: operators, expansions, comments, a line break between words.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
			i++
		case c == '\n':
			if strings.TrimSpace(s[i:]) != "" {
				return nil, fmt.Errorf("a line break outside quotes would end the command, but %s", notShell)
			}
			i = len(s)
		case c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("the template ends with a backslash")
			}
			if s[i+1] != '\n' { // a backslash and a line break are nothing
				cur.WriteByte(s[i+1])
				inWord = true
			}
			i += 2
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("the template has an unbalanced single quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			inWord = true
			i += end + 2
		case c == '"':
			inWord = true
			end, err := doubleQuoted(s, i+1, &cur)
			if err != nil {
				return nil, err
			}
			i = end
		case strings.IndexByte("|;&<>()`", c) >= 0:
			return nil, fmt.Errorf("%q outside quotes: %s", c, notShell)
		case c == '$' && expands(s[i+1:]):
			return nil, fmt.Errorf("%q would be expanded by a shell, but %s", s[i:i+2], notShell)
		case !inWord && c == '#':
			return nil, fmt.Errorf("\"#\" would start a comment, but %s", notShell)
		case !inWord && c == '~':
			return nil, fmt.Errorf("\"~\" would be expanded by a shell, but %s", notShell)
		default:
			cur.WriteByte(c)
			inWord = true
			i++
		}
	}
	flush()
	return words, nil
}

// doubleQuoted reads the double-quoted text that starts at s[i] into b,
// and returns where the text after the closing quote starts.
func doubleQuoted(s string, i int, b *strings.Builder) (int, error) {
	for i < len(s) {
		switch c := s[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0:
			if s[i+1] != '\n' {
				b.WriteByte(s[i+1])
			}
			i += 2
		case c == '`':
			return 0, fmt.Errorf("\"`\" would be run by a shell, but %s", notShell)
		case c == '$' && expands(s[i+1:]):
			return 0, fmt.Errorf("%q would be expanded by a shell, but %s", s[i:i+2], notShell)
		default:
			b.WriteByte(c)
			i++
		}
	}
	return 0, fmt.Errorf("the template has an unbalanced double quote")
}

// Quote makes one line of POSIX shell words of args, that a shell splits
// back into args exactly: what {cmd} stands for. An argument of only
// plain characters is left bare ("pcopy", "--serve-agent",
// "/usr/bin/pcopy"); any other is put in single quotes, a quote in it
// closed, escaped and reopened, so that "it's" is written
//
//	'it'\''s'
//
// The shell must be a POSIX one (sh, bash, dash, ksh, zsh), not csh or
// fish.
func Quote(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		if isBare(a, i == 0) {
			b.WriteString(a)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

// reserved are the words a shell takes for its own at the start of a
// command.
var reserved = map[string]bool{
	"case": true, "coproc": true, "do": true, "done": true, "elif": true, "else": true, "esac": true,
	"fi": true, "for": true, "function": true, "if": true, "in": true, "select": true, "then": true,
	"time": true, "until": true, "while": true,
}

// isBare reports whether a can go unquoted: every shell takes it as
// itself. An "=" is plain only inside a word (zsh expands "=cmd"), and
// not in the command's name (which it would make an assignment).
func isBare(a string, first bool) bool {
	if a == "" || first && reserved[a] {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case isNameByte(c) || strings.IndexByte("-./:@%+,", c) >= 0:
		case c == '=' && i > 0 && !first:
		default:
			return false
		}
	}
	return true
}
