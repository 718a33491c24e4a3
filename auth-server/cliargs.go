package main

import (
	"fmt"
	"slices"
	"strings"
)

// cliArgs are a subcommand's parsed arguments: flags may stand anywhere among the positional
// arguments (`clients add NAME --confidential`), as `--name value` or `--name=value`; a flag
// of lists may repeat; everything after "--" is positional.
type cliArgs struct {
	bools map[string]bool
	lists map[string][]string
	args  []string
}

// parseCLIArgs reads args for a command whose boolean flags are bools and whose flags with
// values are lists (each may repeat).
func parseCLIArgs(cmd string, args []string, bools, lists []string) (cliArgs, error) {
	o := cliArgs{bools: map[string]bool{}, lists: map[string][]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.args = append(o.args, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "--") {
			o.args = append(o.args, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		switch {
		case slices.Contains(bools, name) && !hasVal:
			o.bools[name] = true
		case slices.Contains(lists, name):
			if !hasVal {
				if i+1 >= len(args) {
					return o, fmt.Errorf("%s: --%s needs a value", cmd, name)
				}
				i++
				val = args[i]
			}
			o.lists[name] = append(o.lists[name], val)
		default:
			return o, fmt.Errorf("%s: unknown flag %s (want %s)", cmd, a, flagList(bools, lists))
		}
	}
	return o, nil
}

func (o cliArgs) last(name string) string {
	if l := o.lists[name]; len(l) > 0 {
		return l[len(l)-1]
	}
	return ""
}

func flagList(bools, lists []string) string {
	var out []string
	for _, b := range bools {
		out = append(out, "--"+b)
	}
	for _, l := range lists {
		out = append(out, "--"+l+" VALUE")
	}
	if len(out) == 0 {
		return "no flags"
	}
	return strings.Join(out, ", ")
}
