package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/tillpos/till/backup"
	"github.com/tillpos/till/backup/dest"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/server"
)

// backupSchedule lets the server take the daily backups, with the keys
// `till backup` uses; without a key (production with none configured)
// there is no schedule, and the log says so.
func backupSchedule(cfg config.Config, log *slog.Logger) []server.Option {
	keys, err := backup.LoadKeys(cfg, log)
	if err != nil {
		log.Warn("backups: no scheduled backups", "err", err)
		return nil
	}
	return []server.Option{server.WithBackupProducer(backup.Producer(keys, buildVersion()))}
}

// backupCmd is `till backup [--to DEST]…` and `till backup verify FILE`.
func backupCmd(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "verify" {
		return verifyBackup(ctx, cfg, log, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var to []string
	fs.Func("to", "a directory or s3:// URL to write the backup to (repeatable; default TILL_BACKUP_TO, or backups/ beside the SQLite file)", func(s string) error {
		to = append(to, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.New("usage: till backup [--to DIR|s3://…]… | till backup verify FILE")
	}
	if len(to) > 0 {
		cfg.BackupTo = to
	}
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = backupNow(ctx, cfg, log, d, stdout)
	return err
}

// backupNow backs d up to cfg's destinations, verifying each copy, and
// says where the backup went.
func backupNow(ctx context.Context, cfg config.Config, log *slog.Logger, d *db.DB, stdout io.Writer) (string, error) {
	keys, err := backup.LoadKeys(cfg, log)
	if err != nil {
		return "", err
	}
	to, err := server.BackupDestinations(cfg)
	if err != nil {
		return "", err
	}
	if len(to) == 0 {
		return "", errors.New("no backup destination: give --to DIR or s3://…, or set TILL_BACKUP_TO")
	}
	r := dest.Run(ctx, dest.FileName(time.Now()), backup.Producer(keys, buildVersion())(d), to...)
	for _, c := range r.Copies {
		if c.Err == nil {
			fmt.Fprintf(stdout, "wrote and verified %s/%s\n", c.Destination, r.Name)
		}
	}
	if err := r.Err(); err != nil {
		return "", err
	}
	fmt.Fprintf(stdout, "backed up %d rows in %d tables (%d bytes, sha256 %s)\n", r.Summary.Rows, r.Summary.Tables, r.Size, r.SHA256)
	return fmt.Sprintf("%s/%s", r.Copies[0].Destination, r.Name), nil
}

// restore loads a backup file into the configured database, which must be
// empty unless --replace is given.
func restore(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the backup file (required)")
	replace := fs.Bool("replace", false, "empty a database that holds data first")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" {
		return errors.New("--from is required")
	}
	keys, err := backup.LoadKeys(cfg, log)
	if err != nil {
		return err
	}
	d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer d.Close()
	m, err := fromFile(ctx, d, *from, func(f io.Reader) (backup.Manifest, error) {
		return backup.Restore(ctx, d, f, keys, backup.RestoreOptions{Replace: *replace, SchemaVersion: db.SchemaVersion()})
	})
	if errors.Is(err, backup.ErrNotEmpty) {
		return fmt.Errorf("%w; restore into an empty database, or give --replace to overwrite everything in it", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %d rows in %d tables from %s (taken %s, schema %s, till %s) into %s\n",
		m.Rows(), len(m.Tables), *from, m.CreatedAt.Format(manifestTime), m.SchemaVersion, m.AppVersion, d.Dialect)
	return nil
}

// fromFile opens the backup at path, brings d's schema up to this
// binary's, and hands the file to load (a restore or a verify).
func fromFile(ctx context.Context, d *db.DB, path string, load func(io.Reader) (backup.Manifest, error)) (backup.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return backup.Manifest{}, err
	}
	defer f.Close()
	if err := d.Migrate(ctx); err != nil {
		return backup.Manifest{}, err
	}
	return load(f)
}

// manifestTime is how the commands show when a backup was taken.
const manifestTime = "2006-01-02 15:04:05Z07:00"

// verifyBackup restores a backup into a scratch database (a temporary
// SQLite file unless --scratch names one) and checks every table against
// the manifest.
func verifyBackup(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scratch := fs.String("scratch", "", "an empty database to restore into (default: a temporary SQLite file)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: till backup verify [--scratch URL] FILE")
	}
	path := fs.Arg(0)
	keys, err := backup.LoadKeys(cfg, log)
	if err != nil {
		return err
	}
	url := *scratch
	if url == "" {
		dir, err := os.MkdirTemp("", "till-verify-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		url = "file:" + filepath.Join(dir, "scratch.db")
	}
	d, err := db.Open(ctx, url, 2)
	if err != nil {
		return err
	}
	defer d.Close()
	m, err := fromFile(ctx, d, path, func(f io.Reader) (backup.Manifest, error) {
		return backup.Verify(ctx, d, f, keys, db.SchemaVersion())
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(stdout, "%s: good: %d rows in %d tables restore with their checksums (taken %s, schema %s)\n",
		path, m.Rows(), len(m.Tables), m.CreatedAt.Format(manifestTime), m.SchemaVersion)
	return nil
}
