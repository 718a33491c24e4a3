package deploy_test

import (
	"bufio"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ENV, USER, …
	args string
}

// parseDockerfile splits a Dockerfile into instructions, dropping comments.
func parseDockerfile(t testing.TB, rel string) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(strings.NewReader(readFile(t, rel)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cont := strings.HasSuffix(line, `\`)
		cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
		if cont {
			continue
		}
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

var secretName = regexp.MustCompile(`(?i)SECRET|KEY_ENCRYPTION|PASSWORD|_PWD\b|TOKEN`)

// dockerfileFacts is what the checks need to know of one Dockerfile.
type dockerfileFacts struct {
	froms    []string // every stage's base image, in order
	user     string   // the final stage's USER ("" when none)
	expose   string
	cgoOff   bool     // CGO_ENABLED=0 set for the build
	built    bool     // a `go build` of ./<pkg>
	problems []string // secrets baked in, env files copied
}

// inspectDockerfile collects the facts of a Dockerfile that builds package pkg.
func inspectDockerfile(ins []instruction, pkg string) dockerfileFacts {
	var f dockerfileFacts
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			f.froms = append(f.froms, in.args)
			f.user = "" // USER applies per stage; only the final stage's counts
		case "ENV", "ARG":
			f.cgoOff = f.cgoOff || strings.Contains(in.args, "CGO_ENABLED=0")
			if secretName.MatchString(in.args) {
				f.problems = append(f.problems, in.cmd+" "+in.args+": no secret may be baked into the image")
			}
		case "RUN":
			if strings.Contains(in.args, "go build") {
				f.cgoOff = f.cgoOff || strings.Contains(in.args, "CGO_ENABLED=0")
				f.built = f.built || strings.HasSuffix(in.args, "./"+pkg) || strings.Contains(in.args, "./"+pkg+" ")
			}
		case "COPY", "ADD":
			if strings.Contains(in.args, ".env") {
				f.problems = append(f.problems, in.cmd+" "+in.args+": env files are given at run time, never copied")
			}
		case "USER":
			f.user = in.args
		case "EXPOSE":
			f.expose = in.args
		}
	}
	return f
}

func TestDockerfiles(t *testing.T) {
	for _, srv := range servers {
		rel := filepath.Join(srv.pkg, "Dockerfile")
		t.Run(rel, func(t *testing.T) {
			f := inspectDockerfile(parseDockerfile(t, rel), srv.pkg)
			port, err := listenPort(stringDefault(t, srv, srv.addrVar))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range f.problems {
				t.Error(p)
			}
			if len(f.froms) < 2 || !strings.HasPrefix(f.froms[0], "golang:1.26") {
				t.Errorf("FROM %v: want a multi-stage build from golang:1.26", f.froms)
			} else if last := f.froms[len(f.froms)-1]; strings.HasPrefix(last, "golang") {
				t.Errorf("final stage FROM %s: want a small runtime image", last)
			}
			if !f.cgoOff {
				t.Error("the build must set CGO_ENABLED=0")
			}
			if !f.built {
				t.Errorf("no `go build … ./%s`", srv.pkg)
			}
			if name, _, _ := strings.Cut(f.user, ":"); name == "" || name == "root" || name == "0" {
				t.Errorf("final stage USER %q: want a non-root user", f.user)
			}
			if f.expose != strconv.Itoa(port) {
				t.Errorf("EXPOSE %q, want %d", f.expose, port)
			}
		})
	}
}

func TestDockerignoreKeepsSecretsOut(t *testing.T) {
	lines := map[string]bool{}
	for _, l := range strings.Split(readFile(t, ".dockerignore"), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, want := range []string{".env", "**/.env", "**/*.env", ".git", "data"} {
		if !lines[want] {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
}
