// Command gen writes a new versioned migration for every dialect from the
// ent schema, after a change to ent/schema and `go generate ./...`:
//
//	go run ./db/migrations/gen -name add_foo
//
// Run it from the module root. It replays the checked-in migrations on
// clean dev databases (SQLite in memory; a scratch database on the
// PostgreSQL server named by TILL_MIGRATE_DEV_URL, default the local
// postgres://postgres@127.0.0.1:5432/test), diffs them against the ent
// schema and writes the difference as <version>_<name>.sql plus a new
// atlas.sum. Every dialect gets a file under the same version, so the
// schema version means the same on SQLite and PostgreSQL.
//
// It is not part of `go generate ./...`: regenerating code must never
// create a migration.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/tillpos/till/db"
)

const defaultDevURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var validName = regexp.MustCompile(`^[a-z0-9_]+$`)

func main() {
	name := flag.String("name", "", "what the migration does, in snake_case (required), e.g. add_foo")
	root := flag.String("dir", "db", "the directory of package db")
	flag.Parse()
	if err := run(context.Background(), *name, *root, os.Getenv("TILL_MIGRATE_DEV_URL")); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, name, root, devURL string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("-name %q: want snake_case letters, digits and underscores", name)
	}
	if devURL == "" {
		devURL = defaultDevURL
	}
	version := time.Now().UTC().Format("20060102150405")
	dirs := map[string]*atlasmigrate.LocalDir{}
	var changed, unchanged []string
	for _, d := range db.Dialects {
		path := filepath.Join(root, db.MigrationsPath(d))
		if err := os.MkdirAll(path, 0o755); err != nil {
			return err
		}
		dir, err := atlasmigrate.NewLocalDir(path)
		if err != nil {
			return fmt.Errorf("opening %s: %w", path, err)
		}
		dirs[d] = dir
		err = withDevDB(ctx, d, devURL, func(dev *sql.DB) error {
			return db.NewMigration(ctx, dev, d, dir, name, version)
		})
		switch {
		case errors.Is(err, db.ErrNoChanges):
			unchanged = append(unchanged, d)
		case err != nil:
			return err
		default:
			changed = append(changed, d)
			fmt.Printf("wrote %s\n", filepath.Join(path, version+"_"+name+".sql"))
		}
	}
	if len(changed) == 0 {
		return errors.New("nothing to migrate: the migrations already build the ent schema (did you run go generate ./...?)")
	}
	// A change that needs no SQL on some dialect (a PostgreSQL-only
	// annotation, say) still gets a file there, so versions stay in step.
	for _, d := range unchanged {
		if err := writeEmpty(dirs[d], version, name); err != nil {
			return err
		}
		fmt.Printf("wrote %s (no changes on %s)\n", filepath.Join(dirs[d].Path(), version+"_"+name+".sql"), d)
	}
	return nil
}

func writeEmpty(dir *atlasmigrate.LocalDir, version, name string) error {
	body := "-- This change needs no statements on this dialect; the file keeps versions in step.\n"
	if err := dir.WriteFile(version+"_"+name+".sql", []byte(body)); err != nil {
		return err
	}
	files, err := dir.Files()
	if err != nil {
		return err
	}
	sum, err := atlasmigrate.NewHashFile(files)
	if err != nil {
		return err
	}
	return atlasmigrate.WriteSumFile(dir, sum)
}

// withDevDB runs fn on an empty database of dialectName: SQLite in
// memory, or a scratch database on the PostgreSQL server at devURL,
// dropped after.
func withDevDB(ctx context.Context, dialectName, devURL string, fn func(*sql.DB) error) error {
	if dialectName == dialect.SQLite {
		dev, err := sql.Open("sqlite", "file:dev?mode=memory&_pragma=foreign_keys(1)")
		if err != nil {
			return err
		}
		defer dev.Close()
		dev.SetMaxOpenConns(1) // one connection: the in-memory database lives as long as it does
		return fn(dev)
	}
	admin, err := sql.Open("pgx", devURL)
	if err != nil {
		return fmt.Errorf("opening TILL_MIGRATE_DEV_URL: %w", err)
	}
	defer admin.Close()
	// A database of its own, not a schema: Atlas calls a database clean
	// only when no schema but an empty public one exists.
	name := "till_dev_" + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("creating a scratch database on the dev PostgreSQL (TILL_MIGRATE_DEV_URL): %w", err)
	}
	defer admin.ExecContext(context.WithoutCancel(ctx), "DROP DATABASE "+name)
	u, err := url.Parse(devURL)
	if err != nil {
		return fmt.Errorf("parsing TILL_MIGRATE_DEV_URL: %w", err)
	}
	u.Path = "/" + name
	dev, err := sql.Open("pgx", u.String())
	if err != nil {
		return err
	}
	defer dev.Close()
	return fn(dev)
}
