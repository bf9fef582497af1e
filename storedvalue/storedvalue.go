// Package storedvalue keeps customers' prepaid balances: top-ups (cash,
// card or wallet, with the merchant's bonus), payments with the
// STORED_VALUE tender, refunds back to the balance, owners' adjustments,
// balance enquiries and the merchant's outstanding liabilities.
//
// A balance is a ledger: every change is an append-only entry, and the
// account row caches the sum, written in the same transaction as each
// entry. It is never below zero. Every write locks the customer's row
// first (customers.Resolve, or the sale or merge that runs it), then the
// account's, so two terminals paying from one balance at once take turns.
//
// Money paid in and bonus money are told apart: a top-up's bonus is an
// entry of its own, and every entry carries the promotional part of its
// amount. A payment takes the two in proportion to what the balance holds
// of each; a refund gives back the proportion its payment took.
//
// Who may do what: any staff member tops up at the stores they work at,
// takes payments and reads balances; the owner sets the bonus tiers and
// adjusts balances (with a reason, audited); owners and managers read the
// liabilities. Platform operators do none of it.
package storedvalue

import (
	"context"
	sqldb "database/sql"
	"errors"
	"fmt"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/storedvalueaccount"
	"github.com/tillpos/till/ent/storedvalueentry"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/money"
	"github.com/tillpos/till/sales"
)

// maxAmount bounds a top-up, an adjustment and a balance: 10^12 minor
// units, as sales bound a sale, far from where int64 sums overflow.
const maxAmount = 1_000_000_000_000

// Service keeps stored value.
type Service struct {
	db *ent.Client
}

// New returns a Service.
func New(client *ent.Client) *Service {
	return &Service{db: client}
}

// SaleHooks are what stored value does inside sales: pay STORED_VALUE
// tenders from the customer's balance, and credit refunds to it.
func (s *Service) SaleHooks() sales.Hooks {
	return sales.Hooks{
		Tenders:  map[tender.Type]sales.TenderFunc{tender.TypeSTORED_VALUE: s.pay},
		Refunded: []sales.RefundFunc{s.refunded},
	}
}

// CustomerHooks are what stored value does when customers are merged (the
// duplicate's balance and ledger go to the survivor) and exported (the
// "storedValue" section).
func (s *Service) CustomerHooks() customers.Hooks {
	return customers.Hooks{
		Merged:   []func(ctx context.Context, tx *ent.Tx, merchantID, from, to pulid.ID) error{s.merged},
		Exported: map[string]func(ctx context.Context, client *ent.Client, id pulid.ID) (any, error){"storedValue": s.export},
	}
}

// staffViewer returns the staff viewer in ctx, or FORBIDDEN; with roles,
// the viewer must hold one of them.
func staffViewer(ctx context.Context, roles ...viewer.Role) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff handle stored value")
	}
	if len(roles) > 0 && !v.HasRole(roles...) {
		return nil, errs.Newf(errs.Forbidden, "your role may not do this")
	}
	return v, nil
}

// lockAccount locks and reads the account of customerID (on PostgreSQL;
// SQLite runs one write transaction at a time); nil when the customer has
// none. The customer's row must be locked already (lock order).
func lockAccount(ctx context.Context, tx *ent.Tx, customerID pulid.ID) (*ent.StoredValueAccount, error) {
	q := tx.StoredValueAccount.Query().Where(storedvalueaccount.CustomerID(customerID))
	if _, err := q.Clone().Select(storedvalueaccount.FieldID).Modify(db.ForUpdate).Strings(ctx); err != nil {
		return nil, fmt.Errorf("locking stored value account: %w", err)
	}
	acc, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading stored value account: %w", err)
	}
	return acc, nil
}

// openAccount locks the account of customerID, opening it at storeID if
// the customer has none yet.
func openAccount(ctx context.Context, tx *ent.Tx, customerID, storeID pulid.ID) (*ent.StoredValueAccount, error) {
	err := tx.StoredValueAccount.Create().SetCustomerID(customerID).SetStoreID(storeID).
		OnConflict(sql.ConflictColumns(storedvalueaccount.FieldCustomerID)).DoNothing().
		Exec(ctx)
	if err != nil && !errors.Is(err, sqldb.ErrNoRows) {
		return nil, fmt.Errorf("opening stored value account: %w", err)
	}
	acc, err := lockAccount(ctx, tx, customerID)
	if err == nil && acc == nil {
		err = fmt.Errorf("opening stored value account: not there after upsert")
	}
	return acc, err
}

// posting is one entry to write to an account.
type posting struct {
	kind storedvalueentry.Kind
	// amount is added to the balance, bonus (its promotional part, of
	// the same sign and no larger) to the bonus part.
	amount, bonus int64
	staffID       pulid.ID
	storeID       *pulid.ID
	deviceID      *pulid.ID
	topUpID       *pulid.ID
	saleID        *pulid.ID
	tenderID      *pulid.ID
	refundID      *pulid.ID
	reason        string
	key           *string
	hash          string
}

// errShort is a debit larger than the balance; callers name the input
// that asked for it.
var errShort = errors.New("stored value balance too low")

// errFull is a credit that would take the balance past maxAmount.
var errFull = errors.New("stored value balance too high")

// post writes ps to acc, a locked account, and its new balance; it
// returns the account as it stands after and the entries written. A debit
// beyond the balance is errShort and writes nothing.
func post(ctx context.Context, tx *ent.Tx, acc *ent.StoredValueAccount, ps ...posting) (*ent.StoredValueAccount, []*ent.StoredValueEntry, error) {
	balance, bonus := acc.Balance, acc.BonusBalance
	builders := make([]*ent.StoredValueEntryCreate, len(ps))
	for i, p := range ps {
		balance += p.amount
		bonus += p.bonus
		switch {
		case balance < 0:
			return nil, nil, errShort
		case balance > maxAmount:
			return nil, nil, errFull
		case bonus < 0 || bonus > balance:
			return nil, nil, fmt.Errorf("posting %s of %d (bonus %d) to %s: bonus part out of range", p.kind, p.amount, p.bonus, acc.ID)
		}
		builders[i] = tx.StoredValueEntry.Create().
			SetAccountID(acc.ID).
			SetKind(p.kind).
			SetAmount(p.amount).
			SetBonusAmount(p.bonus).
			SetStaffID(p.staffID).
			SetNillableStoreID(p.storeID).
			SetNillableDeviceID(p.deviceID).
			SetNillableTopUpID(p.topUpID).
			SetNillableSaleID(p.saleID).
			SetNillableTenderID(p.tenderID).
			SetNillableRefundID(p.refundID).
			SetReason(p.reason).
			SetNillableIdempotencyKey(p.key).
			SetRequestHash(p.hash)
	}
	entries, err := tx.StoredValueEntry.CreateBulk(builders...).Save(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("writing stored value entries: %w", err)
	}
	acc, err = tx.StoredValueAccount.UpdateOne(acc).SetBalance(balance).SetBonusBalance(bonus).Save(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("updating stored value balance: %w", err)
	}
	return acc, entries, nil
}

// bonusPart is the promotional part of a debit of amount from acc: its
// share of what the balance holds of bonus money, rounded down, so that
// the bonus part never outgrows the balance.
func bonusPart(acc *ent.StoredValueAccount, amount int64) int64 {
	if acc.Balance == 0 {
		return 0
	}
	return money.MulDiv(min(amount, acc.Balance), acc.BonusBalance, acc.Balance)
}
