package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// suite is what TestMain prepares once for every test: the built binaries and the OpenAPI
// validator. It is written before any test runs and only read afterwards.
var suite struct {
	authBin     string
	resourceBin string
	exampleBin  string
	moduleRoot  string
	api         *apiValidator
}

// TestMain builds both binaries once into a temporary folder. Under -short the package is
// skipped with one line; a build failure fails the run (it is never a skip).
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped under -short (the system tests build and run the real binaries)")
		os.Exit(0)
	}
	os.Exit(setupAndRun(m))
}

func setupAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "jwtauth-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := buildBinaries(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build failed:", err)
		return 1
	}
	api, err := loadAPIValidator(filepath.Join(suite.moduleRoot, "docs", "openapi.yaml"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: docs/openapi.yaml:", err)
		return 1
	}
	suite.api = api
	return m.Run()
}

// buildBinaries runs `go build -o` for both commands and the example service, concurrently, with -race when this
// test binary was built with it, so that data races in the servers fail the suite too.
func buildBinaries(dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return fmt.Errorf("not inside the module (go env GOMOD = %q)", gomod)
	}
	suite.moduleRoot = filepath.Dir(gomod)
	suite.authBin = filepath.Join(dir, "auth-server")
	suite.resourceBin = filepath.Join(dir, "resource-server")
	suite.exampleBin = filepath.Join(dir, "revocation-service")
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, b := range []struct{ out, pkg string }{{suite.authBin, "./auth-server"}, {suite.resourceBin, "./resource-server"},
		{suite.exampleBin, "./examples/revocation-service"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"build", "-o", b.out}
			if raceEnabled {
				args = append(args, "-race")
			}
			cmd := exec.CommandContext(ctx, "go", append(args, b.pkg)...)
			cmd.Dir = suite.moduleRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go %s: %w\n%s", strings.Join(cmd.Args[1:], " "), err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
