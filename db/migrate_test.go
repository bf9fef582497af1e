package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	atlasschema "ariga.io/atlas/sql/schema"
	"github.com/stretchr/testify/require"

	entmigrate "github.com/tillpos/till/ent/migrate"
)

// entTables serializes the tests that hand ent's table descriptions to
// its migration engine, which rewrites them on every run.
var entTables sync.Mutex

// forEachDialect runs fn on SQLite, and on PostgreSQL when
// TILL_TEST_DATABASE_URL is set. newURL gives an empty database of the
// dialect's own each time it is called.
func forEachDialect(t *testing.T, fn func(t *testing.T, newURL func() string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, func() string { return "file:" + filepath.Join(t.TempDir(), "till.db") })
	})
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("TILL_TEST_DATABASE_URL")
		if base == "" {
			t.Skip("TILL_TEST_DATABASE_URL is not set")
		}
		t.Parallel()
		fn(t, func() string { return pgSchemaURL(t, base) })
	})
}

// pgSchemaURL makes a schema of the test's own in the PostgreSQL at base
// and returns a URL that works in it.
func pgSchemaURL(t *testing.T, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	schema := "t_" + strings.ToLower(rand.Text())
	_, err = admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		require.NoError(t, err)
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t *testing.T, rawURL string) *DB {
	t.Helper()
	d, err := Open(t.Context(), rawURL, 2)
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	return d
}

// requireMatchesEnt fails unless d's schema is exactly the ent schema:
// what ent itself builds in an empty database (at scratchURL) and what
// the migrations built in d, both inspected, must not differ.
func requireMatchesEnt(t *testing.T, d *DB, scratchURL string) {
	t.Helper()
	ctx := t.Context()
	scratch := open(t, scratchURL)
	entTables.Lock()
	err := scratch.Schema.Create(ctx, entmigrate.WithForeignKeys(true))
	entTables.Unlock()
	require.NoError(t, err)

	var names []string
	for _, tbl := range entmigrate.Tables {
		names = append(names, tbl.Name)
	}
	inspect := func(d *DB) (atlasmigrate.Driver, *atlasschema.Schema) {
		drv, err := atlasDriver(d.Dialect, d.SQL)
		require.NoError(t, err)
		s, err := drv.InspectSchema(ctx, "", &atlasschema.InspectOptions{Tables: names})
		require.NoError(t, err)
		return drv, s
	}
	drv, live := inspect(d)
	_, want := inspect(scratch)
	want.Name, want.Attrs = live.Name, live.Attrs
	changes, err := drv.SchemaDiff(live, want)
	require.NoError(t, err)
	if len(changes) == 0 {
		return
	}
	noQualifier := ""
	plan, err := drv.PlanChanges(ctx, "missing", changes, func(o *atlasmigrate.PlanOptions) { o.SchemaQualifier = &noQualifier })
	require.NoError(t, err)
	var stmts []string
	for _, c := range plan.Changes {
		stmts = append(stmts, c.Cmd+";")
	}
	t.Fatalf("ent/schema has changes that no migration in db/migrations makes.\n"+
		"Run `go run ./db/migrations/gen -name <what_changed>` (see its doc) and commit db/migrations.\n"+
		"On %s the missing statements are:\n%s", d.Dialect, strings.Join(stmts, "\n"))
}

// TestMigrationsMatchEntSchema is what fails when ent/schema changes
// without a migration.
func TestMigrationsMatchEntSchema(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, newURL func() string) {
		d := open(t, newURL())
		applied, err := d.ApplyMigrations(t.Context())
		require.NoError(t, err)
		require.Empty(t, applied.Adopted)
		require.NotEmpty(t, applied.Files)
		requireMatchesEnt(t, d, newURL())
	})
}

func TestMigrationsHaveTheSameVersionsOnEveryDialect(t *testing.T) {
	t.Parallel()
	var want []string
	for i, dialectName := range Dialects {
		dir, err := migrationDir(nil, dialectName)
		require.NoError(t, err)
		require.NoError(t, atlasmigrate.Validate(dir), "%s: atlas.sum matches the files", dialectName)
		files, err := dir.Files()
		require.NoError(t, err)
		var versions []string
		for _, f := range files {
			versions = append(versions, f.Version())
		}
		if i == 0 {
			want = versions
			continue
		}
		require.Equal(t, want, versions, "%s has the migrations of %s", dialectName, Dialects[0])
	}
	require.Equal(t, want[len(want)-1], SchemaVersion())
}

func TestMigrationStatus(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, newURL func() string) {
		ctx := t.Context()
		d := open(t, newURL())
		st, err := d.MigrationStatus(ctx)
		require.NoError(t, err)
		require.Equal(t, SchemaStatus{Latest: SchemaVersion(), Pending: embeddedNames(t, d.Dialect), Empty: true}, st)
		require.ErrorIs(t, d.CheckSchema(ctx), ErrSchemaBehind)
		require.ErrorContains(t, d.CheckSchema(ctx), "it is at version none, this till needs "+SchemaVersion())

		require.NoError(t, d.Migrate(ctx))
		st, err = d.MigrationStatus(ctx)
		require.NoError(t, err)
		require.Equal(t, SchemaStatus{Current: SchemaVersion(), Latest: SchemaVersion()}, st)
		require.NoError(t, d.CheckSchema(ctx))

		applied, err := d.ApplyMigrations(ctx)
		require.NoError(t, err)
		require.Equal(t, Applied{}, applied, "an up-to-date database gets nothing")
	})
}

func TestMigrateRefusesANewerSchema(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, newURL func() string) {
		ctx := t.Context()
		d := open(t, newURL())
		require.NoError(t, d.Migrate(ctx))
		// What a later release leaves behind.
		later := "29991231235959"
		rev := &atlasmigrate.Revision{Version: later, Description: "later", Type: atlasmigrate.RevisionTypeExecute, ExecutedAt: time.Now()}
		require.NoError(t, (&revisions{conn: d.SQL, dialect: d.Dialect}).WriteRevision(ctx, rev))

		st, err := d.MigrationStatus(ctx)
		require.NoError(t, err)
		require.True(t, st.Newer)
		require.Equal(t, later, st.Current)
		require.Empty(t, st.Pending)

		for name, err := range map[string]error{"Migrate": d.Migrate(ctx), "CheckSchema": d.CheckSchema(ctx)} {
			var newer *SchemaNewerError
			require.ErrorAs(t, err, &newer, name)
			require.Equal(t, SchemaNewerError{Database: later, Binary: SchemaVersion()}, *newer, name)
			require.ErrorContains(t, err, "the database schema is at version "+later+", newer than this till knows (its newest is "+SchemaVersion()+")", name)
		}
	})
}

// withExtra is the embedded migrations plus, on every dialect, a file
// named name with body, and atlas.sum updated.
func withExtra(t *testing.T, name, body string) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	for _, dialectName := range Dialects {
		dir, err := migrationDir(nil, dialectName)
		require.NoError(t, err)
		require.NoError(t, dir.WriteFile(name, []byte(body)))
		files, err := dir.Files()
		require.NoError(t, err)
		sum, err := atlasmigrate.NewHashFile(files)
		require.NoError(t, err)
		require.NoError(t, atlasmigrate.WriteSumFile(dir, sum))
		for _, f := range append(files, nil) {
			n := atlasmigrate.HashFileName
			if f != nil {
				n = f.Name()
			}
			b, err := fs.ReadFile(dir, n)
			require.NoError(t, err)
			out[path.Join(MigrationsPath(dialectName), n)] = &fstest.MapFile{Data: b}
		}
	}
	return out
}

func embeddedNames(t *testing.T, dialectName string) []string {
	t.Helper()
	dir, err := migrationDir(nil, dialectName)
	require.NoError(t, err)
	files, err := dir.Files()
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	return names
}

func TestMigrateAppliesPendingMigrations(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, newURL func() string) {
		ctx := t.Context()
		d := open(t, newURL())
		require.NoError(t, d.Migrate(ctx))

		d.migrations = withExtra(t, "29990101000000_add_note.sql", "ALTER TABLE merchants ADD COLUMN note text;\n")
		st, err := d.MigrationStatus(ctx)
		require.NoError(t, err)
		require.Equal(t, SchemaStatus{Current: SchemaVersion(), Latest: "29990101000000", Pending: []string{"29990101000000_add_note.sql"}}, st)
		require.ErrorIs(t, d.CheckSchema(ctx), ErrSchemaBehind)

		applied, err := d.ApplyMigrations(ctx)
		require.NoError(t, err)
		require.Equal(t, Applied{Files: []string{"29990101000000_add_note.sql"}}, applied)
		_, err = d.SQL.ExecContext(ctx, "UPDATE merchants SET note = 'x'")
		require.NoError(t, err, "the column exists")
		require.NoError(t, d.CheckSchema(ctx))
	})
}

func TestMigrateRollsBackAFailedMigration(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, newURL func() string) {
		ctx := t.Context()
		d := open(t, newURL())
		require.NoError(t, d.Migrate(ctx))
		d.migrations = withExtra(t, "29990101000000_broken.sql",
			"ALTER TABLE merchants ADD COLUMN note text;\nALTER TABLE no_such_table ADD COLUMN x text;\n")
		_, err := d.ApplyMigrations(ctx)
		require.ErrorContains(t, err, "applying migration 29990101000000_broken.sql")
		require.ErrorContains(t, err, "no_such_table")

		st, err := d.MigrationStatus(ctx)
		require.NoError(t, err)
		require.Equal(t, SchemaVersion(), st.Current, "the failed migration is not recorded")
		_, err = d.SQL.ExecContext(ctx, "UPDATE merchants SET note = 'x'")
		require.Error(t, err, "the statement before the failure was rolled back")
	})
}

func TestMigrateRefusesATamperedMigration(t *testing.T) {
	t.Parallel()
	d := open(t, "file:"+filepath.Join(t.TempDir(), "till.db"))
	files := withExtra(t, "29990101000000_add_note.sql", "ALTER TABLE merchants ADD COLUMN note text;\n").(fstest.MapFS)
	files[path.Join(MigrationsPath(d.Dialect), "29990101000000_add_note.sql")] = &fstest.MapFile{Data: []byte("DROP TABLE merchants;\n")}
	d.migrations = files
	_, err := d.ApplyMigrations(t.Context())
	require.ErrorIs(t, err, atlasmigrate.ErrChecksumMismatch)
	st, err := d.MigrationStatus(t.Context())
	require.NoError(t, err)
	require.True(t, st.Empty, "nothing was applied")
}

// TestMigrateOnceAcrossConcurrentMigrators is several replicas starting
// at once on one database.
func TestMigrateOnceAcrossConcurrentMigrators(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, newURL func() string) {
		u := newURL()
		var (
			wg      sync.WaitGroup
			results = make([]Applied, 3)
			errs    = make([]error, 3)
		)
		for i := range results {
			d := open(t, u)
			wg.Go(func() { results[i], errs[i] = d.ApplyMigrations(t.Context()) })
		}
		wg.Wait()
		ran := 0
		for i := range results {
			require.NoError(t, errs[i])
			if len(results[i].Files) > 0 {
				ran++
			}
		}
		require.Equal(t, 1, ran, "one migrator applied the migrations, the others found none pending")
	})
}

// TestMigrateAdoptsAnAutoMigratedDatabase is a database made by the
// auto-migration (ent's Schema.Create) of releases before versioned
// migrations.
func TestMigrateAdoptsAnAutoMigratedDatabase(t *testing.T) {
	t.Parallel()
	autoMigrate := func(t *testing.T, d *DB) {
		t.Helper()
		entTables.Lock()
		defer entTables.Unlock()
		require.NoError(t, d.Schema.Create(t.Context(), entmigrate.WithForeignKeys(true)))
	}
	forEachDialect(t, func(t *testing.T, newURL func() string) {
		t.Run("made by the last release", func(t *testing.T) {
			ctx := t.Context()
			d := open(t, newURL())
			autoMigrate(t, d)
			op, err := d.Operator.Create().SetEmail("a@ops.example").SetName("A").SetPasswordHash("x").Save(sys(t))
			require.NoError(t, err)

			st, err := d.MigrationStatus(ctx)
			require.NoError(t, err)
			require.True(t, st.Unversioned)
			require.False(t, st.Empty)
			require.Equal(t, embeddedNames(t, d.Dialect), st.Pending)

			applied, err := d.ApplyMigrations(ctx)
			require.NoError(t, err)
			names := embeddedNames(t, d.Dialect)
			require.Equal(t, names[0], applied.Adopted)
			require.ElementsMatch(t, names[1:], applied.Files, "the later migrations run")
			require.NoError(t, d.CheckSchema(ctx))
			requireMatchesEnt(t, d, newURL())
			got, err := d.Operator.Get(sys(t), op.ID)
			require.NoError(t, err)
			require.Equal(t, "a@ops.example", got.Email, "the data is kept")
		})

		t.Run("made by an older release", func(t *testing.T) {
			ctx := t.Context()
			d := open(t, newURL())
			autoMigrate(t, d)
			// An older release had no platform audit log and no index on
			// the releases' channels; it had a table since removed.
			for _, stmt := range []string{
				"DROP TABLE platform_audit_entries",
				"DROP INDEX release_channel_status_version_key",
				"CREATE TABLE retired_things (id text PRIMARY KEY)",
			} {
				_, err := d.SQL.ExecContext(ctx, stmt)
				require.NoError(t, err, stmt)
			}
			_, err := d.ApplyMigrations(ctx)
			require.NoError(t, err)
			requireMatchesEnt(t, d, newURL())
			tables, err := listTables(ctx, d.SQL, d.Dialect)
			require.NoError(t, err)
			require.Contains(t, tables, "platform_audit_entries")
			require.Contains(t, tables, "retired_things", "what the auto-migration left behind stays")
		})

		t.Run("with tables that differ", func(t *testing.T) {
			ctx := t.Context()
			d := open(t, newURL())
			_, err := d.SQL.ExecContext(ctx, "CREATE TABLE merchants (id text PRIMARY KEY, name integer NOT NULL)")
			require.NoError(t, err)
			_, err = d.ApplyMigrations(ctx)
			require.ErrorContains(t, err, "adopting the existing tables: they differ from migration "+embeddedNames(t, d.Dialect)[0])
			require.ErrorContains(t, err, "table merchants: column name differs")
			tables, err := listTables(ctx, d.SQL, d.Dialect)
			require.NoError(t, err)
			require.Equal(t, []string{"merchants"}, tables, "nothing was changed")
		})
	})
}
