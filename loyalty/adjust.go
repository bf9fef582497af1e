package loyalty

import (
	"context"
	"errors"
	"fmt"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/loyaltyentry"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/idempotency"
)

// AdjustInput corrects a customer's points by Points (negative takes
// away), for Reason. The JSON form, without the key, is what a retry must
// repeat.
type AdjustInput struct {
	IdempotencyKey string   `json:"-"`
	CustomerID     pulid.ID `json:"customerId"`
	Points         int64    `json:"points"`
	Reason         string   `json:"reason"`
}

// AdjustResult is an adjustment's entry and the customer's points as they
// stand after it.
type AdjustResult struct {
	Entry    *ent.LoyaltyEntry
	Loyalty  *Standing
	Replayed bool
}

// Adjust writes an ADJUST entry: OWNER or MANAGER, with a reason, audited.
// Points added are a lot of their own, expiring as points earned now do;
// points taken come from the lots first to expire, never below zero.
// Adjustments do not count towards tiers. Retries with the same key
// replay.
//
// Errors: FORBIDDEN (a cashier), NOT_FOUND (customerId), BAD_USER_INPUT
// (points: 0, out of range, more than the balance; reason; no program),
// IDEMPOTENCY_CONFLICT.
func (s *Service) Adjust(ctx context.Context, in AdjustInput) (*AdjustResult, error) {
	v, err := staffViewer(ctx, managers...)
	if err != nil {
		return nil, err
	}
	if err := idempotency.CheckKey(in.IdempotencyKey); err != nil {
		return nil, err
	}
	if in.Points == 0 || in.Points < -maxPoints || in.Points > maxPoints {
		return nil, errs.Invalid("points", "an adjustment is 1 to %d points either way", int64(maxPoints))
	}
	if in.Reason, err = audit.Reason(in.Reason); err != nil {
		return nil, err
	}
	res, _, err := idempotency.Once(in,
		func(hash string) (*AdjustResult, error) { return s.priorAdjustment(ctx, in.IdempotencyKey, hash) },
		func(hash string) (*AdjustResult, error) { return s.adjust(ctx, v, in, hash) })
	return res, err
}

// adjust writes the adjustment in a transaction of its own.
func (s *Service) adjust(ctx context.Context, v *viewer.Viewer, in AdjustInput, hash string) (*AdjustResult, error) {
	var entry *ent.LoyaltyEntry
	var customerID pulid.ID
	err := db.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		cust, err := customers.ResolveForWrite(ctx, tx.Client(), in.CustomerID)
		if err != nil {
			return err
		}
		customerID = cust.ID
		now := s.now()
		prog, err := latest(ctx, tx.Client(), v.MerchantID)
		if err != nil {
			return err
		}
		if prog == nil {
			return errs.Invalid("customerId", "no loyalty program runs here")
		}
		acc, err := s.openAccount(ctx, tx, v.MerchantID, cust.ID, prog)
		if err != nil {
			return err
		}
		before := acc.Points
		acc, entry, err = post(ctx, tx, acc, posting{
			kind: loyaltyentry.KindADJUST, points: in.Points, at: now, expiresAt: expiry(prog, now),
			staffID: &v.ID, reason: in.Reason, key: &in.IdempotencyKey, hash: hash,
		})
		switch {
		case errors.Is(err, errShort):
			return errs.Invalid("points", "the customer has %d points", before)
		case errors.Is(err, errFull):
			return errs.Invalid("points", "the balance would pass %d", int64(maxPoints))
		case err != nil:
			return err
		}
		return audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "loyalty.adjusted", TargetType: "Customer", TargetID: cust.ID,
			Details: map[string]any{"entryId": entry.ID, "points": in.Points, "reason": in.Reason, "balance": acc.Points},
		})
	})
	if err != nil {
		return nil, err
	}
	standing, err := s.Standing(ctx, customerID)
	if err != nil {
		return nil, err
	}
	return &AdjustResult{Entry: entry.Unwrap(), Loyalty: standing}, nil
}

// priorAdjustment returns the adjustment made with key and the customer's
// points as they stand now, if its request hashed to hash;
// IDEMPOTENCY_CONFLICT if it did not; nil if there is none.
func (s *Service) priorAdjustment(ctx context.Context, key, hash string) (*AdjustResult, error) {
	found, err := s.db.LoyaltyEntry.Query().Where(loyaltyentry.IdempotencyKey(key)).Only(ctx)
	prior, err := idempotency.Replayable(found, err, func(e *ent.LoyaltyEntry) string { return e.RequestHash }, hash, "adjustment")
	if prior == nil || err != nil {
		return nil, err
	}
	acc, err := s.db.LoyaltyAccount.Get(ctx, prior.AccountID)
	if err != nil {
		return nil, fmt.Errorf("loading loyalty account: %w", err)
	}
	standing, err := s.Standing(ctx, acc.CustomerID)
	if err != nil {
		return nil, err
	}
	return &AdjustResult{Entry: prior, Loyalty: standing, Replayed: true}, nil
}
