package backup

import (
	"context"
	"io"

	"github.com/tillpos/till/backup/dest"
	"github.com/tillpos/till/db"
)

// Producer writes encrypted backups of a database for dest.Run.
func Producer(k Keys, appVersion string) func(*db.DB) dest.Producer {
	return func(d *db.DB) dest.Producer {
		return func(ctx context.Context, w io.Writer) (dest.Summary, error) {
			m, err := Create(ctx, d, w, k, Options{AppVersion: appVersion})
			return dest.Summary{Tables: len(m.Tables), Rows: m.Rows()}, err
		}
	}
}
