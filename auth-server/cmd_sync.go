package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

// syncCommand runs `auth-server sync status|replay`.
func syncCommand(ctx context.Context, cfg config, log *slog.Logger, args []string, stdout io.Writer) error {
	return errors.New("sync: not implemented yet")
}
