package customers

import (
	"context"
	"fmt"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
)

// Rekey seals every customer's personal data that is sealed under an older
// key afresh under the active one, batch customers per transaction, and
// returns how many it resealed. Safe to run while the server serves, and
// to run again: a customer already on the active key is skipped.
func (s *Service) Rekey(ctx context.Context, batch int) (int, error) {
	ctx = viewer.NewSystemContext(ctx, "customers-rekey")
	active := s.box.ActiveKeyID()
	total := 0
	for {
		stale, err := s.db.Customer.Query().
			Where(customer.PiiKeyIDNEQ(active), customer.PiiKeyIDNEQ("")).
			Limit(batch).
			All(ctx)
		if err != nil {
			return total, fmt.Errorf("finding customers to rekey: %w", err)
		}
		if len(stale) == 0 {
			return total, nil
		}
		err = db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
			for _, c := range stale {
				upd := tx.Customer.UpdateOne(c)
				if err := s.reseal(upd.Mutation(), c); err != nil {
					return err
				}
				if err := upd.Exec(ctx); err != nil {
					return fmt.Errorf("resealing customer %s: %w", c.ID, err)
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += len(stale)
	}
}
