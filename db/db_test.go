package db

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/operator"
)

// openSQLite opens and migrates a fresh SQLite file in t's temp dir.
func openSQLite(t *testing.T, maxConns int) *DB {
	t.Helper()
	d, err := Open(t.Context(), "file:"+filepath.Join(t.TempDir(), "till.db"), maxConns)
	require.NoError(t, err)
	t.Cleanup(func() { d.Close() })
	require.NoError(t, d.Migrate(t.Context()))
	return d
}

// sys is a context that passes the privacy rules, as system jobs do.
func sys(t *testing.T) context.Context {
	return viewer.NewSystemContext(t.Context(), "db-test")
}

func countOperators(t *testing.T, d *DB) int {
	t.Helper()
	n, err := d.Operator.Query().Count(sys(t))
	require.NoError(t, err)
	return n
}

func createOperator(ctx context.Context, tx *ent.Tx, email string) (*ent.Operator, error) {
	return tx.Operator.Create().SetEmail(email).SetName("Op").SetPasswordHash("x").Save(ctx)
}

func TestParse(t *testing.T) {
	t.Parallel()
	sqlitePragmas := []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(10000)", "synchronous(FULL)"}
	tests := []struct {
		name        string
		url         string
		wantDriver  string
		wantDialect string
		wantPath    string // SQLite: the DSN before "?"; PostgreSQL: the whole DSN
		wantExtra   url.Values
	}{
		{name: "empty is ./till.db", url: "", wantDriver: "sqlite", wantDialect: dialect.SQLite, wantPath: "file:till.db"},
		{name: "default URL", url: DefaultURL, wantDriver: "sqlite", wantDialect: dialect.SQLite, wantPath: "file:till.db"},
		{name: "bare path", url: "data/till.db", wantDriver: "sqlite", wantDialect: dialect.SQLite, wantPath: "file:data/till.db"},
		{name: "absolute path", url: "/var/lib/till/till.db", wantDriver: "sqlite", wantDialect: dialect.SQLite, wantPath: "file:/var/lib/till/till.db"},
		{name: "sqlite scheme", url: "sqlite:///var/lib/till/till.db", wantDriver: "sqlite", wantDialect: dialect.SQLite, wantPath: "file:/var/lib/till/till.db"},
		{
			name: "own options are kept", url: "file:till.db?cache=shared&mode=rwc",
			wantDriver: "sqlite", wantDialect: dialect.SQLite, wantPath: "file:till.db",
			wantExtra: url.Values{"cache": {"shared"}, "mode": {"rwc"}},
		},
		{
			name: "a deferred txlock is overridden", url: "file:till.db?_txlock=deferred",
			wantDriver: "sqlite", wantDialect: dialect.SQLite, wantPath: "file:till.db",
		},
		{name: "postgres", url: "postgres://till:pw@db:5432/till?sslmode=disable", wantDriver: "pgx", wantDialect: dialect.Postgres,
			wantPath: "postgres://till:pw@db:5432/till?sslmode=disable"},
		{name: "postgresql", url: "postgresql://db/till", wantDriver: "pgx", wantDialect: dialect.Postgres, wantPath: "postgresql://db/till"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			driverName, dialectName, dsn, err := parse(tt.url)
			require.NoError(t, err)
			require.Equal(t, tt.wantDriver, driverName)
			require.Equal(t, tt.wantDialect, dialectName)
			if dialectName == dialect.Postgres {
				require.Equal(t, tt.wantPath, dsn, "PostgreSQL URLs pass through unchanged")
				return
			}
			path, query, ok := strings.Cut(dsn, "?")
			require.True(t, ok, "SQLite always gets options: %s", dsn)
			require.Equal(t, tt.wantPath, path)
			params, err := url.ParseQuery(query)
			require.NoError(t, err)
			require.Subset(t, params["_pragma"], sqlitePragmas)
			require.Equal(t, []string{"immediate"}, params["_txlock"], "write transactions take the lock up front")
			for k, v := range tt.wantExtra {
				require.Equal(t, v, params[k], k)
			}
		})
	}
}

func TestParseRefusesBadOptions(t *testing.T) {
	t.Parallel()
	_, _, _, err := parse("file:till.db?cache=%zz")
	require.ErrorContains(t, err, "parsing database URL options")
}

func TestOpenSQLitePragmas(t *testing.T) {
	t.Parallel()
	d := openSQLite(t, 4)
	require.Equal(t, dialect.SQLite, d.Dialect)
	require.NoError(t, d.Ping(t.Context()))

	// The pragmas come from the DSN, so every pooled connection has them,
	// not just the first: hold two at once and ask both.
	ctx := t.Context()
	c1, err := d.SQL.Conn(ctx)
	require.NoError(t, err)
	defer c1.Close()
	c2, err := d.SQL.Conn(ctx)
	require.NoError(t, err)
	defer c2.Close()
	for i, c := range []*sql.Conn{c1, c2} {
		var journal string
		require.NoError(t, c.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journal))
		require.Equal(t, "wal", strings.ToLower(journal), "connection %d", i)
		var fk, busy, sync int
		require.NoError(t, c.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
		require.Equal(t, 1, fk, "connection %d: foreign keys on", i)
		require.NoError(t, c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy))
		require.Equal(t, 10000, busy, "connection %d", i)
		require.NoError(t, c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync))
		require.Equal(t, 2, sync, "connection %d: synchronous=FULL", i)
	}
}

func TestOpenSQLiteEnforcesForeignKeys(t *testing.T) {
	t.Parallel()
	d := openSQLite(t, 2)
	// A store of a merchant that does not exist.
	err := d.Store.Create().SetMerchantID("mer_missing").SetName("Ghost").SetTimeZone("UTC").Exec(sys(t))
	require.Error(t, err)
	require.True(t, ent.IsConstraintError(err), "want a foreign key violation, got %v", err)
}

func TestOpenBoundsThePool(t *testing.T) {
	t.Parallel()
	d := openSQLite(t, 3)
	require.Equal(t, 3, d.SQL.Stats().MaxOpenConnections)
}

func TestOpenFailsOnUnreachableDatabase(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), "file:"+filepath.Join(t.TempDir(), "no", "such", "dir", "till.db"), 1)
	require.ErrorContains(t, err, "connecting to "+dialect.SQLite+" database")
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	d := openSQLite(t, 2)
	require.NoError(t, d.Migrate(t.Context()), "a second migration changes nothing and does not fail")
	require.Equal(t, 0, countOperators(t, d))
}

func TestWithTxCommitsOnSuccess(t *testing.T) {
	t.Parallel()
	d := openSQLite(t, 2)
	ctx := sys(t)
	err := WithTx(ctx, d.Client, func(tx *ent.Tx) error {
		if _, err := createOperator(ctx, tx, "a@ops.example"); err != nil {
			return err
		}
		_, err := createOperator(ctx, tx, "b@ops.example")
		return err
	})
	require.NoError(t, err)
	require.Equal(t, 2, countOperators(t, d))
}

func TestWithTxRollsBackOnError(t *testing.T) {
	t.Parallel()
	d := openSQLite(t, 2)
	ctx := sys(t)
	errStop := errors.New("stop")
	err := WithTx(ctx, d.Client, func(tx *ent.Tx) error {
		if _, err := createOperator(ctx, tx, "a@ops.example"); err != nil {
			return err
		}
		return errStop
	})
	require.Same(t, errStop, err, "fn's error comes back as it is")
	require.Equal(t, 0, countOperators(t, d), "the write inside the failed transaction is gone")

	// A failure inside the database rolls back the earlier writes too.
	err = WithTx(ctx, d.Client, func(tx *ent.Tx) error {
		if _, err := createOperator(ctx, tx, "c@ops.example"); err != nil {
			return err
		}
		_, err := createOperator(ctx, tx, "c@ops.example") // unique email
		return err
	})
	require.True(t, ent.IsConstraintError(err), "got %v", err)
	require.Equal(t, 0, countOperators(t, d))
}

func TestWithTxRollsBackOnPanicAndRepanics(t *testing.T) {
	t.Parallel()
	// One connection: a transaction left open by the panic would hold it,
	// and the next transaction could not start.
	d := openSQLite(t, 1)
	ctx := sys(t)
	require.PanicsWithValue(t, "boom", func() {
		_ = WithTx(ctx, d.Client, func(tx *ent.Tx) error {
			if _, err := createOperator(ctx, tx, "a@ops.example"); err != nil {
				return err
			}
			panic("boom")
		})
	})

	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := WithTx(short, d.Client, func(tx *ent.Tx) error {
		_, err := createOperator(short, tx, "b@ops.example")
		return err
	})
	require.NoError(t, err, "the panicking transaction released its connection")
	emails, err := d.Operator.Query().Select(operator.FieldEmail).Strings(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"b@ops.example"}, emails, "the write before the panic was rolled back")
}

func TestWithTxReportsAFailedStart(t *testing.T) {
	t.Parallel()
	d := openSQLite(t, 1)
	ctx, cancel := context.WithCancel(sys(t))
	cancel()
	called := false
	err := WithTx(ctx, d.Client, func(*ent.Tx) error { called = true; return nil })
	require.ErrorContains(t, err, "starting transaction")
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, called)
}

func TestInTx(t *testing.T) {
	t.Parallel()
	d := openSQLite(t, 1)
	ctx := sys(t)

	t.Run("returns the entity usable after commit", func(t *testing.T) {
		m, err := InTx(ctx, d.Client, func(tx *ent.Tx) (*ent.Staff, error) {
			mer, err := tx.Merchant.Create().SetName("Lotus Tea").SetCurrency("CNY").Save(ctx)
			if err != nil {
				return nil, err
			}
			st, err := tx.Store.Create().SetMerchantID(mer.ID).SetName("Main").SetTimeZone("Asia/Shanghai").Save(ctx)
			if err != nil {
				return nil, err
			}
			return tx.Staff.Create().SetMerchantID(mer.ID).SetName("Li").SetRole("OWNER").AddStores(st).Save(ctx)
		})
		require.NoError(t, err)
		require.NotNil(t, m)
		// Loaded through the client, not the finished transaction.
		stores, err := m.QueryStores().All(ctx)
		require.NoError(t, err)
		require.Len(t, stores, 1)
		require.Equal(t, "Main", stores[0].Name)
	})

	t.Run("error gives the zero value and rolls back", func(t *testing.T) {
		errStop := errors.New("stop")
		op, err := InTx(ctx, d.Client, func(tx *ent.Tx) (*ent.Operator, error) {
			op, err := createOperator(ctx, tx, "gone@ops.example")
			if err != nil {
				return nil, err
			}
			return op, errStop // an entity alongside an error is still discarded
		})
		require.ErrorIs(t, err, errStop)
		require.Nil(t, op)
		require.Equal(t, 0, countOperators(t, d))
	})
}

func TestBackupDir(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"":                                  "backups",
		"file:till.db":                      "backups",
		"file:/var/lib/till/till.db?_fk=1":  "/var/lib/till/backups",
		"sqlite:///srv/till.db":             "/srv/backups",
		"data/till.db":                      "data/backups",
		"file::memory:?cache=shared":        "",
		"file:x.db?mode=memory&cache=share": "",
		"postgres://u@db/till":              "",
		"postgresql://u@db/till":            "",
	} {
		require.Equal(t, want, BackupDir(url), url)
	}
}
