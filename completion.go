package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// fileValued are the options whose value is a path: completed as files
// (or, for --link-dest, directories).
var fileValued = map[string]string{
	"log": "file", "files-from": "file", "exclude-from": "file", "hostfile": "file",
	"remote-pcopy": "file", "link-dest": "dir",
}

// printCompletion writes the completion script for shell, made from the
// app's options, so that it never falls behind them. pcopy takes the
// shell as an option, not a subcommand: a DST named "completion" is a
// DST like any other.
func printCompletion(w io.Writer, app *cli.App, shell string) error {
	flags := app.VisibleFlags()
	switch shell {
	case "bash":
		io.WriteString(w, bashCompletion(flags))
	case "zsh":
		io.WriteString(w, zshCompletion(flags))
	case "fish":
		io.WriteString(w, fishCompletion(flags))
	default:
		return usageError{fmt.Sprintf("--completion: no script for %q: bash, zsh or fish", shell)}
	}
	return nil
}

// takesValue says whether f is given a value (--workers N), not set alone.
func takesValue(f cli.Flag) bool {
	df, ok := f.(cli.DocGenerationFlag)
	return ok && df.TakesValue()
}

// summary is the first clause of f's usage, for shells that show one.
func summary(f cli.Flag) string {
	df, ok := f.(cli.DocGenerationFlag)
	if !ok {
		return ""
	}
	u := strings.ReplaceAll(df.GetUsage(), "`", "")
	if i := strings.IndexAny(u, ";:("); i > 0 {
		u = u[:i]
	}
	return strings.TrimSpace(u)
}

func bashCompletion(flags []cli.Flag) string {
	var words, files, dirs, values []string
	for _, f := range flags {
		for _, n := range f.Names() {
			dash := "--"
			if len(n) == 1 {
				dash = "-"
			}
			words = append(words, dash+n)
			switch {
			case fileValued[f.Names()[0]] == "file":
				files = append(files, dash+n)
			case fileValued[f.Names()[0]] == "dir":
				dirs = append(dirs, dash+n)
			case takesValue(f):
				values = append(values, dash+n)
			}
		}
	}
	sort.Strings(words)
	return `# bash completion for pcopy (pcopy --completion bash)
_pcopy() {
    local cur prev
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    case "$prev" in
        ` + strings.Join(files, "|") + `)
            COMPREPLY=($(compgen -f -- "$cur")); return ;;
        ` + strings.Join(dirs, "|") + `)
            COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --completion)
            COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")); return ;;
        --hosts-from)
            COMPREPLY=($(compgen -W "slurm" -- "$cur")); return ;;
        ` + strings.Join(values, "|") + `)
            COMPREPLY=(); return ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "` + strings.Join(words, " ") + `" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o filenames -o bashdefault -F _pcopy pcopy
`
}

func zshCompletion(flags []cli.Flag) string {
	var b strings.Builder
	b.WriteString("#compdef pcopy\n# zsh completion for pcopy (pcopy --completion zsh)\n_arguments -s -S \\\n")
	esc := strings.NewReplacer("[", `\[`, "]", `\]`, ":", `\:`, "'", `'\''`)
	for _, f := range flags {
		action := ""
		switch {
		case f.Names()[0] == "completion":
			action = ":shell:(bash zsh fish)"
		case f.Names()[0] == "hosts-from":
			action = ":source:(slurm)"
		case fileValued[f.Names()[0]] == "file":
			action = ":file:_files"
		case fileValued[f.Names()[0]] == "dir":
			action = ":directory:_files -/"
		case takesValue(f):
			action = ":value: "
		}
		var names []string
		for _, n := range f.Names() {
			if len(n) == 1 {
				names = append(names, "-"+n)
			} else {
				names = append(names, "--"+n)
			}
		}
		repeat := ""
		if _, ok := f.(*cli.StringSliceFlag); ok || f.Names()[0] == "verbose" {
			repeat = "*"
		}
		spec := "'" + repeat + names[0] + "'"
		switch {
		case len(names) > 1 && repeat != "":
			spec = "'*'{" + strings.Join(names, ",") + "}"
		case len(names) > 1:
			spec = "'(" + strings.Join(names, " ") + ")'{" + strings.Join(names, ",") + "}"
		}
		fmt.Fprintf(&b, "  %s'[%s]%s' \\\n", spec, esc.Replace(summary(f)), action)
	}
	b.WriteString("  '1:source:_files' '2:destination:_files'\n")
	return b.String()
}

func fishCompletion(flags []cli.Flag) string {
	var b strings.Builder
	b.WriteString("# fish completion for pcopy (pcopy --completion fish)\ncomplete -c pcopy -F\n")
	for _, f := range flags {
		line := "complete -c pcopy"
		for _, n := range f.Names() {
			if len(n) == 1 {
				line += " -s " + n
			} else {
				line += " -l " + n
			}
		}
		switch {
		case f.Names()[0] == "completion":
			line += " -x -a 'bash zsh fish'"
		case f.Names()[0] == "hosts-from":
			line += " -x -a slurm"
		case fileValued[f.Names()[0]] != "":
			line += " -r -F"
		case takesValue(f):
			line += " -x"
		}
		line += " -d '" + strings.ReplaceAll(summary(f), "'", `\'`) + "'"
		b.WriteString(line + "\n")
	}
	return b.String()
}
