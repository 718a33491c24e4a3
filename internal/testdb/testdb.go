// Package testdb gives tests fresh, migrated databases: a SQLite file in a temporary folder
// always, and a PostgreSQL database of its own (created and dropped around the test) when
// TEST_DATABASE_URL names a superuser connection.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jwtauth/jwtauth/db"
)

// EnvVar is the variable holding the PostgreSQL superuser URL.
const EnvVar = "TEST_DATABASE_URL"

// SQLiteURL returns the URL of a new SQLite database in a temporary folder.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
}

// PostgresURL creates a fresh PostgreSQL database and returns its URL; the database is
// dropped when the test ends. The test is skipped when TEST_DATABASE_URL is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvVar)
	if admin == "" {
		t.Skip("PostgreSQL tests skipped: set " + EnvVar + " to a superuser URL to run them")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := db.Open(ctx, admin, 2)
	if err != nil {
		t.Fatalf("connect %s: %v", EnvVar, err)
	}
	defer a.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	if _, err := a.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		a, err := db.Open(ctx, admin, 1)
		if err != nil {
			t.Logf("drop database %s: %v", name, err)
			return
		}
		defer a.Close()
		if _, err := a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvVar, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Open opens and migrates the database at rawURL for schema; it is closed when the test ends.
func Open(t testing.TB, rawURL string, schema db.Schema) *db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := db.Open(ctx, rawURL, 8)
	if err != nil {
		t.Fatalf("open %s: %v", db.Redact(rawURL), err)
	}
	t.Cleanup(func() { _ = d.Close() })
	if err := db.Migrate(ctx, d, schema); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return d
}

// Each runs fn as a subtest on a fresh migrated SQLite database ("sqlite") and, when
// TEST_DATABASE_URL is set, on a fresh migrated PostgreSQL database ("postgres"). It is how
// one conformance suite holds both stores to the same behaviour.
func Each(t *testing.T, schema db.Schema, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, Open(t, SQLiteURL(t), schema)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Open(t, PostgresURL(t), schema)) })
}

// Name returns a random name with prefix, for test fixtures.
func Name(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s%s", prefix, hex.EncodeToString(b))
}
