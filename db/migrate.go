package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrations embed.FS

// Schema names one of the project's two databases.
type Schema string

// The two schemas: the auth server's database and the resource server's app database.
const (
	AuthSchema Schema = "auth"
	AppSchema  Schema = "app"
)

// Migrate applies every pending migration of schema. On PostgreSQL a session advisory lock
// makes replicas that start together migrate one at a time; behind a transaction-mode pooler
// (prepared statements off, see PreparedStatements), where a session lock would stay held on
// whichever server connection took it, goose's table lock (a row of goose_lock with a lease
// renewed while the migration runs) does instead.
func Migrate(ctx context.Context, d *DB, schema Schema) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(schema))
	if err != nil {
		return fmt.Errorf("migrations %s: %w", schema, err)
	}
	dialect := goose.DialectSQLite3
	lockID := int64(0x6a7761757468) // "jwauth"
	if schema == AppSchema {
		lockID++
	}
	var opts []goose.ProviderOption
	switch {
	case d.Dialect == Postgres && d.clientPrepared:
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresTableLocker(lock.WithTableLockID(lockID),
			lock.WithTableLockTimeout(250*time.Millisecond, 1200)) // retried for 5 minutes
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithLocker(locker))
	case d.Dialect == Postgres:
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID))
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// Each schema keeps its own version table, so both may share one database.
	store, err := database.NewStore(dialect, "goose_"+string(schema)+"_version")
	if err != nil {
		return fmt.Errorf("migrations %s: %w", schema, err)
	}
	opts = append(opts, goose.WithStore(store), goose.WithGoMigrations(goMigrations(schema, d.flavor)...))
	p, err := goose.NewProvider(goose.DialectCustom, d.DB.DB, sub, opts...)
	if err != nil {
		return fmt.Errorf("migrations %s: %w", schema, err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", schema, err)
	}
	return nil
}
