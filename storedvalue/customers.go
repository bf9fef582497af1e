package storedvalue

import (
	"context"
	"fmt"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/storedvalueaccount"
	"github.com/tillpos/till/ent/storedvalueentry"
	"github.com/tillpos/till/ent/storedvaluetopup"
)

// merged moves the stored value of customer from to customer to, in the
// merge's transaction (both customers locked): the account itself when to
// has none, else from's ledger joins to's and the balances add up. Its
// top-ups name the survivor, as its sales do.
func (s *Service) merged(ctx context.Context, tx *ent.Tx, merchantID, from, to pulid.ID) error {
	q := tx.StoredValueAccount.Query().Where(storedvalueaccount.CustomerIDIn(from, to))
	if _, err := q.Clone().Order(ent.Asc(storedvalueaccount.FieldID)).Select(storedvalueaccount.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
		return fmt.Errorf("locking stored value accounts: %w", err)
	}
	accs, err := q.All(ctx)
	if err != nil {
		return fmt.Errorf("loading stored value accounts: %w", err)
	}
	var dup, survivor *ent.StoredValueAccount
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
	if _, err := tx.StoredValueTopUp.Update().Where(storedvaluetopup.CustomerID(from)).SetCustomerID(to).Save(ctx); err != nil {
		return fmt.Errorf("moving top-ups: %w", err)
	}
	moved := dup
	if survivor == nil {
		if moved, err = tx.StoredValueAccount.UpdateOne(dup).SetCustomerID(to).Save(ctx); err != nil {
			return fmt.Errorf("moving stored value account: %w", err)
		}
	} else {
		if _, err := tx.StoredValueEntry.Update().Where(storedvalueentry.AccountID(dup.ID)).SetAccountID(survivor.ID).Save(ctx); err != nil {
			return fmt.Errorf("moving stored value entries: %w", err)
		}
		if _, err := tx.StoredValueTopUp.Update().Where(storedvaluetopup.AccountID(dup.ID)).SetAccountID(survivor.ID).Save(ctx); err != nil {
			return fmt.Errorf("moving top-ups: %w", err)
		}
		moved, err = tx.StoredValueAccount.UpdateOne(survivor).
			SetBalance(survivor.Balance + dup.Balance).
			SetBonusBalance(survivor.BonusBalance + dup.BonusBalance).
			Save(ctx)
		if err != nil {
			return fmt.Errorf("adding up stored value balances: %w", err)
		}
		if err := tx.StoredValueAccount.DeleteOne(dup).Exec(ctx); err != nil {
			return fmt.Errorf("closing the duplicate's stored value account: %w", err)
		}
	}
	return audit.Record(ctx, tx.Client(), audit.Entry{
		MerchantID: merchantID, Action: "storedvalue.merged", TargetType: "Customer", TargetID: to,
		Details: map[string]any{"duplicate": from, "moved": dup.Balance, "movedBonus": dup.BonusBalance, "balance": moved.Balance},
	})
}

// export is what stored value holds about customer id, for their data
// export: the balance, the ledger and the top-ups, oldest first; nil when
// they never had a balance (or it moved to the customer they were merged
// into).
func (s *Service) export(ctx context.Context, client *ent.Client, id pulid.ID) (any, error) {
	acc, err := client.StoredValueAccount.Query().Where(storedvalueaccount.CustomerID(id)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading stored value account: %w", err)
	}
	entries, err := client.StoredValueEntry.Query().Where(storedvalueentry.AccountID(acc.ID)).
		Order(ent.Asc(storedvalueentry.FieldCreatedAt), ent.Asc(storedvalueentry.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading stored value entries: %w", err)
	}
	topUps, err := client.StoredValueTopUp.Query().Where(storedvaluetopup.AccountID(acc.ID)).
		Order(ent.Asc(storedvaluetopup.FieldCreatedAt), ent.Asc(storedvaluetopup.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading top-ups: %w", err)
	}
	entryDocs := make([]map[string]any, len(entries))
	for i, e := range entries {
		entryDocs[i] = map[string]any{
			"kind": e.Kind, "amount": e.Amount, "bonus": e.BonusAmount, "at": e.CreatedAt, "store": e.StoreID,
			"sale": e.SaleID, "refund": e.RefundID, "topUp": e.TopUpID, "reason": e.Reason,
		}
	}
	topUpDocs := make([]map[string]any, len(topUps))
	for i, t := range topUps {
		topUpDocs[i] = map[string]any{
			"id": t.ID, "at": t.CreatedAt, "store": t.StoreID, "amount": t.Amount, "bonus": t.Bonus,
			"currency": t.Currency, "tender": t.TenderType, "cardLast4": t.CardLast4,
		}
	}
	return map[string]any{
		"balance": acc.Balance, "paidIn": acc.Balance - acc.BonusBalance, "bonus": acc.BonusBalance,
		"openedAt": acc.CreatedAt, "updatedAt": acc.UpdatedAt, "entries": entryDocs, "topUps": topUpDocs,
	}, nil
}
