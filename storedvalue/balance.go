package storedvalue

import (
	"context"
	sqldb "database/sql"
	"fmt"
	"time"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/ent/storedvalueaccount"
	"github.com/tillpos/till/ent/storedvalueentry"
)

// Balance is a customer's stored value: Balance, of which PaidIn is money
// the customer paid in and Bonus promotional money.
type Balance struct {
	CustomerID pulid.ID
	// AccountID is empty for a customer who never had a balance.
	AccountID pulid.ID
	Balance   int64
	PaidIn    int64
	Bonus     int64
	// UpdatedAt is when the balance last changed; nil without an account.
	UpdatedAt *time.Time
}

// balanceOf is the balance acc holds for customerID (nil: none).
func balanceOf(customerID pulid.ID, acc *ent.StoredValueAccount) *Balance {
	b := &Balance{CustomerID: customerID}
	if acc != nil {
		b.AccountID, b.Balance, b.Bonus = acc.ID, acc.Balance, acc.BonusBalance
		b.PaidIn = acc.Balance - acc.BonusBalance
		b.UpdatedAt = &acc.UpdatedAt
	}
	return b
}

// Balances returns the balances of customers, one query for all: any
// staff member reads them (cashiers take payments with them).
func (s *Service) Balances(ctx context.Context, customerIDs []pulid.ID) (map[pulid.ID]*Balance, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	return s.balances(ctx, s.db, customerIDs)
}

func (s *Service) balances(ctx context.Context, client *ent.Client, customerIDs []pulid.ID) (map[pulid.ID]*Balance, error) {
	accs, err := client.StoredValueAccount.Query().Where(storedvalueaccount.CustomerIDIn(customerIDs...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading stored value accounts: %w", err)
	}
	byCustomer := make(map[pulid.ID]*ent.StoredValueAccount, len(accs))
	for _, a := range accs {
		byCustomer[a.CustomerID] = a
	}
	out := make(map[pulid.ID]*Balance, len(customerIDs))
	for _, id := range customerIDs {
		out[id] = balanceOf(id, byCustomer[id])
	}
	return out, nil
}

// Entries is the ledger of b's account, for the caller to page (any
// staff).
func (s *Service) Entries(ctx context.Context, b *Balance) (*ent.StoredValueEntryQuery, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	return s.db.StoredValueEntry.Query().Where(storedvalueentry.AccountID(b.AccountID)), nil
}

// Liabilities is what a merchant owes its customers in stored value, as of
// AsOf: the balances outstanding, of which PaidIn was paid in and Bonus
// given, over the Accounts that hold a balance.
type Liabilities struct {
	Currency    string
	Outstanding int64
	PaidIn      int64
	Bonus       int64
	Accounts    int
	AsOf        time.Time
	// ByStore is the same by the store each account was opened at.
	ByStore []*StoreLiabilities
}

// StoreLiabilities are the liabilities of the accounts opened at Store.
type StoreLiabilities struct {
	Store       *ent.Store
	Outstanding int64
	PaidIn      int64
	Bonus       int64
	Accounts    int
}

// Liabilities sums the caller's merchant's outstanding balances from the
// cached balances, in one aggregate query: OWNER or MANAGER (for the whole
// merchant: a balance is spent at any store).
func (s *Service) Liabilities(ctx context.Context) (*Liabilities, error) {
	v, err := staffViewer(ctx, viewer.RoleOwner, viewer.RoleManager)
	if err != nil {
		return nil, err
	}
	merchant, err := s.db.Merchant.Get(ctx, v.MerchantID)
	if err != nil {
		return nil, fmt.Errorf("loading merchant: %w", err)
	}
	asOf := time.Now().UTC()
	var rows []struct {
		StoreID  pulid.ID        `json:"store_id"`
		Balance  sqldb.NullInt64 `json:"balance"`
		Bonus    sqldb.NullInt64 `json:"bonus"`
		Accounts int             `json:"accounts"`
	}
	err = s.db.StoredValueAccount.Query().
		Where(storedvalueaccount.BalanceGT(0)).
		GroupBy(storedvalueaccount.FieldStoreID).
		Aggregate(
			ent.As(ent.Sum(storedvalueaccount.FieldBalance), "balance"),
			ent.As(ent.Sum(storedvalueaccount.FieldBonusBalance), "bonus"),
			ent.As(ent.Count(), "accounts"),
		).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("summing stored value balances: %w", err)
	}
	ids := make([]pulid.ID, len(rows))
	for i, r := range rows {
		ids[i] = r.StoreID
	}
	stores, err := s.db.Store.Query().Where(store.IDIn(ids...)).Order(ent.Asc(store.FieldName), ent.Asc(store.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading stores: %w", err)
	}
	byStore := make(map[pulid.ID]*StoreLiabilities, len(rows))
	l := &Liabilities{Currency: merchant.Currency, AsOf: asOf, ByStore: make([]*StoreLiabilities, 0, len(rows))}
	for _, r := range rows {
		sl := &StoreLiabilities{Outstanding: r.Balance.Int64, Bonus: r.Bonus.Int64, Accounts: r.Accounts}
		sl.PaidIn = sl.Outstanding - sl.Bonus
		byStore[r.StoreID] = sl
		l.Outstanding += sl.Outstanding
		l.Bonus += sl.Bonus
		l.PaidIn += sl.PaidIn
		l.Accounts += sl.Accounts
	}
	for _, st := range stores {
		sl := byStore[st.ID]
		sl.Store = st
		l.ByStore = append(l.ByStore, sl)
	}
	return l, nil
}
