package server_test

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/backup"
	"github.com/tillpos/till/config"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/saleshour"
)

// A backup taken while tills keep selling holds each sale whole (its
// lines, tenders and dashboard figures) or not at all.
func TestBackupWhileSelling(t *testing.T) {
	t.Parallel()
	env := newSaleEnv(t)
	keys, err := backup.NewKeys(config.BackupKeys{Passphrase: "shop backups"})
	require.NoError(t, err)
	store := env.owner.StoreID
	two := func() map[string]any {
		in := saleOf(store, []any{saleItem("Tea", 2, 350, 0), saleItem("Cake", 1, 500, 0)},
			map[string]any{"type": "CASH", "amount": 1200})
		in["idempotencyKey"] = saleKey()
		return in
	}
	env.record(t, env.cashier.Token, two())

	var selling sync.WaitGroup
	var recorded atomic.Int64
	stop := make(chan struct{})
	for range 3 {
		selling.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if res := env.Exec(t, env.cashier.Token, saleRecord, map[string]any{"i": two()}); len(res.Errors) == 0 {
					recorded.Add(1)
				}
			}
		})
	}
	var files [][]byte
	for len(files) < 3 || recorded.Load() < 10 {
		var file bytes.Buffer
		_, err := backup.Create(t.Context(), env.DB, &file, keys, backup.Options{})
		require.NoError(t, err)
		files = append(files, file.Bytes())
	}
	close(stop)
	selling.Wait()
	t.Logf("%d backups taken while %d sales were recorded", len(files), recorded.Load())

	ctx := viewer.NewSystemContext(t.Context(), "backup test")
	for i, file := range files {
		restored, err := db.Open(t.Context(), "file:"+t.TempDir()+"/restored.db", 2)
		require.NoError(t, err)
		t.Cleanup(func() { restored.Close() })
		require.NoError(t, restored.Migrate(t.Context()))
		_, err = backup.Restore(t.Context(), restored, bytes.NewReader(file), keys, backup.RestoreOptions{})
		require.NoError(t, err, "backup %d", i)

		sales, err := restored.Sale.Query().WithLines().WithTenders().All(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, sales)
		var total int64
		for _, s := range sales {
			require.Len(t, s.Edges.Lines, 2, "backup %d: sale %s without all its lines", i, s.ID)
			require.Len(t, s.Edges.Tenders, 1, "backup %d: sale %s without its tender", i, s.ID)
			total += s.Total
		}
		var hours []struct {
			Count int64 `json:"count"`
			Total int64 `json:"total"`
		}
		require.NoError(t, restored.SalesHour.Query().Aggregate(ent.As(ent.Sum(saleshour.FieldSalesCount), "count"), ent.As(ent.Sum(saleshour.FieldSalesTotal), "total")).Scan(ctx, &hours))
		require.Equal(t, int64(len(sales)), hours[0].Count, "backup %d: the dashboard counts other sales than the backup holds", i)
		require.Equal(t, total, hours[0].Total, "backup %d", i)
	}
}
