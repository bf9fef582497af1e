package customers

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/customerstorevisits"
	"github.com/tillpos/till/ent/schema/pulid"
)

// RecordVisit counts a sale of amount (minor units) at storeID at time at
// towards a customer's aggregates: visits, total spent, first and last
// visit and favourite store. The sale calls it inside its own transaction,
// so the aggregates can never disagree with the sales.
func RecordVisit(ctx context.Context, tx *ent.Tx, customerID, storeID pulid.ID, amount int64, at time.Time) error {
	c, err := tx.Customer.Get(ctx, customerID)
	if err != nil {
		return fmt.Errorf("loading customer: %w", err)
	}
	upd := tx.Customer.UpdateOne(c).AddVisitsCount(1).AddTotalSpent(amount)
	if c.FirstVisitAt == nil || at.Before(*c.FirstVisitAt) {
		upd.SetFirstVisitAt(at)
	}
	if c.LastVisitAt == nil || at.After(*c.LastVisitAt) {
		upd.SetLastVisitAt(at)
	}
	if err := upd.Exec(ctx); err != nil {
		return fmt.Errorf("updating customer aggregates: %w", err)
	}
	if err := addStoreVisits(ctx, tx, c.MerchantID, customerID, storeID, 1); err != nil {
		return err
	}
	if err := updateFavouriteStore(ctx, tx, customerID); err != nil {
		return err
	}
	return rescore(ctx, tx, customerID, time.Now())
}

// rescore names a customer's segment afresh under their merchant's rules.
func rescore(ctx context.Context, tx *ent.Tx, customerID pulid.ID, now time.Time) error {
	c, err := tx.Customer.Get(ctx, customerID)
	if err != nil {
		return fmt.Errorf("loading customer: %w", err)
	}
	rules, err := loadRules(ctx, tx.Client(), c.MerchantID)
	if err != nil {
		return err
	}
	segment, rfm := rules.Classify(c, now)
	if segment == c.Segment && rfm == c.Rfm {
		return nil
	}
	return tx.Customer.UpdateOne(c).SetSegment(segment).SetRfm(rfm).Exec(ctx)
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

// updateFavouriteStore points a customer at the store they visit most (the
// earliest-registered store on a tie, so it does not flip back and forth).
func updateFavouriteStore(ctx context.Context, tx *ent.Tx, customerID pulid.ID) error {
	top, err := tx.CustomerStoreVisits.Query().
		Where(customerstorevisits.CustomerID(customerID)).
		Order(ent.Desc(customerstorevisits.FieldVisits), ent.Asc(customerstorevisits.FieldStoreID)).
		First(ctx)
	if ent.IsNotFound(err) {
		return tx.Customer.Update().Where(customer.ID(customerID)).ClearFavouriteStore().Exec(ctx)
	}
	if err != nil {
		return fmt.Errorf("finding favourite store: %w", err)
	}
	return tx.Customer.UpdateOneID(customerID).SetFavouriteStoreID(top.StoreID).Exec(ctx)
}
