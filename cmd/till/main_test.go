package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/operator"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/server"
)

// envRunMain makes the test binary run main() itself, so tests can see
// the real exit code.
const envRunMain = "TILL_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(envRunMain); ok {
		os.Args = append([]string{"till"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// result is what one run of the command did.
type result struct {
	err            error
	stdout, stderr string
}

// runTill runs the command with args, stdin and only the variables in vars
// as its environment.
func runTill(t *testing.T, vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(stdin), &stdout, &stderr, func(k string) string { return vars[k] })
	return result{err: err, stdout: stdout.String(), stderr: stderr.String()}
}

// dbEnv is an environment with a SQLite database of the test's own and
// the cheapest bcrypt cost.
func dbEnv(t *testing.T) (map[string]string, string) {
	t.Helper()
	url := "file:" + filepath.Join(t.TempDir(), "till.db")
	return map[string]string{"DATABASE_URL": url, "TILL_BCRYPT_COST": "4"}, url
}

// listOperators lists the operators in the database at url.
func listOperators(t *testing.T, url string) []*ent.Operator {
	t.Helper()
	d, err := db.Open(t.Context(), url, 1)
	require.NoError(t, err)
	defer d.Close()
	ops, err := d.Operator.Query().Order(ent.Asc(operator.FieldCreatedAt)).All(viewer.NewSystemContext(t.Context(), "test"))
	require.NoError(t, err)
	return ops
}

func TestRunWithoutCommandPrintsUsage(t *testing.T) {
	t.Parallel()
	r := runTill(t, nil, "")
	require.EqualError(t, r.err, "no command given")
	require.Equal(t, usage, r.stdout)
}

func TestRunHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"help", "-h", "--help"} {
		r := runTill(t, nil, "", arg)
		require.NoError(t, r.err, arg)
		require.Equal(t, usage, r.stdout, arg)
		for _, cmd := range []string{"serve", "migrate", "operator create --email E", "version"} {
			require.Contains(t, r.stdout, cmd)
		}
	}
}

func TestRunVersion(t *testing.T) {
	// Not parallel: it sets the package-level version.
	r := runTill(t, nil, "", "version")
	require.NoError(t, r.err)
	require.Equal(t, "till "+buildVersion()+" (schema "+db.SchemaVersion()+")\n", r.stdout)
	require.Regexp(t, regexp.MustCompile(`^till \S+ \(schema \d{14}\)\n$`), r.stdout)

	old := version
	version = "v1.4.2"
	t.Cleanup(func() { version = old })
	r = runTill(t, nil, "", "version")
	require.NoError(t, r.err)
	require.Equal(t, "till v1.4.2 (schema "+db.SchemaVersion()+")\n", r.stdout, "a version set at build time wins")
}

func TestRunUnknownCommand(t *testing.T) {
	t.Parallel()
	r := runTill(t, nil, "", "frobnicate")
	require.Error(t, r.err)
	require.Contains(t, r.err.Error(), `unknown command "frobnicate"`)
	require.Contains(t, r.err.Error(), usage, "the error shows the usage")
	require.Empty(t, r.stdout)
}

func TestRunRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	r := runTill(t, map[string]string{"TILL_ENV": "staging"}, "", "migrate")
	require.ErrorContains(t, r.err, "configuration: ")
	require.ErrorContains(t, r.err, `TILL_ENV: want development or production, got "staging"`)

	r = runTill(t, map[string]string{"TILL_ENV": "production"}, "", "version")
	require.ErrorContains(t, r.err, "production needs DATABASE_URL", "even version needs a valid configuration")
}

// TestExitCodes runs the real main in a child process.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args       string
		wantCode   int
		wantStdout string
		wantStderr []string
	}{
		{args: "version", wantCode: 0, wantStdout: "till "},
		{args: "help", wantCode: 0, wantStdout: usage},
		{args: "frobnicate", wantCode: 1, wantStderr: []string{`till: unknown command "frobnicate"`, "usage: till <command> [flags]"}},
		{args: "", wantCode: 1, wantStdout: usage, wantStderr: []string{"till: no command given"}},
		{args: "operator delete", wantCode: 1, wantStderr: []string{"till: usage: till operator create --email E"}},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0])
			cmd.Env = []string{envRunMain + "=" + tt.args} // nothing else: the development defaults
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.wantCode, code, "stderr: %s", stderr.String())
			require.True(t, strings.HasPrefix(stdout.String(), tt.wantStdout), "stdout: %q", stdout.String())
			for _, s := range tt.wantStderr {
				require.Contains(t, stderr.String(), s)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	vars, url := dbEnv(t)
	r := runTill(t, vars, "", "migrate")
	require.NoError(t, r.err)
	require.Contains(t, r.stderr, "schema is up to date")
	require.Contains(t, r.stderr, "dialect=sqlite3")
	require.Contains(t, r.stderr, "version="+db.SchemaVersion())
	require.Equal(t, appliedLines(t)+"schema is at version "+db.SchemaVersion()+"\n", r.stdout)
	require.FileExists(t, strings.TrimPrefix(url, "file:"))
	require.Empty(t, listOperators(t, url), "the tables exist and are empty")

	r = runTill(t, vars, "", "migrate")
	require.NoError(t, r.err, "migrating an up-to-date database is fine")
	require.Equal(t, "schema is at version "+db.SchemaVersion()+"\n", r.stdout, "and applies nothing")

	r = runTill(t, vars, "", "migrate", "sideways")
	require.EqualError(t, r.err, "usage: till migrate [status]")
}

// appliedLines is what `till migrate` prints for an empty database.
func appliedLines(t *testing.T) string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("..", "..", "db", db.MigrationsPath("sqlite3")))
	require.NoError(t, err)
	var b strings.Builder
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			b.WriteString("applied " + e.Name() + "\n")
		}
	}
	require.NotEmpty(t, b.String())
	return b.String()
}

func TestMigrateStatus(t *testing.T) {
	vars, _ := dbEnv(t)
	r := runTill(t, vars, "", "migrate", "status")
	require.NoError(t, r.err)
	pending := strings.ReplaceAll(appliedLines(t), "applied ", "  ")
	require.Equal(t, "database: sqlite3\ncurrent version: none\nlatest version: "+db.SchemaVersion()+"\n"+
		"pending: "+strconv.Itoa(strings.Count(pending, "\n"))+"\n"+pending, r.stdout)

	require.NoError(t, runTill(t, vars, "", "migrate").err)
	r = runTill(t, vars, "", "migrate", "status")
	require.NoError(t, r.err)
	require.Equal(t, "database: sqlite3\ncurrent version: "+db.SchemaVersion()+"\nlatest version: "+db.SchemaVersion()+"\npending: 0\n", r.stdout)
}

// markNewer records in the database at url a migration from a later
// release.
func markNewer(t *testing.T, url string) string {
	t.Helper()
	d, err := db.Open(t.Context(), url, 1)
	require.NoError(t, err)
	defer d.Close()
	const later = "29991231235959"
	_, err = d.SQL.ExecContext(t.Context(), `INSERT INTO `+db.RevisionsTable+` (version, description, type, applied, total,
		executed_at, execution_time, error, error_stmt, hash, partial_hashes, operator_version)
		VALUES (?, 'later', 2, 1, 1, ?, 0, '', '', '', 'null', 'till')`, later, time.Now())
	require.NoError(t, err)
	return later
}

func TestMigrateRefusesANewerSchema(t *testing.T) {
	vars, url := dbEnv(t)
	require.NoError(t, runTill(t, vars, "", "migrate").err)
	later := markNewer(t, url)
	want := "the database schema is at version " + later + ", newer than this till knows (its newest is " + db.SchemaVersion() + ")"

	r := runTill(t, vars, "", "migrate")
	require.ErrorContains(t, r.err, want)
	r = runTill(t, vars, "", "migrate", "status")
	require.NoError(t, r.err)
	require.Contains(t, r.stdout, "current version: "+later+"\n")
	require.Contains(t, r.stdout, "the database is newer than this till: it will not run on it\n")

	// The server refuses to start, whether or not it migrates on start.
	for _, migrateOnStart := range []bool{true, false} {
		cfg := config.Default()
		cfg.DatabaseURL = url
		cfg.KeysFile = filepath.Join(t.TempDir(), "keys.json")
		cfg.MigrateOnStart = migrateOnStart
		srv, err := server.Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
		if err == nil {
			srv.Close()
		}
		require.ErrorContains(t, err, want, "migrate on start: %v", migrateOnStart)
	}
}

func TestServeRefusesAnUnmigratedSchemaWithoutMigrateOnStart(t *testing.T) {
	_, url := dbEnv(t)
	cfg := config.Default()
	cfg.DatabaseURL = url
	cfg.KeysFile = filepath.Join(t.TempDir(), "keys.json")
	cfg.MigrateOnStart = false
	srv, err := server.Open(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		srv.Close()
	}
	require.ErrorIs(t, err, db.ErrSchemaBehind)
	require.ErrorContains(t, err, "run `till migrate`")
}

func TestMigrateBacksUpFirst(t *testing.T) {
	vars, url := dbEnv(t)
	cfg, err := config.FromEnv(func(k string) string { return vars[k] })
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	backups := 0
	backup := func(context.Context, *db.DB) (string, error) {
		backups++
		return "backups/till-20261202T120000Z.tillbak", nil
	}
	var out bytes.Buffer
	require.NoError(t, migrate(t.Context(), cfg, log, nil, &out, backup))
	require.Zero(t, backups, "an empty database has nothing to back up")

	require.NoError(t, migrate(t.Context(), cfg, log, nil, &out, backup))
	require.Zero(t, backups, "nothing pending, nothing to back up")

	// A database with data and a pending migration: the tables of an
	// earlier release, before versioned migrations.
	d, err := db.Open(t.Context(), url, 1)
	require.NoError(t, err)
	_, err = d.SQL.ExecContext(t.Context(), "DROP TABLE "+db.RevisionsTable)
	require.NoError(t, err)
	d.Close()
	out.Reset()
	require.NoError(t, migrate(t.Context(), cfg, log, nil, &out, backup))
	require.Equal(t, 1, backups)
	require.True(t, strings.HasPrefix(out.String(), "backed up to backups/till-20261202T120000Z.tillbak\nadopted the existing tables as "), out.String())

	d, err = db.Open(t.Context(), url, 1)
	require.NoError(t, err)
	_, err = d.SQL.ExecContext(t.Context(), "DROP TABLE "+db.RevisionsTable)
	require.NoError(t, err)
	d.Close()
	failing := func(context.Context, *db.DB) (string, error) { return "", errors.New("disk full") }
	err = migrate(t.Context(), cfg, log, nil, &out, failing)
	require.EqualError(t, err, "backing up before migrating (nothing was migrated): disk full")
	d, err = db.Open(t.Context(), url, 1)
	require.NoError(t, err)
	defer d.Close()
	st, err := d.MigrationStatus(t.Context())
	require.NoError(t, err)
	require.True(t, st.Unversioned, "a failed backup stops the migration")
}

func TestMigrateLogsJSONInProductionFormat(t *testing.T) {
	vars, _ := dbEnv(t)
	vars["TILL_LOG_FORMAT"] = "json"
	r := runTill(t, vars, "", "migrate")
	require.NoError(t, r.err)
	require.Contains(t, r.stderr, `"msg":"schema is up to date"`)
}

func TestMigrateUnreachableDatabase(t *testing.T) {
	t.Parallel()
	r := runTill(t, map[string]string{"DATABASE_URL": "file:" + filepath.Join(t.TempDir(), "missing", "dir", "till.db")}, "", "migrate")
	require.ErrorContains(t, r.err, "connecting to")
}

func TestOperatorCreate(t *testing.T) {
	vars, url := dbEnv(t)
	hasher := password.NewHasher(bcrypt.MinCost)

	r := runTill(t, vars, "a long operator password\n", "operator", "create", "--email", "  Ops@Till.Example ")
	require.NoError(t, r.err)
	require.Regexp(t, `^created operator opr_\S+ \(ops@till\.example\)\n$`, r.stdout)
	ops := listOperators(t, url)
	require.Len(t, ops, 1)
	require.Equal(t, "ops@till.example", ops[0].Email, "trimmed and lower-cased")
	require.Equal(t, "ops@till.example", ops[0].Name, "the name defaults to the email")
	require.True(t, ops[0].Active)
	require.True(t, hasher.Verify(ops[0].PasswordHash, "a long operator password"))
	require.Contains(t, r.stdout, string(ops[0].ID))

	// The password is the whole first line: spaces are part of it, the
	// line ending (LF or CRLF) is not, and later lines are ignored.
	r = runTill(t, vars, "  spaced password  \r\nsecond line\n", "operator", "create", "--email", "ada@till.example", "--name", " Ada ")
	require.NoError(t, r.err)
	ops = listOperators(t, url)
	require.Len(t, ops, 2)
	require.Equal(t, "Ada", ops[1].Name)
	require.True(t, hasher.Verify(ops[1].PasswordHash, "  spaced password  "))

	// Without a trailing newline.
	r = runTill(t, vars, "no newline at the end", "operator", "create", "--email", "grace@till.example")
	require.NoError(t, r.err)
	require.True(t, hasher.Verify(listOperators(t, url)[2].PasswordHash, "no newline at the end"))
}

func TestOperatorCreatePasswordFile(t *testing.T) {
	vars, url := dbEnv(t)
	hasher := password.NewHasher(bcrypt.MinCost)
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(file, []byte("secret from a file\r\n"), 0o600))

	r := runTill(t, vars, "stdin is ignored with a file\n", "operator", "create", "--email", "ops@till.example", "--password-file", file)
	require.NoError(t, r.err)
	ops := listOperators(t, url)
	require.Len(t, ops, 1)
	require.True(t, hasher.Verify(ops[0].PasswordHash, "secret from a file"))
	require.False(t, hasher.Verify(ops[0].PasswordHash, "stdin is ignored with a file"))

	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte("short\n"), 0o600))
	r = runTill(t, vars, "", "operator", "create", "--email", "ada@till.example", "--password-file", short)
	requireInvalid(t, r.err, "password")
	require.ErrorContains(t, r.err, "at least 10 characters")

	r = runTill(t, vars, "", "operator", "create", "--email", "ada@till.example", "--password-file", filepath.Join(dir, "missing"))
	require.ErrorContains(t, r.err, "reading password file")

	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	r = runTill(t, vars, "", "operator", "create", "--email", "ada@till.example", "--password-file", empty)
	require.ErrorContains(t, r.err, "no password given")

	require.Len(t, listOperators(t, url), 1, "no refused operator was created")
}

func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	e, ok := errs.As(err)
	require.True(t, ok, "want an *errs.Error, got %v", err)
	require.Equal(t, errs.BadUserInput, e.Code)
	require.Equal(t, field, e.Field)
}

func TestOperatorCreateRefusals(t *testing.T) {
	vars, url := dbEnv(t)
	r := runTill(t, vars, "a long operator password\n", "operator", "create", "--email", "ops@till.example")
	require.NoError(t, r.err)

	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode errs.Code // "" for a plain error
		wantMsg  string
	}{
		{name: "too short on stdin", stdin: "short\n", args: []string{"--email", "ada@till.example"},
			wantCode: errs.BadUserInput, wantMsg: "password: password must be at least 10 characters"},
		{name: "password is the email", stdin: "ada@till.example\n", args: []string{"--email", "ada@till.example"},
			wantCode: errs.BadUserInput, wantMsg: "password:"},
		{name: "no password", stdin: "", args: []string{"--email", "ada@till.example"},
			wantMsg: "no password given on stdin or in --password-file"},
		{name: "blank first line", stdin: "\na long operator password\n", args: []string{"--email", "ada@till.example"},
			wantMsg: "no password given"},
		{name: "no email", stdin: "a long operator password\n", args: nil,
			wantCode: errs.BadUserInput, wantMsg: "email: must be a valid email address"},
		{name: "bad email", stdin: "a long operator password\n", args: []string{"--email", "ada"},
			wantCode: errs.BadUserInput, wantMsg: "email:"},
		{name: "duplicate email", stdin: "another long password\n", args: []string{"--email", "ops@till.example"},
			wantCode: errs.Conflict, wantMsg: "email is already registered"},
		{name: "duplicate email in capitals", stdin: "another long password\n", args: []string{"--email", "OPS@TILL.EXAMPLE"},
			wantCode: errs.Conflict, wantMsg: "email is already registered"},
		{name: "unknown flag", stdin: "a long operator password\n", args: []string{"--email", "ada@till.example", "--role", "admin"},
			wantMsg: "flag provided but not defined: -role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runTill(t, vars, tt.stdin, append([]string{"operator", "create"}, tt.args...)...)
			require.ErrorContains(t, r.err, tt.wantMsg)
			if tt.wantCode != "" {
				require.Equal(t, tt.wantCode, errs.CodeOf(r.err), "%v", r.err)
			}
			require.Empty(t, r.stdout)
		})
	}
	for _, args := range [][]string{{"operator"}, {"operator", "delete"}, {"operator", "--email", "x@y.z"}} {
		r := runTill(t, vars, "a long operator password\n", args...)
		require.ErrorContains(t, r.err, "usage: till operator create --email E", "%v", args)
	}
	ops := listOperators(t, url)
	require.Len(t, ops, 1, "only the first operator exists")
	require.Equal(t, "ops@till.example", ops[0].Email)
}

// In production the schema is migrated by `till migrate`, not on start:
// creating an operator on an unmigrated database fails until it is.
func TestOperatorCreateWithoutMigrateOnStart(t *testing.T) {
	vars, url := dbEnv(t)
	vars["TILL_MIGRATE_ON_START"] = "false"
	r := runTill(t, vars, "a long operator password\n", "operator", "create", "--email", "ops@till.example")
	require.Error(t, r.err)

	require.NoError(t, runTill(t, vars, "", "migrate").err)
	r = runTill(t, vars, "a long operator password\n", "operator", "create", "--email", "ops@till.example")
	require.NoError(t, r.err)
	require.Len(t, listOperators(t, url), 1)
}
