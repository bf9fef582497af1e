package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tillpos/till/config"
	"github.com/tillpos/till/server"
)

// local is a Till served from this process for the bench.
type local struct {
	url    string
	engine string
	// cleanups run in reverse order on close.
	cleanups []func() error
	stderr   io.Writer
}

// startLocal opens a Till configured like `till serve` from getenv, but on
// a database and Redis keyspace of its own, with the rate limits off, and
// serves it on a free loopback port.
func startLocal(ctx context.Context, getenv func(string) string, stderr io.Writer) (_ *local, err error) {
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	l := &local{stderr: stderr}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	dir, err := os.MkdirTemp("", "till-bench-")
	if err != nil {
		return nil, err
	}
	l.cleanups = append(l.cleanups, func() error { return os.RemoveAll(dir) })

	if cfg.DatabaseURL, err = l.database(ctx, cfg.DatabaseURL, dir); err != nil {
		return nil, err
	}
	cfg.RedisPrefix = "till-bench:" + rand.Text() + ":"
	cfg.KeysFile = filepath.Join(dir, "keys.json")
	// Every client comes from 127.0.0.1 and a handful of sessions send
	// thousands of requests a second: the limits would be all we measure.
	cfg.APIRatePerSecond = 0
	cfg.LoginPerIPPerMinute = 0
	cfg.LoginPerEmailPerMinute = 0
	cfg.PairPerIPPerMinute = 0
	cfg.MigrateOnStart = true

	// Request logs at INFO would cost more than some requests; warnings
	// and errors (panics, failed transactions) still show, without the
	// stack traces, which would bury the figures.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
		Level: max(cfg.LogLevel, slog.LevelWarn),
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == "stack" {
				return slog.Attr{}
			}
			return a
		},
	}))
	// Generate the throwaway keys quietly: Open would warn about it.
	if _, err := server.LoadKeys(cfg, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	srv, err := server.Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	l.cleanups = append(l.cleanups, srv.Close)
	if cfg.RedisURL != "" {
		client := srv.KV.Client()
		l.cleanups = append(l.cleanups, func() error { return deleteKeys(client, "*"+cfg.RedisPrefix+"*") })
	}
	l.engine = map[string]string{"sqlite3": "sqlite", "postgres": "postgresql"}[srv.DB.Dialect]

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	// A plain http.Server on the handler rather than srv.Serve, which also
	// starts the daily jobs: they would compete with the load we measure.
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	l.cleanups = append(l.cleanups, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return hs.Shutdown(ctx)
	})
	l.url = "http://" + ln.Addr().String() + "/graphql"
	return l, nil
}

// database returns the URL of an empty database for the bench: for
// PostgreSQL a new schema in the database raw names (dropped on close), so
// that a shared or CI database is left as it was; otherwise a SQLite file
// in dir.
func (l *local) database(ctx context.Context, raw, dir string) (string, error) {
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		return "file:" + filepath.Join(dir, "till.db"), nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parsing DATABASE_URL: %w", err)
	}
	admin, err := sql.Open("pgx", raw) // the driver is registered by package db
	if err != nil {
		return "", err
	}
	l.cleanups = append(l.cleanups, admin.Close)
	schema := "bench_" + strings.ToLower(rand.Text())
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", fmt.Errorf("creating schema %s: %w", schema, err)
	}
	l.cleanups = append(l.cleanups, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			return fmt.Errorf("dropping schema %s: %w", schema, err)
		}
		return nil
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// close stops the server and removes everything the bench created.
func (l *local) close() {
	var errs []error
	for i := len(l.cleanups) - 1; i >= 0; i-- {
		errs = append(errs, l.cleanups[i]())
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(l.stderr, "bench: cleaning up:", err)
	}
}

// deleteKeys deletes the keys matching pattern on every node.
func deleteKeys(client redis.UniversalClient, pattern string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	del := func(ctx context.Context, node redis.Cmdable) error {
		iter := node.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			if err := node.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	if cluster, ok := client.(*redis.ClusterClient); ok {
		return cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return del(ctx, node) })
	}
	return del(ctx, client)
}
