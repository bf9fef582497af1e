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
	"github.com/tillpos/till/backup/merchant"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/pii"
)

const merchantUsage = "usage: till merchant export --merchant ID --out FILE|DIR, or till merchant import --from FILE"

// moveMerchant runs `till merchant export` and `till merchant import`.
func moveMerchant(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(merchantUsage)
	}
	keys, err := backup.LoadKeys(cfg, log)
	if err != nil {
		return err
	}
	box, err := piiBox(cfg, log)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("merchant "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "export":
		id := fs.String("merchant", "", "the merchant's ID")
		out := fs.String("out", "", "the file to write, or a directory to write merchant-<id>-<UTC time>.tillbak in")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *id == "" || *out == "" {
			return errors.New("merchant export needs --merchant and --out")
		}
		d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
		if err != nil {
			return err
		}
		defer d.Close()
		path, m, err := exportMerchant(ctx, d, box, pulid.ID(*id), *out, keys)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "exported merchant %s: %d rows in %d tables to %s\n", m.MerchantID, m.Rows(), len(m.Tables), path)
		return nil
	case "import":
		from := fs.String("from", "", "the merchant export to read")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *from == "" {
			return errors.New("merchant import needs --from")
		}
		f, err := os.Open(*from)
		if err != nil {
			return err
		}
		defer f.Close()
		d, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
		if err != nil {
			return err
		}
		defer d.Close()
		m, err := merchant.Import(ctx, d, box, f, keys)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "imported merchant %s: %d rows in %d tables\n", m.MerchantID, m.Rows(), len(m.Tables))
		return nil
	}
	return errors.New(merchantUsage)
}

// exportMerchant writes the export to out (a file, or a directory to name
// it in) through a temporary file beside it, so a failed export leaves no
// file that looks whole; an existing file is not replaced.
func exportMerchant(ctx context.Context, d *db.DB, box *pii.Box, id pulid.ID, out string, keys backup.Keys) (string, backup.Manifest, error) {
	if info, err := os.Stat(out); err == nil && info.IsDir() {
		out = filepath.Join(out, fmt.Sprintf("merchant-%s-%s.tillbak", id, time.Now().UTC().Format("20060102T150405Z")))
	}
	if _, err := os.Stat(out); err == nil {
		return out, backup.Manifest{}, fmt.Errorf("%s already exists", out)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return out, backup.Manifest{}, err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	m, err := merchant.Export(ctx, d, box, id, tmp, keys, backup.Options{AppVersion: buildVersion()})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	return out, m, err
}
