package loyalty

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/loyaltyentry"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/sales"
)

// pay pays t, a LOYALTY tender of sl, with points of sl's customer (sales
// has locked the customer; a sale with a balance tender always has one):
// amount / pointValue of the program in force when the sale happened. An
// amount that is not a whole number of points, or more than the balance
// holds, is BAD_USER_INPUT on the tender's amount, and the sale is not
// written.
func (s *Service) pay(ctx context.Context, tx *ent.Tx, sl *ent.Sale, t *ent.Tender) error {
	if sl.CustomerID == nil {
		return fmt.Errorf("paying loyalty tender %s: the sale has no customer", t.ID)
	}
	field, err := sales.TenderField(ctx, tx, sl, t)
	if err != nil {
		return err
	}
	prog, err := running(ctx, tx.Client(), sl.MerchantID, sl.OccurredAt, strings.TrimSuffix(field, ".amount")+".type")
	if err != nil {
		return err
	}
	if prog.PointValue == 0 {
		return errs.Invalid(strings.TrimSuffix(field, ".amount")+".type", "the loyalty program does not take points as payment")
	}
	if t.Amount%prog.PointValue != 0 {
		return errs.Invalid(field, "points pay in steps of %d; %d is not a whole number of points", prog.PointValue, t.Amount)
	}
	points := t.Amount / prog.PointValue
	acc, err := s.lockAccount(ctx, tx, *sl.CustomerID)
	if err != nil {
		return err
	}
	var held int64
	if acc != nil {
		held = acc.Points
	}
	if acc == nil || held < points {
		return errs.Invalid(field, "%d takes %d points; the customer has %d", t.Amount, points, held)
	}
	_, _, err = post(ctx, tx, acc, posting{
		kind: loyaltyentry.KindREDEEM, points: -points, at: sl.OccurredAt,
		saleID: &sl.ID, tenderID: &t.ID, staffID: &sl.CashierID, version: &prog.Version,
	})
	if errors.Is(err, errShort) {
		return errs.Invalid(field, "%d takes %d points; the customer has %d", t.Amount, points, held)
	}
	return err
}
