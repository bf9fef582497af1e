// Command till is the Till server and its administration tools.
//
//	till serve [--addr host:port]     serve the GraphQL API
//	till migrate [status]              bring the database schema up to date, or report it
//	till operator create --email E     add a platform operator
//	till customers rekey               reseal customer data under the active key
//	till export --merchant ID ...      export a merchant's sales to CSV or XLSX
//	till merchant export|import        move one merchant between deployments
//	till version                       print the version and the schema version
//
// Configuration comes from the environment; see the README.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // store time zones must resolve on hosts without zoneinfo

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent/exportjob"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/exports"
	"github.com/tillpos/till/operators"
	"github.com/tillpos/till/pii"
	"github.com/tillpos/till/server"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage: till <command> [flags]

commands:
  serve                       serve the GraphQL API (default :8080; --addr or TILL_ADDR)
  worker                      deliver outbox events and run periodic jobs, without serving
                              (run serve with TILL_OUTBOX_WORKER=false beside it)
  migrate                     apply pending schema migrations (backing up first)
  migrate status              print the schema version and pending migrations
  operator create --email E   add a platform operator (password from stdin or --password-file)
  customers rekey [--batch N] reseal customers' personal data under the active PII key
  export --merchant ID --out FILE|- [--format csv|xlsx] [--kind transactions|lines]
         [--store ID] [--from T] [--to T]
                              write a merchant's sales (T: RFC 3339, or YYYY-MM-DD for
                              store-local business dates, both ends inclusive)
  merchant export --merchant ID --out FILE|DIR
                              write one merchant's data, encrypted, to move it to another
                              deployment (a DIR gets merchant-<id>-<UTC time>.tillbak)
  merchant import --from FILE add an exported merchant to this deployment
                              (keys: TILL_BACKUP_PASSPHRASE(_FILE), or TILL_BACKUP_RECIPIENTS(_FILE)
                              to export and TILL_BACKUP_IDENTITY_FILE to import)
  version                     print the version and the schema version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "till:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return errors.New("no command given")
	}
	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := newLogger(cfg, stderr)
	switch args[0] {
	case "serve":
		return serve(ctx, cfg, log, args[1:], stderr)
	case "worker":
		return work(ctx, cfg, log)
	case "migrate":
		return migrate(ctx, cfg, log, args[1:], stdout, func(ctx context.Context, d *db.DB) (string, error) {
			return backupNow(ctx, cfg, log, d, stdout)
		})
	case "backup":
		return backupCmd(ctx, cfg, log, args[1:], stdout, stderr)
	case "restore":
		return restore(ctx, cfg, log, args[1:], stdout, stderr)
	case "operator":
		if len(args) < 2 || args[1] != "create" {
			return errors.New("usage: till operator create --email E [--name N] [--password-file F]")
		}
		return createOperator(ctx, cfg, args[2:], stdin, stdout, stderr)
	case "customers":
		if len(args) < 2 || args[1] != "rekey" {
			return errors.New("usage: till customers rekey [--batch N]")
		}
		return rekeyCustomers(ctx, cfg, log, args[2:], stdout, stderr)
	case "export":
		return exportSales(ctx, cfg, args[1:], stdout, stderr)
	case "merchant":
		return moveMerchant(ctx, cfg, log, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "till %s (schema %s)\n", buildVersion(), db.SchemaVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], usage)
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address host:port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, err := server.Open(ctx, cfg, log, backupSchedule(cfg, log)...)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	return srv.Serve(ctx, ln)
}

// work is a process that only delivers: pushes, live-feed messages and
// emails go out at the pace the worker processes set, however many API
// replicas there are.
func work(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	srv, err := server.Open(ctx, cfg, log, backupSchedule(cfg, log)...)
	if err != nil {
		return err
	}
	defer srv.Close()
	log.Info("delivering outbox events")
	srv.Work(ctx, true)
	return nil
}

// migrate applies the pending migrations (`till migrate`) or reports
// them (`till migrate status`). Before applying any to a database that has
// tables, it calls backupFirst (when not nil), which backs the database up
// and says where the backup went: an upgrade that goes wrong is undone by
// restoring it.
func migrate(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout io.Writer,
	backupFirst func(ctx context.Context, d *db.DB) (string, error)) error {
	if len(args) > 1 || len(args) == 1 && args[0] != "status" {
		return errors.New("usage: till migrate [status]")
	}
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer d.Close()
	st, err := d.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	if len(args) == 1 {
		printStatus(stdout, d.Dialect, st)
		return nil
	}
	if st.Newer {
		return &db.SchemaNewerError{Database: st.Current, Binary: st.Latest}
	}
	if len(st.Pending) > 0 && !st.Empty && backupFirst != nil {
		where, err := backupFirst(ctx, d)
		if err != nil {
			return fmt.Errorf("backing up before migrating (nothing was migrated): %w", err)
		}
		fmt.Fprintf(stdout, "backed up to %s\n", where)
	}
	applied, err := d.ApplyMigrations(ctx)
	if err != nil {
		return err
	}
	if applied.Adopted != "" {
		fmt.Fprintf(stdout, "adopted the existing tables as %s\n", applied.Adopted)
	}
	for _, f := range applied.Files {
		fmt.Fprintf(stdout, "applied %s\n", f)
	}
	fmt.Fprintf(stdout, "schema is at version %s\n", st.Latest)
	log.Info("schema is up to date", "dialect", d.Dialect, "version", st.Latest)
	return nil
}

func printStatus(w io.Writer, dialectName string, st db.SchemaStatus) {
	current := st.Current
	if current == "" {
		current = "none"
	}
	fmt.Fprintf(w, "database: %s\ncurrent version: %s\nlatest version: %s\n", dialectName, current, st.Latest)
	switch {
	case st.Newer:
		fmt.Fprintln(w, "the database is newer than this till: it will not run on it")
	case st.Unversioned:
		fmt.Fprintf(w, "the tables were made before versioned migrations: `till migrate` adopts them as %s\n", st.Pending[0])
	}
	fmt.Fprintf(w, "pending: %d\n", len(st.Pending))
	for _, f := range st.Pending {
		fmt.Fprintf(w, "  %s\n", f)
	}
}

func createOperator(ctx context.Context, cfg config.Config, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("operator create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "login email (required)")
	name := fs.String("name", "", "display name (default: the email)")
	passwordFile := fs.String("password-file", "", "read the password from this file instead of stdin")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret, err := readPassword(stdin, *passwordFile)
	if err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer d.Close()
	if cfg.MigrateOnStart {
		if err := d.Migrate(ctx); err != nil {
			return err
		}
	}
	op, err := operators.Create(ctx, d.Client, password.NewHasher(cfg.PasswordCost), *email, *name, secret)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created operator %s (%s)\n", op.ID, op.Email)
	return nil
}

// rekeyCustomers reseals every customer's personal data still sealed under
// an older PII key, after a new key was made active in the key file.
func rekeyCustomers(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("customers rekey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	batch := fs.Int("batch", 500, "customers per transaction")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *batch < 1 {
		return errors.New("--batch must be at least 1")
	}
	box, err := piiBox(cfg, log)
	if err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := customers.New(d.Client, box).Rekey(ctx, *batch)
	fmt.Fprintf(stdout, "resealed %d customers under key %s\n", n, box.ActiveKeyID())
	return err
}

// piiBox seals and opens customers' personal data with the deployment's
// PII keys.
func piiBox(cfg config.Config, log *slog.Logger) (*pii.Box, error) {
	keys, err := server.LoadKeys(cfg, log)
	if err != nil {
		return nil, err
	}
	return pii.New(keys.PII, keys.BlindIndex)
}

// exportSales writes a merchant's sales with the writer the exportSales
// job uses, directly: for operators on the host, so it reads as the
// system, scoped to --merchant.
func exportSales(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "csv", "csv or xlsx")
	kind := fs.String("kind", "transactions", "transactions (a row per sale) or lines (a row per sale line)")
	merchantID := fs.String("merchant", "", "the merchant's ID (required)")
	storeID := fs.String("store", "", "only this store")
	from := fs.String("from", "", "first instant (RFC 3339) or business date (YYYY-MM-DD)")
	to := fs.String("to", "", "end instant, exclusive (RFC 3339), or last business date (YYYY-MM-DD)")
	out := fs.String("out", "", "file to write, or - for standard output (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	spec, err := exportSpec(*format, *kind, *merchantID, *storeID, *from, *to)
	if err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required (a file, or - for standard output)")
	}
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx = viewer.NewSystemContext(ctx, "till export")
	if _, err := d.Merchant.Get(ctx, spec.MerchantID); err != nil {
		return fmt.Errorf("merchant %s: %w", spec.MerchantID, err)
	}
	w := stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	rows, err := exports.Write(ctx, d.Client, spec, bw, nil)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d rows\n", rows)
	return nil
}

// exportSpec reads the flags of `till export`.
func exportSpec(format, kind, merchantID, storeID, from, to string) (exports.Spec, error) {
	spec := exports.Spec{
		MerchantID: pulid.ID(merchantID),
		Format:     exportjob.Format(strings.ToUpper(format)),
		Kind:       exportjob.Kind(strings.ToUpper(kind)),
	}
	if merchantID == "" {
		return spec, errors.New("--merchant is required")
	}
	if err := exportjob.FormatValidator(spec.Format); err != nil {
		return spec, fmt.Errorf("--format %q: want csv or xlsx", format)
	}
	if err := exportjob.KindValidator(spec.Kind); err != nil {
		return spec, fmt.Errorf("--kind %q: want transactions or lines", kind)
	}
	if storeID != "" {
		spec.Filters.StoreIDs = []pulid.ID{pulid.ID(storeID)}
	}
	for _, b := range []struct {
		name, value string
		at          **time.Time
		date        *string
	}{{"from", from, &spec.Filters.From, &spec.Filters.FromDate}, {"to", to, &spec.Filters.To, &spec.Filters.ToDate}} {
		if b.value == "" {
			continue
		}
		if _, err := time.Parse(time.DateOnly, b.value); err == nil {
			*b.date = b.value
			continue
		}
		at, err := time.Parse(time.RFC3339, b.value)
		if err != nil {
			return spec, fmt.Errorf("--%s %q: want RFC 3339 or YYYY-MM-DD", b.name, b.value)
		}
		*b.at = &at
	}
	return spec, nil
}

// readPassword reads the first line of path, or of stdin when path is "".
func readPassword(stdin io.Reader, path string) (string, error) {
	r := stdin
	if path != "" {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("reading password file: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password given on stdin or in --password-file")
	}
	return line, nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}
