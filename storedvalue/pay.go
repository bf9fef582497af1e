package storedvalue

import (
	"context"
	sqldb "database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/refundtender"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/storedvalueentry"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/money"
	"github.com/tillpos/till/sales"
)

// pay pays t, a STORED_VALUE tender of sl, from the balance of sl's
// customer (sales has locked the customer; a sale with a balance tender
// always has one). A balance too low is BAD_USER_INPUT on the tender's
// amount, and the sale is not written.
func (s *Service) pay(ctx context.Context, tx *ent.Tx, sl *ent.Sale, t *ent.Tender) error {
	if sl.CustomerID == nil {
		return fmt.Errorf("paying stored value tender %s: the sale has no customer", t.ID)
	}
	acc, err := lockAccount(ctx, tx, *sl.CustomerID)
	if err != nil {
		return err
	}
	if acc == nil || acc.Balance < t.Amount {
		var balance int64
		if acc != nil {
			balance = acc.Balance
		}
		field, err := sales.TenderField(ctx, tx, sl, t)
		if err != nil {
			return err
		}
		return errs.Invalid(field, "the customer's stored value balance is %d, less than %d", balance, t.Amount)
	}
	_, _, err = post(ctx, tx, acc, posting{
		kind: storedvalueentry.KindPAYMENT, amount: -t.Amount, bonus: -bonusPart(acc, t.Amount),
		staffID: sl.CashierID, storeID: &sl.StoreID, deviceID: sl.DeviceID, saleID: &sl.ID, tenderID: &t.ID,
	})
	return err
}

// refunded credits the STORED_VALUE refund tenders of r to the balance of
// sl's customer: back to a STORED_VALUE tender, with the bonus money its
// payment took in proportion; or (without a tender, a sale paid otherwise
// refunded to balance, when the merchant allows it) as money paid in. The
// first credit opens the customer's account.
func (s *Service) refunded(ctx context.Context, tx *ent.Tx, sl *ent.Sale, r *ent.Refund) error {
	rts, err := tx.RefundTender.Query().
		Where(refundtender.RefundID(r.ID), refundtender.TypeEQ(refundtender.TypeSTORED_VALUE)).
		Order(ent.Asc(refundtender.FieldID)).
		All(ctx)
	if err != nil {
		return fmt.Errorf("loading refund tenders: %w", err)
	}
	if len(rts) == 0 {
		return nil
	}
	if sl.CustomerID == nil {
		return fmt.Errorf("refunding to stored value for sale %s: the sale has no customer", sl.ID)
	}
	if slices.ContainsFunc(rts, func(rt *ent.RefundTender) bool { return rt.TenderID == nil }) {
		set, err := settings(ctx, tx.Client(), sl.MerchantID)
		if err != nil {
			return err
		}
		if !set.RefundToBalanceAllowed {
			return errs.Invalid("tenders", "the merchant does not refund to stored value what was paid otherwise; refund to the sale's own tenders")
		}
	}
	acc, err := openAccount(ctx, tx, *sl.CustomerID, sl.StoreID)
	if err != nil {
		return err
	}
	for _, rt := range rts {
		p := posting{
			kind: storedvalueentry.KindREFUND, amount: rt.Amount,
			staffID: r.StaffID, storeID: &r.StoreID, deviceID: r.DeviceID, saleID: &sl.ID, tenderID: rt.TenderID, refundID: &r.ID,
		}
		if rt.TenderID != nil {
			if p.bonus, err = bonusBack(ctx, tx, *rt.TenderID, rt.Amount); err != nil {
				return err
			}
		}
		if acc, _, err = post(ctx, tx, acc, p); err != nil {
			if errors.Is(err, errFull) {
				return errs.Invalid("tenders", "the customer's stored value balance would pass %d", int64(maxAmount))
			}
			return err
		}
	}
	return nil
}

// bonusBack is the bonus money a refund of amount to stored value tender
// tenderID gives back: the payment's bonus part in proportion to what has
// been refunded of it, less what earlier refunds gave back, so that parts
// add up to the whole.
func bonusBack(ctx context.Context, tx *ent.Tx, tenderID pulid.ID, amount int64) (int64, error) {
	var sums []struct {
		Kind   storedvalueentry.Kind `json:"kind"`
		Amount sqldb.NullInt64       `json:"amount"`
		Bonus  sqldb.NullInt64       `json:"bonus"`
	}
	err := tx.StoredValueEntry.Query().
		Where(storedvalueentry.TenderID(tenderID)).
		GroupBy(storedvalueentry.FieldKind).
		Aggregate(ent.As(ent.Sum(storedvalueentry.FieldAmount), "amount"), ent.As(ent.Sum(storedvalueentry.FieldBonusAmount), "bonus")).
		Scan(ctx, &sums)
	if err != nil {
		return 0, fmt.Errorf("summing the tender's stored value entries: %w", err)
	}
	var paid, paidBonus, back, backBonus int64
	for _, s := range sums {
		switch s.Kind {
		case storedvalueentry.KindPAYMENT:
			paid, paidBonus = -s.Amount.Int64, -s.Bonus.Int64
		case storedvalueentry.KindREFUND:
			back, backBonus = s.Amount.Int64, s.Bonus.Int64
		}
	}
	if paid <= 0 || back+amount > paid {
		return 0, fmt.Errorf("refunding %d to stored value tender %s: %d paid, %d refunded", amount, tenderID, paid, back)
	}
	return money.MulDiv(back+amount, paidBonus, paid) - backBonus, nil
}
