package loyalty

import (
	"context"
	"errors"
	"fmt"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/loyaltyaccount"
	"github.com/tillpos/till/ent/loyaltyentry"
	"github.com/tillpos/till/ent/loyaltylot"
	"github.com/tillpos/till/ent/schema/pulid"
)

// Expire expires, across merchants, what is left of every lot whose time
// has come: per account, under its lock, an EXPIRE entry for each lot. It
// is safe to run twice and on several replicas at once: the lots are read
// again under the account's lock, and a lot is taken only while it still
// holds what was read, so each lot expires once.
func (s *Service) Expire(ctx context.Context) error {
	ctx = viewer.NewSystemContext(ctx, "loyalty-expiry")
	now := s.now()
	ids, err := s.db.LoyaltyLot.Query().
		Where(loyaltylot.ExpiresAtLTE(now), loyaltylot.RemainingGT(0)).
		Unique(true).Select(loyaltylot.FieldAccountID).Strings(ctx)
	if err != nil {
		return fmt.Errorf("finding expired points: %w", err)
	}
	var failed []error
	for _, id := range ids {
		err := db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
			_, err := s.lockAccountByID(ctx, tx, pulid.ID(id))
			return err
		})
		if err != nil {
			failed = append(failed, fmt.Errorf("account %s: %w", id, err))
		}
	}
	return errors.Join(failed...)
}

// ReviewTiers gives every account whose review is due, across merchants,
// the tier its rolling 12-month basis reaches under its merchant's
// program, down as well as up; the next review is 12 months on (none in
// the base tier). Running it twice does nothing more: a reviewed account
// is not due again.
func (s *Service) ReviewTiers(ctx context.Context) error {
	ctx = viewer.NewSystemContext(ctx, "loyalty-tiers")
	now := s.now()
	ids, err := s.db.LoyaltyAccount.Query().Where(loyaltyaccount.TierReviewAtLTE(now)).IDs(ctx)
	if err != nil {
		return fmt.Errorf("finding tiers due for review: %w", err)
	}
	var failed []error
	for _, id := range ids {
		err := db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
			acc, err := s.lockAccountByID(ctx, tx, id)
			if err != nil || acc == nil || acc.TierReviewAt == nil || acc.TierReviewAt.After(now) {
				return err
			}
			prog, err := latest(ctx, tx.Client(), acc.MerchantID)
			if err != nil || prog == nil {
				return err
			}
			basis, err := tierBasis(ctx, tx.Client(), acc, prog.TierBasis, now)
			if err != nil {
				return err
			}
			to := prog.Tiers[qualified(prog, basis)].Name
			upd := tx.LoyaltyAccount.UpdateOne(acc).SetTier(to)
			if to != acc.Tier {
				upd.SetTierSince(now)
			}
			if to == prog.Tiers[0].Name {
				upd.ClearTierReviewAt()
			} else {
				upd.SetTierReviewAt(now.AddDate(0, tierYear, 0))
			}
			if err := upd.Exec(ctx); err != nil {
				return fmt.Errorf("reviewing tier: %w", err)
			}
			return nil
		})
		if err != nil {
			failed = append(failed, fmt.Errorf("account %s: %w", id, err))
		}
	}
	return errors.Join(failed...)
}

// lockAccountByID locks and reads account id, with its due points
// expired; nil when it is gone (merged away).
func (s *Service) lockAccountByID(ctx context.Context, tx *ent.Tx, id pulid.ID) (*ent.LoyaltyAccount, error) {
	return s.lockAccountWhere(ctx, tx, loyaltyaccount.ID(id))
}

// expireDue writes an EXPIRE entry for what is left of each of acc's lots
// whose time has come, acc being locked, and returns acc as it stands
// after. A lot another run expired first is left be.
func (s *Service) expireDue(ctx context.Context, tx *ent.Tx, acc *ent.LoyaltyAccount) (*ent.LoyaltyAccount, error) {
	lots, err := tx.LoyaltyLot.Query().
		Where(loyaltylot.AccountID(acc.ID), loyaltylot.ExpiresAtLTE(s.now()), loyaltylot.RemainingGT(0)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading expired lots: %w", err)
	}
	sortLots(lots)
	for _, l := range lots {
		next, _, err := post(ctx, tx, acc, posting{
			kind: loyaltyentry.KindEXPIRE, points: -l.Remaining, at: *l.ExpiresAt, lot: l,
			reason: "points earned " + l.CreatedAt.UTC().Format("2006-01-02") + " expired",
		})
		if errors.Is(err, errGone) {
			continue
		}
		if err != nil {
			return nil, err
		}
		acc = next
	}
	return acc, nil
}
