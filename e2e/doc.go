// Package e2e holds the system tests that run the real binaries: TestMain builds
// auth-server and resource-server once, each test starts the processes it needs on free
// ports with fresh databases, and every HTTP exchange is checked against docs/openapi.yaml.
// See README.md for the guarantees each test checks.
package e2e
