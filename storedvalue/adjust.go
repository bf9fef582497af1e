package storedvalue

import (
	"context"
	"errors"
	"fmt"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/ent/storedvalueentry"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/idempotency"
	"github.com/tillpos/till/internal/ptr"
)

// AdjustInput corrects a customer's balance by Amount (negative takes
// away), for Reason. The JSON form, without the key, is what a retry must
// repeat.
type AdjustInput struct {
	IdempotencyKey string   `json:"-"`
	CustomerID     pulid.ID `json:"customerId"`
	Amount         int64    `json:"amount"`
	Reason         string   `json:"reason"`
}

// AdjustResult is an adjustment's entry and the balance as it stands
// after it.
type AdjustResult struct {
	Entry       *ent.StoredValueEntry
	StoredValue *Balance
	Replayed    bool
}

// Adjust writes an ADJUST entry: OWNER only, with a reason, audited. What
// it adds is bonus money (the merchant gives it; none was paid in); what
// it takes, it takes from paid and bonus money in proportion, as a payment
// does, and never below zero. Retries with the same key replay.
func (s *Service) Adjust(ctx context.Context, in AdjustInput) (*AdjustResult, error) {
	v, err := staffViewer(ctx, viewer.RoleOwner)
	if err != nil {
		return nil, err
	}
	if err := idempotency.CheckKey(in.IdempotencyKey); err != nil {
		return nil, err
	}
	if in.Amount == 0 || in.Amount < -maxAmount || in.Amount > maxAmount {
		return nil, errs.Invalid("amount", "an adjustment is 1 to %d either way", int64(maxAmount))
	}
	if in.Reason, err = audit.Reason(in.Reason); err != nil {
		return nil, err
	}
	res, _, err := idempotency.Once(in,
		func(hash string) (*AdjustResult, error) { return s.priorAdjustment(ctx, in.IdempotencyKey, hash) },
		func(hash string) (*AdjustResult, error) {
			var res *AdjustResult
			err := db.WithTx(ctx, s.db, func(tx *ent.Tx) (err error) {
				res, err = s.adjust(ctx, tx, v, in, hash)
				return err
			})
			if err != nil {
				return nil, err
			}
			res.Entry = res.Entry.Unwrap()
			return res, nil
		})
	return res, err
}

func (s *Service) adjust(ctx context.Context, tx *ent.Tx, v *viewer.Viewer, in AdjustInput, hash string) (*AdjustResult, error) {
	cust, err := customers.ResolveForWrite(ctx, tx.Client(), in.CustomerID)
	if err != nil {
		return nil, err
	}
	acc, err := lockAccount(ctx, tx, cust.ID)
	if err != nil {
		return nil, err
	}
	p := posting{
		kind: storedvalueentry.KindADJUST, amount: in.Amount, staffID: v.ID, deviceID: ptr.NonZero(v.DeviceID),
		reason: in.Reason, key: &in.IdempotencyKey, hash: hash,
	}
	switch {
	case in.Amount > 0 && acc == nil:
		// An account is opened at a store; the customer's own, or the
		// first the merchant has.
		storeID, err := homeStore(ctx, tx.Client(), cust)
		if err != nil {
			return nil, err
		}
		if acc, err = openAccount(ctx, tx, cust.ID, storeID); err != nil {
			return nil, err
		}
		p.bonus = in.Amount
	case in.Amount > 0:
		p.bonus = in.Amount
	case acc == nil:
		return nil, errs.Invalid("amount", "the customer has no stored value balance to take from")
	default:
		p.bonus = -bonusPart(acc, -in.Amount)
	}
	after, entries, err := post(ctx, tx, acc, p)
	switch {
	case errors.Is(err, errShort):
		return nil, errs.Invalid("amount", "the customer's stored value balance is %d", acc.Balance)
	case errors.Is(err, errFull):
		return nil, errs.Invalid("amount", "the balance would pass %d", int64(maxAmount))
	case err != nil:
		return nil, err
	}
	err = audit.Record(ctx, tx.Client(), audit.Entry{
		Action: "storedvalue.adjusted", TargetType: "Customer", TargetID: cust.ID,
		Details: map[string]any{"entryId": entries[0].ID, "amount": in.Amount, "reason": in.Reason, "balance": after.Balance},
	})
	if err != nil {
		return nil, err
	}
	return &AdjustResult{Entry: entries[0], StoredValue: balanceOf(cust.ID, after)}, nil
}

// homeStore is the store a customer's account opens at when it is not
// opened by a top-up or a sale: where they were registered, or else the
// merchant's first store.
func homeStore(ctx context.Context, client *ent.Client, c *ent.Customer) (pulid.ID, error) {
	if id, err := c.QueryStore().OnlyID(ctx); err == nil {
		return id, nil
	} else if !ent.IsNotFound(err) {
		return "", fmt.Errorf("loading the customer's store: %w", err)
	}
	id, err := client.Store.Query().Order(ent.Asc(store.FieldID)).FirstID(ctx)
	if err != nil {
		return "", fmt.Errorf("loading the merchant's first store: %w", err)
	}
	return id, nil
}

// priorAdjustment returns the adjustment made with key and the balance as
// it stands now, if its request hashed to hash; IDEMPOTENCY_CONFLICT if it
// did not; nil if there is none.
func (s *Service) priorAdjustment(ctx context.Context, key, hash string) (*AdjustResult, error) {
	found, err := s.db.StoredValueEntry.Query().Where(storedvalueentry.IdempotencyKey(key)).Only(ctx)
	prior, err := idempotency.Replayable(found, err, func(e *ent.StoredValueEntry) string { return e.RequestHash }, hash, "adjustment")
	if prior == nil || err != nil {
		return nil, err
	}
	acc, err := prior.QueryAccount().Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading stored value account: %w", err)
	}
	return &AdjustResult{Entry: prior, StoredValue: balanceOf(acc.CustomerID, acc), Replayed: true}, nil
}
