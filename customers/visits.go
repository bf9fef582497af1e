package customers

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/customerstorevisits"
	"github.com/tillpos/till/ent/schema/pulid"
)

// RecordVisit counts a sale of amount (minor units) at storeID at time at
// towards a customer's aggregates: visits, total spent, first and last
// visit, favourite store and segment. The sale calls it inside its own
// transaction, so the aggregates can never disagree with the sales.
func RecordVisit(ctx context.Context, tx *ent.Tx, customerID, storeID pulid.ID, amount int64, at time.Time) error {
	return changeVisits(ctx, tx, customerID, storeID, visitTotals{count: 1, spent: amount, first: &at, last: &at})
}

// RecordRefund takes a refund of amount (minor units) of a sale at storeID
// off a customer's aggregates, inside the refund's transaction. A void
// takes the visit away too: the sale never happened. First and last visit
// stay as they were.
func RecordRefund(ctx context.Context, tx *ent.Tx, customerID, storeID pulid.ID, amount int64, void bool) error {
	t := visitTotals{spent: -amount}
	if void {
		t.count = -1
	}
	return changeVisits(ctx, tx, customerID, storeID, t)
}

// changeVisits adds t to a customer's aggregates and t.count to their
// visits at storeID, and settles what follows from them.
func changeVisits(ctx context.Context, tx *ent.Tx, customerID, storeID pulid.ID, t visitTotals) error {
	c, err := tx.Customer.Get(ctx, customerID)
	if err != nil {
		return fmt.Errorf("loading customer: %w", err)
	}
	if t.count != 0 {
		if err := addStoreVisits(ctx, tx, c.MerchantID, customerID, storeID, t.count); err != nil {
			return err
		}
	}
	upd, next := tx.Customer.UpdateOne(c), *c
	addVisits(upd, &next, t)
	if err := settleDerived(ctx, tx, upd, &next, db.Now()); err != nil {
		return err
	}
	if err := upd.Exec(ctx); err != nil {
		return fmt.Errorf("updating customer aggregates: %w", err)
	}
	return nil
}

// visitTotals are visits to add to a customer's aggregates: one sale's, or
// a merged duplicate's.
type visitTotals struct {
	count       int
	spent       int64
	first, last *time.Time
}

// addVisits adds t to a customer's aggregates on upd, and to next, the
// copy of what the row will hold once upd is saved.
func addVisits(upd *ent.CustomerUpdateOne, next *ent.Customer, t visitTotals) {
	upd.AddVisitsCount(t.count).AddTotalSpent(t.spent)
	next.VisitsCount += t.count
	next.TotalSpent += t.spent
	if t.first != nil && (next.FirstVisitAt == nil || t.first.Before(*next.FirstVisitAt)) {
		upd.SetFirstVisitAt(*t.first)
		next.FirstVisitAt = t.first
	}
	if t.last != nil && (next.LastVisitAt == nil || t.last.After(*next.LastVisitAt)) {
		upd.SetLastVisitAt(*t.last)
		next.LastVisitAt = t.last
	}
}

// settleDerived sets on upd what follows from next's aggregates and its
// per-store visit counts (already written): the favourite store — the one
// visited most, the earliest-registered on a tie, so it does not flip back
// and forth — and the segment under the merchant's rules.
func settleDerived(ctx context.Context, tx *ent.Tx, upd *ent.CustomerUpdateOne, next *ent.Customer, now time.Time) error {
	top, err := tx.CustomerStoreVisits.Query().
		Where(customerstorevisits.CustomerID(next.ID)).
		Order(ent.Desc(customerstorevisits.FieldVisits), ent.Asc(customerstorevisits.FieldStoreID)).
		First(ctx)
	switch {
	case ent.IsNotFound(err):
		upd.ClearFavouriteStore()
	case err != nil:
		return fmt.Errorf("finding favourite store: %w", err)
	default:
		upd.SetFavouriteStoreID(top.StoreID)
	}
	rules, err := loadRules(ctx, tx.Client(), next.MerchantID)
	if err != nil {
		return err
	}
	segment, rfm := rules.Classify(next, now)
	upd.SetSegment(segment).SetRfm(rfm)
	return nil
}

// addStoreVisits adds n visits to a customer's count at a store, creating
// the count on the first. The merchant is given, not taken from the
// viewer, so a system job (an offline upload, a merge) can call it too.
func addStoreVisits(ctx context.Context, tx *ent.Tx, merchantID, customerID, storeID pulid.ID, n int) error {
	err := tx.CustomerStoreVisits.Create().
		SetMerchantID(merchantID).SetCustomerID(customerID).SetStoreID(storeID).SetVisits(n).
		OnConflict(sql.ConflictColumns(customerstorevisits.FieldCustomerID, customerstorevisits.FieldStoreID)).
		AddVisits(n).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("counting store visit: %w", err)
	}
	return nil
}

// Resolve loads a customer by id for a sale, following merges to the
// survivor: a terminal offline for a day may still hold a merged
// duplicate's id.
func Resolve(ctx context.Context, client *ent.Client, id pulid.ID) (*ent.Customer, error) {
	c, err := client.Customer.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return followMerges(ctx, client, c)
}

// followMerges returns the customer c was merged into, or c. A survivor
// may itself have been merged since, so it follows the chain.
func followMerges(ctx context.Context, client *ent.Client, c *ent.Customer) (*ent.Customer, error) {
	var err error
	for hops := 0; c.Status == customer.StatusMERGED && c.MergedIntoID != nil && hops < 10; hops++ {
		if c, err = client.Customer.Get(ctx, *c.MergedIntoID); err != nil {
			return nil, fmt.Errorf("following merge: %w", err)
		}
	}
	return c, nil
}
