package loyalty

import (
	"context"
	"fmt"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/loyaltyaccount"
	"github.com/tillpos/till/ent/loyaltyentry"
	"github.com/tillpos/till/ent/loyaltylot"
	"github.com/tillpos/till/ent/loyaltyredemption"
	"github.com/tillpos/till/ent/schema/pulid"
)

// merged moves the points of customer from to customer to, in the merge's
// transaction (both customers locked): the account itself when to has
// none, else from's ledger, lots and redemptions join to's, the balances
// add up, and the survivor keeps the higher tier (and its review date).
func (s *Service) merged(ctx context.Context, tx *ent.Tx, merchantID, from, to pulid.ID) error {
	q := tx.LoyaltyAccount.Query().Where(loyaltyaccount.CustomerIDIn(from, to))
	if _, err := q.Clone().Order(ent.Asc(loyaltyaccount.FieldID)).Select(loyaltyaccount.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
		return fmt.Errorf("locking loyalty accounts: %w", err)
	}
	accs, err := q.All(ctx)
	if err != nil {
		return fmt.Errorf("loading loyalty accounts: %w", err)
	}
	var dup, survivor *ent.LoyaltyAccount
	for _, a := range accs {
		if a.CustomerID == from {
			dup = a
		} else {
			survivor = a
		}
	}
	if dup == nil {
		return nil
	}
	moved := dup
	if survivor == nil {
		if moved, err = tx.LoyaltyAccount.UpdateOne(dup).SetCustomerID(to).Save(ctx); err != nil {
			return fmt.Errorf("moving loyalty account: %w", err)
		}
	} else {
		if _, err := tx.LoyaltyEntry.Update().Where(loyaltyentry.AccountID(dup.ID)).SetAccountID(survivor.ID).Save(ctx); err != nil {
			return fmt.Errorf("moving loyalty entries: %w", err)
		}
		if _, err := tx.LoyaltyLot.Update().Where(loyaltylot.AccountID(dup.ID)).SetAccountID(survivor.ID).Save(ctx); err != nil {
			return fmt.Errorf("moving loyalty lots: %w", err)
		}
		if _, err := tx.LoyaltyRedemption.Update().Where(loyaltyredemption.AccountID(dup.ID)).SetAccountID(survivor.ID).Save(ctx); err != nil {
			return fmt.Errorf("moving loyalty redemptions: %w", err)
		}
		upd := tx.LoyaltyAccount.UpdateOne(survivor).SetPoints(survivor.Points + dup.Points)
		prog, err := latest(ctx, tx.Client(), merchantID)
		if err != nil {
			return err
		}
		if prog != nil && tierIndex(prog, dup.Tier) > tierIndex(prog, survivor.Tier) {
			upd.SetTier(dup.Tier).SetTierSince(dup.TierSince).SetNillableTierReviewAt(dup.TierReviewAt)
		}
		if moved, err = upd.Save(ctx); err != nil {
			return fmt.Errorf("adding up loyalty balances: %w", err)
		}
		if err := tx.LoyaltyAccount.DeleteOne(dup).Exec(ctx); err != nil {
			return fmt.Errorf("closing the duplicate's loyalty account: %w", err)
		}
	}
	return audit.Record(ctx, tx.Client(), audit.Entry{
		MerchantID: merchantID, Action: "loyalty.merged", TargetType: "Customer", TargetID: to,
		Details: map[string]any{"duplicate": from, "moved": dup.Points, "points": moved.Points, "tier": moved.Tier},
	})
}

// export is what loyalty holds about customer id, for their data export:
// the account and the ledger, oldest first; nil when they never had
// points (or they moved to the customer they were merged into).
func (s *Service) export(ctx context.Context, client *ent.Client, id pulid.ID) (any, error) {
	acc, err := client.LoyaltyAccount.Query().Where(loyaltyaccount.CustomerID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading loyalty account: %w", err)
	}
	entries, err := client.LoyaltyEntry.Query().Where(loyaltyentry.AccountID(acc.ID)).
		Order(ent.Asc(loyaltyentry.FieldCreatedAt), ent.Asc(loyaltyentry.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading loyalty entries: %w", err)
	}
	docs := make([]map[string]any, len(entries))
	for i, e := range entries {
		docs[i] = map[string]any{
			"kind": e.Kind, "points": e.Points, "occurredAt": e.OccurredAt, "expiresAt": e.ExpiresAt, "at": e.CreatedAt,
			"sale": e.SaleID, "refund": e.RefundID, "reward": e.RewardID, "reason": e.Reason,
		}
	}
	return map[string]any{
		"points": acc.Points, "tier": acc.Tier, "tierSince": acc.TierSince, "tierReviewAt": acc.TierReviewAt,
		"openedAt": acc.CreatedAt, "updatedAt": acc.UpdatedAt, "entries": docs,
	}, nil
}
