// Package tilltest runs a whole Till server for a test and talks GraphQL to
// it over HTTP, the way the apps do.
//
// Each test gets its own database and Redis keyspace: a SQLite file and an
// in-process Redis by default; a fresh schema in the PostgreSQL named by
// TILL_TEST_DATABASE_URL and a unique key prefix in the Redis named by
// TILL_TEST_REDIS_URL when those are set. The same tests run on both.
package tilltest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/config"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/kv/kvtest"
	"github.com/tillpos/till/server"
)

// EnvDatabaseURL names the PostgreSQL to test against.
const EnvDatabaseURL = "TILL_TEST_DATABASE_URL"

// Backends describes what the tests in this process run against, for the
// test log.
func Backends() string {
	dbName, redisName := "sqlite (file per test)", "in-process redis (miniredis)"
	if u := os.Getenv(EnvDatabaseURL); u != "" {
		dbName = "postgresql " + redact(u) + " (schema per test)"
	}
	if u := os.Getenv(kvtest.EnvURL); u != "" {
		redisName = "redis " + redact(u) + " (key prefix per test)"
	}
	return fmt.Sprintf("database=%s; redis=%s", dbName, redisName)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// OpenDB opens and migrates a database of t's own (see DatabaseURL), for
// tests of a domain package without the server.
func OpenDB(t testing.TB) *db.DB {
	t.Helper()
	d, err := db.Open(t.Context(), DatabaseURL(t), 4)
	if err != nil {
		t.Fatalf("opening database: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Migrate(t.Context()); err != nil {
		t.Fatalf("migrating database: %v", err)
	}
	return d
}

// DatabaseURL returns the URL of an empty database of t's own, removed when
// t ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDatabaseURL)
	if base == "" {
		return "file:" + t.TempDir() + "/till.db"
	}
	schema := "t_" + strings.ToLower(rand.Text())
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("opening %s: %v", EnvDatabaseURL, err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.ExecContext(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating test schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping test schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parsing %s: %v", EnvDatabaseURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Config returns a development configuration with t's own database and
// Redis keyspace, and the cheapest bcrypt cost.
func Config(t testing.TB) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = DatabaseURL(t)
	cfg.RedisURL = os.Getenv(kvtest.EnvURL)
	cfg.RedisPrefix = "till-test:" + rand.Text() + ":"
	cfg.KeysFile = t.TempDir() + "/keys.json"
	cfg.PasswordCost = bcrypt.MinCost
	// Tests make many requests quickly from one IP; the limits have tests
	// of their own that set them back.
	cfg.APIRatePerSecond = 0
	cfg.LoginPerIPPerMinute = 0
	return cfg
}

// Env is a running Till server for one test.
type Env struct {
	*server.Server
	// URL is the server's base URL, e.g. http://127.0.0.1:41234.
	URL  string
	logs *lockedBuffer
}

// Logs is everything the server has logged so far.
func (e *Env) Logs() string { return e.logs.String() }

// New starts a server with Config(t) adjusted by configure (may be nil).
func New(t testing.TB, configure func(*config.Config), opts ...server.Option) *Env {
	t.Helper()
	cfg := Config(t)
	if configure != nil {
		configure(&cfg)
	}
	// The server's log is shown only for a test that fails.
	logs := new(lockedBuffer)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	srv, err := server.Open(t.Context(), cfg, slog.New(slog.NewTextHandler(logs, nil)), opts...)
	if err != nil {
		t.Fatalf("starting till: %v", err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		if cfg.RedisURL != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := kvtest.DeleteKeys(ctx, srv.KV.Client(), "*"+cfg.RedisPrefix+"*"); err != nil {
				t.Errorf("deleting test keys: %v", err)
			}
		}
		if err := srv.Close(); err != nil {
			t.Errorf("closing till: %v", err)
		}
	})
	return &Env{Server: srv, URL: ts.URL, logs: logs}
}

// lockedBuffer is a log destination shared by the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Result is a GraphQL response.
type Result struct {
	Status int
	Header http.Header
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors"`
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the extensions.code of the first error, or "" without errors.
func (r *Result) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	code, _ := r.Errors[0].Extensions["code"].(string)
	return code
}

// Decode unmarshals the data into v, failing t if there were errors.
func (r *Result) Decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected GraphQL errors: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decoding data %s: %v", r.Data, err)
	}
}

// Exec posts query with vars as the holder of token ("" for anonymous).
func (e *Env) Exec(t testing.TB, token, query string, vars map[string]any) *Result {
	t.Helper()
	return e.Post(t, map[string]string{"Authorization": bearer(token)}, map[string]any{"query": query, "variables": vars})
}

// Post sends body as JSON to /graphql with headers and decodes the answer.
func (e *Env) Post(t testing.TB, headers map[string]string, body any) *Result {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("encoding request: %v", err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.URL+"/graphql", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	return e.Do(t, req)
}

// Do sends req and decodes a GraphQL answer.
func (e *Env) Do(t testing.TB, req *http.Request) *Result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("posting to till: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	res := &Result{Status: resp.StatusCode, Header: resp.Header}
	if err := json.Unmarshal(body, res); err != nil {
		t.Fatalf("decoding response (HTTP %d) %q: %v", resp.StatusCode, body, err)
	}
	return res
}

func bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}
