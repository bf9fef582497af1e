package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
	atlasschema "ariga.io/atlas/sql/schema"
	"ariga.io/atlas/sql/sqlite"
	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	entschema "entgo.io/ent/dialect/sql/schema"

	"github.com/tillpos/till/ent/migrate"
)

// migrationFiles are the checked-in migrations, one Atlas directory per
// dialect, each with the atlas.sum that pins its files.
//
//go:embed migrations/sqlite/*.sql migrations/sqlite/atlas.sum
//go:embed migrations/postgres/*.sql migrations/postgres/atlas.sum
var migrationFiles embed.FS

// Dialects are the database dialects Till has migrations for.
var Dialects = []string{dialect.SQLite, dialect.Postgres}

// MigrationsPath is the directory, relative to this package, holding the
// migrations of dialectName.
func MigrationsPath(dialectName string) string {
	if dialectName == dialect.Postgres {
		return "migrations/postgres"
	}
	return "migrations/sqlite"
}

// migrationDir reads the embedded migrations of dialectName, or those in
// files (tests give other migrations).
func migrationDir(files fs.FS, dialectName string) (*atlasmigrate.MemDir, error) {
	if files == nil {
		files = migrationFiles
	}
	root := MigrationsPath(dialectName)
	entries, err := fs.ReadDir(files, root)
	if err != nil {
		return nil, fmt.Errorf("reading embedded migrations: %w", err)
	}
	dir := &atlasmigrate.MemDir{}
	for _, e := range entries {
		b, err := fs.ReadFile(files, path.Join(root, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading embedded migration %s: %w", e.Name(), err)
		}
		if err := dir.WriteFile(e.Name(), b); err != nil {
			return nil, err
		}
	}
	return dir, nil
}

// SchemaVersion is the version of the newest migration this binary has:
// the schema version it runs on, for `till version` and backup manifests.
// The generator writes every migration for all dialects under one version,
// so it is the same for SQLite and PostgreSQL.
func SchemaVersion() string {
	dir, err := migrationDir(nil, dialect.SQLite)
	if err != nil {
		panic(err) // the embedded files are part of the binary
	}
	files, err := dir.Files()
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("no embedded migrations: %v", err))
	}
	return files[len(files)-1].Version()
}

// ErrNoChanges is returned by NewMigration when the migrations already
// build the ent schema.
var ErrNoChanges = errors.New("the migrations already match the ent schema")

// NewMigration writes into dir a migration named name, under version,
// that takes the schema dir's migrations build to the ent schema. It
// replays them on dev, an empty database of dialectName, and leaves it
// empty again. It returns ErrNoChanges when there is nothing to migrate.
func NewMigration(ctx context.Context, dev *sql.DB, dialectName string, dir atlasmigrate.Dir, name, version string) error {
	m, err := entPlanner(entsql.OpenDB(dialectName, dev), dir, entschema.ModeReplay, version)
	if err != nil {
		return err
	}
	if err := m.NamedDiff(ctx, name, migrate.Tables...); err != nil {
		if errors.Is(err, atlasmigrate.ErrNoPlan) {
			return ErrNoChanges
		}
		return fmt.Errorf("planning %s migration: %w", dialectName, err)
	}
	return nil
}

// entPlanner plans migrations from the ent schema into dir. Drops are
// planned too (the auto-migration never dropped anything), so the
// migrations build exactly the ent schema.
func entPlanner(drv dialect.Driver, dir atlasmigrate.Dir, mode entschema.Mode, version string) (*entschema.Atlas, error) {
	m, err := entschema.NewMigrate(drv,
		entschema.WithDir(dir),
		entschema.WithMigrationMode(mode),
		entschema.WithFormatter(versionFormatter(version)),
		entschema.WithForeignKeys(true),
		entschema.WithDropColumn(true),
		entschema.WithDropIndex(true),
		entschema.WithErrNoPlan(true),
	)
	if err != nil {
		return nil, fmt.Errorf("setting up the migration planner: %w", err)
	}
	return m, nil
}

// versionFormatter writes plans in Atlas's format under a fixed version,
// so one change gets the same version on every dialect.
func versionFormatter(version string) atlasmigrate.Formatter {
	return formatterFunc(func(p *atlasmigrate.Plan) ([]atlasmigrate.File, error) {
		p.Version = version
		return atlasmigrate.DefaultFormatter.Format(p)
	})
}

type formatterFunc func(*atlasmigrate.Plan) ([]atlasmigrate.File, error)

func (f formatterFunc) Format(p *atlasmigrate.Plan) ([]atlasmigrate.File, error) { return f(p) }

// atlasDriver opens Atlas's driver of dialectName on conn.
func atlasDriver(dialectName string, conn atlasschema.ExecQuerier) (atlasmigrate.Driver, error) {
	var (
		drv atlasmigrate.Driver
		err error
	)
	switch dialectName {
	case dialect.SQLite:
		drv, err = sqlite.Open(conn)
	case dialect.Postgres:
		drv, err = postgres.Open(conn)
	default:
		return nil, fmt.Errorf("no migrations for dialect %q", dialectName)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the %s migration driver: %w", dialectName, err)
	}
	return drv, nil
}
