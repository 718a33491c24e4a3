// Package program is the main function both binaries share: main only calls Main with the
// binary's run, which takes its arguments, environment and output as parameters (so tests
// call run itself).
package program

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// RunFunc is a binary's whole program: it parses args and the environment (getenv) and runs
// one command until ctx ends, reading stdin when the command takes input.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error

// ExitCode is an error that ends the process with that code, after the command has printed
// its own message.
type ExitCode int

// Error returns "exit N".
func (e ExitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// Main runs run with the process's arguments, environment and output, its context ending on
// SIGINT or SIGTERM, and exits: 0 on success, the code of an ExitCode, else 1 after printing
// "name: error" to stderr.
func Main(name string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(name, err, os.Stderr))
}

// exitCode is the process's exit code for run's err, printing err to stderr when it is not
// an ExitCode.
func exitCode(name string, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ex ExitCode
	if errors.As(err, &ex) {
		return int(ex)
	}
	fmt.Fprintln(stderr, name+":", err)
	return 1
}
