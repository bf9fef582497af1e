package loyalty

import (
	"context"
	sqldb "database/sql"
	"fmt"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/loyaltyentry"
	"github.com/tillpos/till/ent/loyaltyredemption"
	"github.com/tillpos/till/ent/refundtender"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/internal/money"
)

// refunded follows a refund, void or exchange return r of sl (sl as it
// stands after r) for its customer, sales having locked the customer:
//   - a void or a refund of the rest of the sale gives the points of the
//     rewards redeemed in it back, and voids the redemptions;
//   - the points the sale earned are reversed in proportion to what has
//     been refunded of it, reckoned on the whole so far, so that partial
//     refunds add up to a full one; what the balance no longer holds
//     (points already spent) is not reversed, and the entry says so;
//   - money refunded to a LOYALTY tender goes back as the points it took,
//     in proportion.
func (s *Service) refunded(ctx context.Context, tx *ent.Tx, sl *ent.Sale, r *ent.Refund) error {
	if sl.CustomerID == nil {
		return nil
	}
	acc, err := s.lockAccount(ctx, tx, *sl.CustomerID)
	if err != nil || acc == nil {
		return err
	}
	p := posting{kind: loyaltyentry.KindREVERSE, at: sl.OccurredAt, saleID: &sl.ID, refundID: &r.ID, staffID: &r.StaffID}
	if sl.Status == sale.StatusVOIDED || sl.Status == sale.StatusREFUNDED {
		if acc, err = s.giveBack(ctx, tx, acc, sl, p); err != nil {
			return err
		}
	}
	if acc, err = reverseEarned(ctx, tx, acc, sl, p); err != nil {
		return err
	}
	return s.payBack(ctx, tx, acc, sl, r, p)
}

// giveBack gives the points of the rewards redeemed in sl back to acc, as
// new lots, and voids their redemptions.
func (s *Service) giveBack(ctx context.Context, tx *ent.Tx, acc *ent.LoyaltyAccount, sl *ent.Sale, p posting) (*ent.LoyaltyAccount, error) {
	uses, err := tx.LoyaltyRedemption.Query().
		Where(loyaltyredemption.SaleID(sl.ID), loyaltyredemption.VoidedAtIsNil()).
		Order(ent.Asc(loyaltyredemption.FieldID)).
		All(ctx)
	if err != nil || len(uses) == 0 {
		return acc, err
	}
	now := s.now()
	prog, err := latest(ctx, tx.Client(), sl.MerchantID)
	if err != nil {
		return nil, err
	}
	for _, u := range uses {
		if err := tx.LoyaltyRedemption.UpdateOne(u).SetVoidedAt(now).Exec(ctx); err != nil {
			return nil, fmt.Errorf("voiding loyalty redemption: %w", err)
		}
		back := p
		back.points, back.at, back.expiresAt = u.Points, now, expiry(prog, now)
		back.rewardID, back.redemptionID = &u.RewardID, &u.ID
		back.reason = "the reward's points given back: its sale was " + sl.Status.String()
		if acc, _, err = post(ctx, tx, acc, back); err != nil {
			return nil, err
		}
	}
	return acc, nil
}

// reverseEarned reverses the points sl earned in proportion to what has
// been refunded of it, less what earlier refunds reversed.
func reverseEarned(ctx context.Context, tx *ent.Tx, acc *ent.LoyaltyAccount, sl *ent.Sale, p posting) (*ent.LoyaltyAccount, error) {
	var sums []struct {
		Kind   loyaltyentry.Kind `json:"kind"`
		Points sqldb.NullInt64   `json:"points"`
		Spend  sqldb.NullInt64   `json:"spend"`
	}
	err := tx.LoyaltyEntry.Query().
		Where(loyaltyentry.SaleID(sl.ID), loyaltyentry.KindIn(loyaltyentry.KindEARN, loyaltyentry.KindREVERSE)).
		GroupBy(loyaltyentry.FieldKind).
		Aggregate(ent.As(ent.Sum(loyaltyentry.FieldQualifyingPoints), "points"), ent.As(ent.Sum(loyaltyentry.FieldQualifyingSpend), "spend")).
		Scan(ctx, &sums)
	if err != nil {
		return nil, fmt.Errorf("summing the sale's loyalty entries: %w", err)
	}
	var earned, spent, reversed, unspent int64
	for _, s := range sums {
		switch s.Kind {
		case loyaltyentry.KindEARN:
			earned, spent = s.Points.Int64, s.Spend.Int64
		case loyaltyentry.KindREVERSE:
			reversed, unspent = -s.Points.Int64, -s.Spend.Int64
		}
	}
	if (earned <= 0 && spent <= 0) || sl.Total <= 0 {
		return acc, nil
	}
	refunded := min(sl.RefundedTotal, sl.Total)
	p.qualPoints = -(money.MulDiv(earned, refunded, sl.Total) - reversed)
	p.qualSpend = -(money.MulDiv(spent, refunded, sl.Total) - unspent)
	if p.qualPoints == 0 && p.qualSpend == 0 {
		return acc, nil
	}
	want := -p.qualPoints
	p.points = -min(want, acc.Points)
	if -p.points < want {
		p.reason = fmt.Sprintf("%d of the %d points to reverse were reversed: the balance held only %d (points already spent)", -p.points, want, acc.Points)
	}
	acc, _, err = post(ctx, tx, acc, p)
	return acc, err
}

// payBack credits the LOYALTY refund tenders of r to acc: each the points
// its sale tender took, in proportion to what has been refunded of the
// tender, less what earlier refunds gave back; as a new lot expiring like
// points earned now.
func (s *Service) payBack(ctx context.Context, tx *ent.Tx, acc *ent.LoyaltyAccount, sl *ent.Sale, r *ent.Refund, p posting) error {
	rts, err := tx.RefundTender.Query().
		Where(refundtender.RefundID(r.ID), refundtender.TypeEQ(refundtender.TypeLOYALTY), refundtender.TenderIDNotNil()).
		Order(ent.Asc(refundtender.FieldID)).
		WithTender().
		All(ctx)
	if err != nil || len(rts) == 0 {
		return err
	}
	now := s.now()
	prog, err := latest(ctx, tx.Client(), sl.MerchantID)
	if err != nil {
		return err
	}
	for _, rt := range rts {
		t := rt.Edges.Tender
		paid, back, err := tenderPoints(ctx, tx, t.ID)
		if err != nil {
			return err
		}
		credit := p
		credit.points = money.MulDiv(paid, min(t.RefundedAmount, t.Amount), t.Amount) - back
		credit.at, credit.expiresAt, credit.tenderID = now, expiry(prog, now), &t.ID
		credit.reason = "refunded to the LOYALTY tender"
		if credit.points <= 0 {
			continue
		}
		if acc, _, err = post(ctx, tx, acc, credit); err != nil {
			return err
		}
	}
	return nil
}

// tenderPoints are the points a LOYALTY tender paid and those refunds have
// given back to it.
func tenderPoints(ctx context.Context, tx *ent.Tx, tenderID pulid.ID) (paid, back int64, err error) {
	var sums []struct {
		Kind   loyaltyentry.Kind `json:"kind"`
		Points sqldb.NullInt64   `json:"points"`
	}
	err = tx.LoyaltyEntry.Query().
		Where(loyaltyentry.TenderID(tenderID)).
		GroupBy(loyaltyentry.FieldKind).
		Aggregate(ent.As(ent.Sum(loyaltyentry.FieldPoints), "points")).
		Scan(ctx, &sums)
	if err != nil {
		return 0, 0, fmt.Errorf("summing the tender's loyalty entries: %w", err)
	}
	for _, s := range sums {
		switch s.Kind {
		case loyaltyentry.KindREDEEM:
			paid = -s.Points.Int64
		case loyaltyentry.KindREVERSE:
			back = s.Points.Int64
		}
	}
	return paid, back, nil
}
