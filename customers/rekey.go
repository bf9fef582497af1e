package customers

import (
	"context"
	"fmt"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/predicate"
)

// Rekey seals every customer's personal data that is sealed under an older
// key afresh under the active one, batch customers per transaction, and
// returns how many it resealed. Safe to run while the server serves, and
// to run again: a customer already on the active key is skipped.
//
// Each customer is written back only if their sealed data is still what
// was read: one edited in between (perhaps by a replica still sealing
// under the old key) is skipped, and read again by the next batch.
func (s *Service) Rekey(ctx context.Context, batch int) (int, error) {
	ctx = viewer.NewSystemContext(ctx, "customers-rekey")
	active := s.box.ActiveKeyID()
	total := 0
	for {
		stale, err := s.db.Customer.Query().
			Where(customer.PiiKeyIDNEQ(active), customer.PiiKeyIDNEQ("")).
			Order(ent.Asc(customer.FieldID)).
			Limit(batch).
			All(ctx)
		if err != nil {
			return total, fmt.Errorf("finding customers to rekey: %w", err)
		}
		if len(stale) == 0 {
			return total, nil
		}
		resealed := 0
		err = db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
			for _, c := range stale {
				upd := tx.Customer.Update().Where(customer.ID(c.ID), unchangedSeals(c))
				if err := s.reseal(upd.Mutation(), c); err != nil {
					return err
				}
				n, err := upd.Save(ctx)
				if err != nil {
					return fmt.Errorf("resealing customer %s: %w", c.ID, err)
				}
				resealed += n
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += resealed
	}
}

// unchangedSeals matches c's row while its key id and sealed details are
// still those of c.
func unchangedSeals(c *ent.Customer) predicate.Customer {
	same := func(sealed *string, is func(string) predicate.Customer, isNil predicate.Customer) predicate.Customer {
		if sealed == nil {
			return isNil
		}
		return is(*sealed)
	}
	return customer.And(
		customer.PiiKeyID(c.PiiKeyID),
		same(c.PhoneEnc, customer.PhoneEnc, customer.PhoneEncIsNil()),
		same(c.EmailEnc, customer.EmailEnc, customer.EmailEncIsNil()),
		same(c.AddressEnc, customer.AddressEnc, customer.AddressEncIsNil()),
	)
}
