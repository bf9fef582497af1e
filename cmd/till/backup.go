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

	"github.com/tillpos/till/backup"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/db"
)

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
	m, err := restoreFile(ctx, d, *from, keys, backup.RestoreOptions{Replace: *replace})
	if errors.Is(err, backup.ErrNotEmpty) {
		return fmt.Errorf("%w; restore into an empty database, or give --replace to overwrite everything in it", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %d rows in %d tables from %s (taken %s, schema %s, till %s) into %s\n",
		m.Rows(), len(m.Tables), *from, m.CreatedAt.Format("2006-01-02 15:04:05Z07:00"), m.SchemaVersion, m.AppVersion, d.Dialect)
	return nil
}

// restoreFile migrates d and restores the backup at path into it.
func restoreFile(ctx context.Context, d *db.DB, path string, keys backup.Keys, opts backup.RestoreOptions) (backup.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return backup.Manifest{}, err
	}
	defer f.Close()
	if err := d.Migrate(ctx); err != nil {
		return backup.Manifest{}, err
	}
	return backup.Restore(ctx, d, f, keys, opts)
}

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
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := d.Migrate(ctx); err != nil {
		return err
	}
	m, err := backup.Verify(ctx, d, f, keys)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(stdout, "%s: good: %d rows in %d tables restore with their checksums (taken %s, schema %s)\n",
		path, m.Rows(), len(m.Tables), m.CreatedAt.Format("2006-01-02 15:04:05Z07:00"), m.SchemaVersion)
	return nil
}
