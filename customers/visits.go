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
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
)

// RecordVisit counts a sale of amount (minor units) at storeID at time at
// towards a customer's aggregates: visits, total spent, first and last
// visit, favourite store and segment. The sale calls it inside its own
// transaction, so the aggregates can never disagree with the sales.
func RecordVisit(ctx context.Context, tx *ent.Tx, customerID, storeID pulid.ID, amount int64, at time.Time) error {
	c, err := lockedCustomer(ctx, tx, customerID)
	if err != nil {
		return err
	}
	return changeVisits(ctx, tx, c, storeID, visitTotals{count: 1, spent: amount, first: &at, last: &at})
}

// RecordRefund takes a refund of amount (minor units) of a sale at storeID
// off a customer's aggregates, inside the refund's transaction. A void
// takes the visit away too, since the sale never happened, and first and
// last visit become those of the customer's oldest and newest sales left
// (the refund marks the sale VOIDED before it calls this).
func RecordRefund(ctx context.Context, tx *ent.Tx, customerID, storeID pulid.ID, amount int64, void bool) error {
	c, err := lockedCustomer(ctx, tx, customerID)
	if err != nil {
		return err
	}
	t := visitTotals{spent: -amount}
	if void {
		t.count, t.replaceSpan = -1, true
		if t.first, t.last, err = visitSpan(ctx, tx, c); err != nil {
			return err
		}
	}
	return changeVisits(ctx, tx, c, storeID, t)
}

// lockedCustomer locks a customer's row for the rest of tx and reads it, so
// that concurrent sales of one customer add up their aggregates one after
// the other: each reads what the one before wrote.
func lockedCustomer(ctx context.Context, tx *ent.Tx, id pulid.ID) (*ent.Customer, error) {
	if err := lock(ctx, tx.Client(), id); err != nil {
		return nil, err
	}
	c, err := tx.Customer.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("loading customer: %w", err)
	}
	return c, nil
}

// visitSpan is when a customer's oldest and newest sales not voided took
// place; nil without any.
func visitSpan(ctx context.Context, tx *ent.Tx, c *ent.Customer) (first, last *time.Time, err error) {
	for _, end := range []struct {
		at    **time.Time
		order sale.OrderOption
	}{{&first, sale.ByOccurredAt()}, {&last, sale.ByOccurredAt(sql.OrderDesc())}} {
		sl, err := tx.Sale.Query().
			Where(sale.MerchantID(c.MerchantID), sale.CustomerID(c.ID), sale.StatusNEQ(sale.StatusVOIDED)).
			Order(end.order).
			First(ctx)
		switch {
		case ent.IsNotFound(err):
		case err != nil:
			return nil, nil, fmt.Errorf("finding the customer's visits: %w", err)
		default:
			*end.at = &sl.OccurredAt
		}
	}
	return first, last, nil
}

// changeVisits adds t to the aggregates of c (locked, as read in tx) and
// t.count to their visits at storeID, and settles what follows from them.
func changeVisits(ctx context.Context, tx *ent.Tx, c *ent.Customer, storeID pulid.ID, t visitTotals) error {
	if t.count != 0 {
		if err := addStoreVisits(ctx, tx, c.MerchantID, c.ID, storeID, t.count); err != nil {
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
	// replaceSpan says first and last are the customer's visits
	// recounted (nil: none left) rather than visits to widen them with.
	replaceSpan bool
}

// addVisits adds t to a customer's aggregates on upd, and to next, the
// copy of what the row will hold once upd is saved.
func addVisits(upd *ent.CustomerUpdateOne, next *ent.Customer, t visitTotals) {
	upd.AddVisitsCount(t.count).AddTotalSpent(t.spent)
	next.VisitsCount += t.count
	next.TotalSpent += t.spent
	if t.replaceSpan {
		if t.first != nil {
			upd.SetFirstVisitAt(*t.first).SetLastVisitAt(*t.last)
		} else {
			upd.ClearFirstVisitAt().ClearLastVisitAt()
		}
		next.FirstVisitAt, next.LastVisitAt = t.first, t.last
		return
	}
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
// duplicate's id. Each customer read is locked until client's transaction
// ends, so a merge running meanwhile either waits for the sale (and then
// moves it with the rest of the history) or goes first (and the sale
// finds the survivor).
func Resolve(ctx context.Context, client *ent.Client, id pulid.ID) (*ent.Customer, error) {
	load := func(id pulid.ID) (*ent.Customer, error) {
		if err := lock(ctx, client, id); err != nil {
			return nil, err
		}
		return client.Customer.Get(ctx, id)
	}
	c, err := load(id)
	if err != nil {
		return nil, err
	}
	return followMerges(c, load)
}

// ResolveForWrite locks and loads the customer a write of another domain
// is for (a top-up, an adjustment, a redemption), following merges to the
// survivor; NOT_FOUND (another merchant's too) on customerId, and an
// erased customer is BAD_USER_INPUT.
func ResolveForWrite(ctx context.Context, client *ent.Client, id pulid.ID) (*ent.Customer, error) {
	cust, err := Resolve(ctx, client, id)
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: "customerId", Message: "customer not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("loading customer: %w", err)
	}
	if cust.Status == customer.StatusERASED {
		return nil, errs.Invalid("customerId", "the customer was erased")
	}
	return cust, nil
}

// followMerges returns the customer c was merged into, or c, reading
// customers with load. A survivor may itself have been merged since, so it
// follows the chain.
func followMerges(c *ent.Customer, load func(pulid.ID) (*ent.Customer, error)) (*ent.Customer, error) {
	var err error
	for hops := 0; c.Status == customer.StatusMERGED && c.MergedIntoID != nil && hops < 10; hops++ {
		if c, err = load(*c.MergedIntoID); err != nil {
			return nil, fmt.Errorf("following merge: %w", err)
		}
	}
	return c, nil
}
