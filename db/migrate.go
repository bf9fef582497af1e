package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	atlasschema "ariga.io/atlas/sql/schema"
	"entgo.io/ent/dialect"
)

// SchemaStatus is where a database's schema stands against the
// migrations in this binary.
type SchemaStatus struct {
	// Current is the version of the newest migration applied, "" when none.
	Current string
	// Latest is the newest migration this binary has (SchemaVersion).
	Latest string
	// Pending are the migration files not applied yet, oldest first.
	Pending []string
	// Empty is a database without tables.
	Empty bool
	// Unversioned is a database with tables but no migration applied:
	// made by the auto-migration of releases before versioned
	// migrations. Migrate adopts its tables as the first migration.
	Unversioned bool
	// Newer is a database migrated by a later release to a version this
	// binary does not know: it refuses to run on it.
	Newer bool
}

// SchemaNewerError is a database whose schema is newer than the binary.
type SchemaNewerError struct {
	Database, Binary string
}

func (e *SchemaNewerError) Error() string {
	return fmt.Sprintf("the database schema is at version %s, newer than this till knows (its newest is %s): "+
		"run the till release that migrated it or a later one", e.Database, e.Binary)
}

// ErrSchemaBehind is a database with migrations this binary has and it
// has not had.
var ErrSchemaBehind = errors.New("the database schema is behind this till")

// Applied is what ApplyMigrations did.
type Applied struct {
	// Adopted is the first migration, recorded as applied to the tables
	// an auto-migrated database already had, or "".
	Adopted string
	// Files are the migration files run, oldest first.
	Files []string
}

// Migrate brings the schema up to date with the running code by applying
// the checked-in migrations that the database has not had.
func (d *DB) Migrate(ctx context.Context) error {
	_, err := d.ApplyMigrations(ctx)
	return err
}

// MigrationStatus reports where the schema stands, without changing it.
func (d *DB) MigrationStatus(ctx context.Context) (SchemaStatus, error) {
	dir, err := migrationDir(d.migrations, d.Dialect)
	if err != nil {
		return SchemaStatus{}, err
	}
	return d.status(ctx, d.SQL, dir)
}

// CheckSchema is for a server that does not migrate on start: it returns
// a *SchemaNewerError for a newer schema, ErrSchemaBehind (wrapped, with
// the versions) when migrations are pending, and nil for a schema this
// binary runs on.
func (d *DB) CheckSchema(ctx context.Context) error {
	st, err := d.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	if st.Newer {
		return &SchemaNewerError{Database: st.Current, Binary: st.Latest}
	}
	if len(st.Pending) > 0 {
		current := st.Current
		if current == "" {
			current = "none"
		}
		return fmt.Errorf("%w: it is at version %s, this till needs %s (%d pending); run `till migrate`",
			ErrSchemaBehind, current, st.Latest, len(st.Pending))
	}
	return nil
}

// ApplyMigrations applies the pending migrations and says what it did.
// It refuses, changing nothing, a database newer than the binary.
//
// Everything runs in one transaction: a failed migration leaves the
// schema as it was. On PostgreSQL the transaction first takes an advisory
// lock per schema, so replicas starting together migrate once and the
// others then find nothing pending; on SQLite the immediate transaction
// is the lock.
func (d *DB) ApplyMigrations(ctx context.Context) (out Applied, err error) {
	dir, err := migrationDir(d.migrations, d.Dialect)
	if err != nil {
		return out, err
	}
	conn, err := d.SQL.Conn(ctx)
	if err != nil {
		return out, fmt.Errorf("migrating schema: %w", err)
	}
	defer conn.Close()
	if d.Dialect == dialect.SQLite {
		// SQLite alters a table by copying it and dropping the old one,
		// which with foreign keys on deletes or refuses the rows pointing
		// at it. The pragma does nothing inside a transaction, so it is
		// turned off around it, and the keys are checked before commit.
		if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = off"); err != nil {
			return out, fmt.Errorf("migrating schema: %w", err)
		}
		defer func() {
			if _, ferr := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = on"); ferr != nil {
				err = errors.Join(err, fmt.Errorf("turning foreign keys back on: %w", ferr))
			}
		}()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return out, fmt.Errorf("migrating schema: %w", err)
	}
	defer tx.Rollback()
	if out, err = d.applyIn(ctx, tx, dir); err != nil {
		return Applied{}, err
	}
	if d.Dialect == dialect.SQLite {
		if err := checkForeignKeys(ctx, tx); err != nil {
			return Applied{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return Applied{}, fmt.Errorf("migrating schema: committing: %w", err)
	}
	return out, nil
}

func (d *DB) applyIn(ctx context.Context, tx *sql.Tx, dir *atlasmigrate.MemDir) (out Applied, err error) {
	if d.Dialect == dialect.Postgres {
		if err := lockSchema(ctx, tx); err != nil {
			return out, err
		}
	}
	st, err := d.status(ctx, tx, dir)
	if err != nil {
		return out, err
	}
	if st.Newer {
		return out, &SchemaNewerError{Database: st.Current, Binary: st.Latest}
	}
	revs := &revisions{conn: tx, dialect: d.Dialect}
	if err := revs.create(ctx); err != nil {
		return out, err
	}
	drv, err := atlasDriver(d.Dialect, tx)
	if err != nil {
		return out, err
	}
	files, err := dir.Files()
	if err != nil {
		return out, err
	}
	opts := []atlasmigrate.ExecutorOption{atlasmigrate.WithOperatorVersion("till")}
	if st.Unversioned {
		if err := d.adopt(ctx, tx, drv, files[0]); err != nil {
			return out, err
		}
		out.Adopted = files[0].Name()
		opts = append(opts, atlasmigrate.WithBaselineVersion(files[0].Version()))
	}
	ex, err := atlasmigrate.NewExecutor(checkedClean{drv}, dir, revs, opts...)
	if err != nil {
		return out, fmt.Errorf("migrating schema: %w", err)
	}
	// Pending also checks the files against atlas.sum and the history
	// for migrations added out of order.
	pending, err := ex.Pending(ctx)
	if errors.Is(err, atlasmigrate.ErrNoPendingFiles) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("migrating schema: %w", err)
	}
	for _, f := range pending {
		if err := ex.Execute(ctx, f); err != nil {
			// A failed statement aborts the transaction on PostgreSQL, so
			// Atlas's attempt to record the failure fails too: report the
			// statement.
			var stmt *atlasmigrate.StmtExecError
			if errors.As(err, &stmt) {
				err = stmt
			}
			return out, fmt.Errorf("applying migration %s: %w", f.Name(), err)
		}
		out.Files = append(out.Files, f.Name())
	}
	return out, nil
}

// checkedClean is Atlas's driver without its check that a database with
// no revisions is empty: status has checked the connected schema, and on
// PostgreSQL Atlas's check inspects every schema of the database, which
// fails while other schemas are being dropped.
type checkedClean struct{ atlasmigrate.Driver }

func (checkedClean) CheckClean(context.Context, *atlasmigrate.TableIdent) error { return nil }

// lockSchema holds an advisory lock on the connected schema until the
// transaction ends, waiting for any other migrator to finish first.
func lockSchema(ctx context.Context, tx *sql.Tx) error {
	var schema string
	if err := tx.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("migrating schema: reading the current schema: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("till migrate " + schema))
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
		return fmt.Errorf("migrating schema: taking the migration lock: %w", err)
	}
	return nil
}

func checkForeignKeys(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("migrating schema: checking foreign keys: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var table string
		var rowid sql.NullInt64
		var parent string
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			return fmt.Errorf("migrating schema: checking foreign keys: %w", err)
		}
		return fmt.Errorf("migrating schema: a row of %s (rowid %d) points at a missing %s row", table, rowid.Int64, parent)
	}
	return rows.Err()
}

func (d *DB) status(ctx context.Context, conn atlasschema.ExecQuerier, dir *atlasmigrate.MemDir) (SchemaStatus, error) {
	files, err := dir.Files()
	if err != nil {
		return SchemaStatus{}, fmt.Errorf("reading migrations: %w", err)
	}
	if len(files) == 0 {
		return SchemaStatus{}, errors.New("this till has no migrations")
	}
	st := SchemaStatus{Latest: files[len(files)-1].Version()}
	tables, err := listTables(ctx, conn, d.Dialect)
	if err != nil {
		return st, err
	}
	var revs []*atlasmigrate.Revision
	if slices.Contains(tables, RevisionsTable) {
		if revs, err = (&revisions{conn: conn, dialect: d.Dialect}).ReadRevisions(ctx); err != nil {
			return st, err
		}
		tables = slices.DeleteFunc(tables, func(t string) bool { return t == RevisionsTable })
	}
	if len(revs) > 0 {
		st.Current = revs[len(revs)-1].Version
	}
	st.Empty = len(tables) == 0
	st.Unversioned = len(revs) == 0 && !st.Empty
	st.Newer = st.Current > st.Latest
	for _, f := range files {
		if f.Version() > st.Current {
			st.Pending = append(st.Pending, f.Name())
		}
	}
	return st, nil
}

// adopt brings the tables of an auto-migrated database to the first
// migration's schema, so that it can be recorded as applied: it adds the
// tables, columns, indexes and keys an older release had not made yet.
// Tables, columns and indexes the auto-migration left behind (it never
// dropped any) stay. Any other difference is refused.
func (d *DB) adopt(ctx context.Context, tx *sql.Tx, drv atlasmigrate.Driver, baseline atlasmigrate.File) error {
	live, err := drv.InspectSchema(ctx, "", &atlasschema.InspectOptions{Exclude: []string{RevisionsTable}})
	if err != nil {
		return fmt.Errorf("adopting the existing tables: inspecting them: %w", err)
	}
	want, err := d.baselineSchema(ctx, tx, baseline)
	if err != nil {
		return err
	}
	want.Name, want.Attrs = live.Name, live.Attrs
	changes, err := drv.SchemaDiff(live, want)
	if err != nil {
		return fmt.Errorf("adopting the existing tables: comparing them with %s: %w", baseline.Name(), err)
	}
	add, conflicts := additive(changes)
	if len(conflicts) > 0 {
		return fmt.Errorf("adopting the existing tables: they differ from migration %s in ways Till does not change by itself: %s",
			baseline.Name(), strings.Join(conflicts, "; "))
	}
	if len(add) == 0 {
		return nil
	}
	noQualifier := ""
	plan, err := drv.PlanChanges(ctx, "adopt", add, func(o *atlasmigrate.PlanOptions) { o.SchemaQualifier = &noQualifier })
	if err != nil {
		return fmt.Errorf("adopting the existing tables: planning: %w", err)
	}
	for _, c := range plan.Changes {
		if _, err := tx.ExecContext(ctx, c.Cmd, c.Args...); err != nil {
			return fmt.Errorf("adopting the existing tables: %s: %w", c.Comment, err)
		}
	}
	return nil
}

// additive splits changes into those that only add, which adopt applies,
// and descriptions of those that alter something, which it refuses.
// Drops are left out of both.
func additive(changes []atlasschema.Change) (add []atlasschema.Change, conflicts []string) {
	for _, c := range changes {
		switch c := c.(type) {
		case *atlasschema.AddTable:
			add = append(add, c)
		case *atlasschema.DropTable:
		case *atlasschema.ModifyTable:
			var adds []atlasschema.Change
			for _, tc := range c.Changes {
				switch tc := tc.(type) {
				case *atlasschema.AddColumn, *atlasschema.AddIndex, *atlasschema.AddForeignKey, *atlasschema.AddCheck:
					adds = append(adds, tc)
				case *atlasschema.DropColumn, *atlasschema.DropIndex:
				default:
					conflicts = append(conflicts, fmt.Sprintf("table %s: %s", c.T.Name, describe(tc)))
				}
			}
			if len(adds) > 0 {
				add = append(add, &atlasschema.ModifyTable{T: c.T, Changes: adds})
			}
		default:
			conflicts = append(conflicts, describe(c))
		}
	}
	return add, conflicts
}

func describe(c atlasschema.Change) string {
	switch c := c.(type) {
	case *atlasschema.ModifyColumn:
		return "column " + c.To.Name + " differs"
	case *atlasschema.ModifyIndex:
		return "index " + c.To.Name + " differs"
	case *atlasschema.DropForeignKey:
		return "foreign key " + c.F.Symbol + " is not in the migration"
	case *atlasschema.ModifyForeignKey:
		return "foreign key " + c.To.Symbol + " differs"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", c), "*schema.")
}

// baselineSchema is the schema the first migration builds, inspected from
// a scratch copy: an in-memory SQLite database, or on PostgreSQL a
// schema made and dropped inside tx.
func (d *DB) baselineSchema(ctx context.Context, tx *sql.Tx, baseline atlasmigrate.File) (*atlasschema.Schema, error) {
	stmts, err := baseline.Stmts()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", baseline.Name(), err)
	}
	replay := func(conn atlasschema.ExecQuerier) (*atlasschema.Schema, error) {
		for _, s := range stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				return nil, fmt.Errorf("replaying %s: %w", baseline.Name(), err)
			}
		}
		drv, err := atlasDriver(d.Dialect, conn)
		if err != nil {
			return nil, err
		}
		s, err := drv.InspectSchema(ctx, "", nil)
		if err != nil {
			return nil, fmt.Errorf("inspecting %s: %w", baseline.Name(), err)
		}
		return s, nil
	}
	if d.Dialect == dialect.SQLite {
		scratch, err := sql.Open("sqlite", "file:baseline?mode=memory&_pragma=foreign_keys(1)")
		if err != nil {
			return nil, err
		}
		defer scratch.Close()
		scratch.SetMaxOpenConns(1) // the in-memory database lives as long as its one connection
		return replay(scratch)
	}
	var searchPath string
	if err := tx.QueryRowContext(ctx, "SELECT current_setting('search_path')").Scan(&searchPath); err != nil {
		return nil, fmt.Errorf("reading the search path: %w", err)
	}
	name := "till_baseline_" + strings.ToLower(rand.Text())
	for _, stmt := range []string{"CREATE SCHEMA " + name, "SET LOCAL search_path TO " + name} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("making a scratch schema for %s: %w", baseline.Name(), err)
		}
	}
	s, err := replay(tx)
	if err != nil {
		return nil, err
	}
	for _, stmt := range []string{"SET LOCAL search_path TO " + searchPath, "DROP SCHEMA " + name + " CASCADE"} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("dropping the scratch schema for %s: %w", baseline.Name(), err)
		}
	}
	return s, nil
}
