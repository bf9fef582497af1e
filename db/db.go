// Package db opens Till's database, SQLite (the embedded default) or
// PostgreSQL, and runs transactions.
package db

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the pure-Go "sqlite" driver

	"github.com/tillpos/till/ent"
	_ "github.com/tillpos/till/ent/runtime" // registers schema hooks and privacy policies
)

// DefaultURL is the embedded default database: a SQLite file in the working
// directory.
const DefaultURL = "file:till.db"

// DB is an open database: the ent client and the pool beneath it.
type DB struct {
	*ent.Client
	SQL     *sql.DB
	Dialect string
	// migrations replaces the embedded migrations, in tests.
	migrations fs.FS
}

// Option adjusts how Open builds the client.
type Option func(*options)

type options struct {
	wrap func(dialect.Driver) dialect.Driver
}

// WithDriver wraps the driver the client runs its statements through
// (tests count them).
func WithDriver(wrap func(dialect.Driver) dialect.Driver) Option {
	return func(o *options) { o.wrap = wrap }
}

// Open opens the database at rawURL: "postgres://…" or "postgresql://…"
// for PostgreSQL, anything else ("file:till.db", "till.db") for SQLite.
// The pool holds at most maxConns connections.
func Open(ctx context.Context, rawURL string, maxConns int, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	driverName, dialectName, dsn, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	pool, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s database: %w", dialectName, err)
	}
	pool.SetMaxOpenConns(maxConns)
	pool.SetMaxIdleConns(maxConns)
	pool.SetConnMaxIdleTime(5 * time.Minute)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connecting to %s database: %w", dialectName, err)
	}
	var drv dialect.Driver = entsql.OpenDB(dialectName, pool)
	if dialectName == dialect.SQLite {
		drv = newOneWriter(drv.(*entsql.Driver))
	}
	if o.wrap != nil {
		drv = o.wrap(drv)
	}
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: pool, Dialect: dialectName}, nil
}

// parse maps a database URL to a database/sql driver, an ent dialect and a
// DSN. SQLite always gets foreign keys, WAL, a busy timeout, sortable times
// and immediate write transactions, since Till's money invariants rely on them and a
// deferred transaction that later upgrades to a write lock can deadlock.
// Every commit is synced to disk (synchronous FULL): with NORMAL, a sale the
// terminal was told is recorded could still be lost to a power cut.
func parse(rawURL string) (driverName, dialectName, dsn string, err error) {
	if rawURL == "" {
		rawURL = DefaultURL
	}
	if strings.HasPrefix(rawURL, "postgres://") || strings.HasPrefix(rawURL, "postgresql://") {
		return "pgx", dialect.Postgres, rawURL, nil
	}
	path, query, _ := strings.Cut(strings.TrimPrefix(rawURL, "sqlite://"), "?")
	if !strings.HasPrefix(path, "file:") {
		path = "file:" + path
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return "", "", "", fmt.Errorf("parsing database URL options: %w", err)
	}
	for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(10000)", "synchronous(FULL)"} {
		params.Add("_pragma", p)
	}
	params.Set("_txlock", "immediate")
	// Times are stored as UTC text in SQLite's own format, which sorts in
	// time order, so cursors over created_at page correctly.
	params.Set("_time_format", "sqlite")
	params.Set("_timezone", "UTC")
	return "sqlite", dialect.SQLite, path + "?" + params.Encode(), nil
}

// BackupDir is where backups of the SQLite database rawURL names go by
// default: a backups folder beside the file. It is "" for PostgreSQL and
// in-memory databases, which have no file to sit beside.
func BackupDir(rawURL string) string {
	if rawURL == "" {
		rawURL = DefaultURL
	}
	if strings.HasPrefix(rawURL, "postgres://") || strings.HasPrefix(rawURL, "postgresql://") {
		return ""
	}
	path, query, _ := strings.Cut(strings.TrimPrefix(rawURL, "sqlite://"), "?")
	path = strings.TrimPrefix(path, "file:")
	if params, _ := url.ParseQuery(query); path == "" || path == ":memory:" || params.Get("mode") == "memory" {
		return ""
	}
	return filepath.Join(filepath.Dir(path), "backups")
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	return d.SQL.PingContext(ctx)
}

// WithTx runs fn in a transaction on client, committing if it returns nil
// and rolling back otherwise (also on panic, which it re-raises).
func WithTx(ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) error) (err error) {
	tx, err := client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	defer func() {
		if v := recover(); v != nil {
			_ = tx.Rollback()
			panic(v)
		}
	}()
	if err := fn(tx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return fmt.Errorf("%w (rolling back: %v)", err, rerr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

// Now is the current time as the database keeps it: PostgreSQL stores
// microseconds, so a time with more returned from a write would differ
// from the same row read back.
func Now() time.Time { return time.Now().Truncate(time.Microsecond) }

// ForUpdate is a query modifier that locks the rows read until the
// transaction ends, on PostgreSQL. SQLite has no row locks and needs none:
// its write transactions run one at a time (_txlock=immediate).
func ForUpdate(s *entsql.Selector) {
	if s.Dialect() != dialect.SQLite {
		s.ForUpdate()
	}
}

// InTx is WithTx for a transaction that makes an entity: it returns the
// entity detached from the finished transaction, so that its edges load
// through the client afterwards.
func InTx[T interface{ Unwrap() T }](ctx context.Context, client *ent.Client, fn func(tx *ent.Tx) (T, error)) (T, error) {
	var out T
	err := WithTx(ctx, client, func(tx *ent.Tx) (err error) {
		out, err = fn(tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out.Unwrap(), nil
}
