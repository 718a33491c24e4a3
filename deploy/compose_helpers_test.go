package deploy_test

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of docker-compose.yml the checks read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                  `yaml:"image"`
	Build       *composeBuild           `yaml:"build"`
	EnvFile     stringList              `yaml:"env_file"`
	Environment envMap                  `yaml:"environment"`
	Ports       []string                `yaml:"ports"`
	Volumes     []string                `yaml:"volumes"`
	DependsOn   map[string]composeDepOn `yaml:"depends_on"`
	Healthcheck *composeHealthcheck     `yaml:"healthcheck"`
}

type composeBuild struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type composeDepOn struct {
	Condition string `yaml:"condition"`
}

type composeHealthcheck struct {
	Test stringList `yaml:"test"`
}

// stringList is a Compose field given as one string or a list of strings.
type stringList []string

// UnmarshalYAML accepts a scalar or a sequence.
func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// envMap is a Compose `environment:`, given as a mapping or as a list of NAME=value.
type envMap map[string]string

// UnmarshalYAML accepts both forms; values are interpolated with their defaults.
func (m *envMap) UnmarshalYAML(n *yaml.Node) error {
	out := envMap{}
	switch n.Kind {
	case yaml.MappingNode:
		var raw map[string]string
		if err := n.Decode(&raw); err != nil {
			return err
		}
		for k, v := range raw {
			out[k] = interpolate(v)
		}
	case yaml.SequenceNode:
		var raw []string
		if err := n.Decode(&raw); err != nil {
			return err
		}
		for _, kv := range raw {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = interpolate(v)
		}
	default:
		return fmt.Errorf("environment: want a mapping or a list, line %d", n.Line)
	}
	*m = out
	return nil
}

var interpolation = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate resolves Compose's ${NAME:-default}, ${NAME-default}, ${NAME} and $NAME as if
// no variable were set (the defaults the file ships with), and $$ to $.
func interpolate(s string) string {
	return interpolation.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		return interpolation.FindStringSubmatch(m)[2]
	})
}

// loadCompose parses docker-compose.yml at the repository root.
func loadCompose(t testing.TB) composeFile {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal([]byte(readFile(t, "docker-compose.yml")), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	return c
}

// service returns the named service or fails.
func (c composeFile) service(t testing.TB, name string) composeService {
	t.Helper()
	s, ok := c.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %q", name)
	}
	return s
}

var commentedVar = regexp.MustCompile(`^#\s*([A-Z][A-Z0-9_]*)=(.*)$`)

// envExample reads an env example file: the values it sets, and all the variables it shows,
// including those commented out (`# NAME=value`), which a reader may uncomment.
func envExample(t testing.TB, rel string) (set, all map[string]string) {
	t.Helper()
	set, all = map[string]string{}, map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, rel)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if m := commentedVar.FindStringSubmatch(line); m != nil {
			all[m[1]] = strings.TrimSpace(m[2])
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s:%d: want NAME=value", rel, n)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if strings.ContainsAny(v, `"'`) {
			t.Errorf("%s:%d: %s is quoted; Compose v1 and `docker run --env-file` keep quotes as part of the value", rel, n, k)
		}
		set[k], all[k] = v, v
	}
	return set, all
}

// effectiveEnv is what a server container gets: its env example's values, overridden by the
// service's `environment:` in docker-compose.yml.
func effectiveEnv(t testing.TB, c composeFile, srv server) map[string]string {
	t.Helper()
	set, _ := envExample(t, srv.envExample)
	for k, v := range c.service(t, srv.service).Environment {
		set[k] = v
	}
	return set
}

// listenPort is the port of a listen address such as ":8080".
func listenPort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// urlPort is the port of an http(s) URL, explicit or implied.
func urlPort(u *url.URL) int {
	if p := u.Port(); p != "" {
		n, _ := strconv.Atoi(p)
		return n
	}
	if u.Scheme == "https" {
		return 443
	}
	return 80
}
