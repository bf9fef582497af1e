package reports

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/productday"
	"github.com/tillpos/till/ent/refund"
	"github.com/tillpos/till/ent/refundline"
	"github.com/tillpos/till/ent/refundtender"
	"github.com/tillpos/till/ent/saleline"
	"github.com/tillpos/till/ent/salesfacetday"
	"github.com/tillpos/till/ent/saleshour"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/internal/money"
)

// Totals are a rollup row's figures: the columns of the FiguresMixin.
type Totals struct {
	SalesCount      int64 `sql:"sales_count"`
	SalesTotal      int64 `sql:"sales_total"`
	DiscountTotal   int64 `sql:"discount_total"`
	TaxTotal        int64 `sql:"tax_total"`
	ItemsSold       int64 `sql:"items_sold"`
	RefundsCount    int64 `sql:"refunds_count"`
	RefundAmount    int64 `sql:"refund_amount"`
	RefundTax       int64 `sql:"refund_tax"`
	ItemsReturned   int64 `sql:"items_returned"`
	VoidsCount      int64 `sql:"voids_count"`
	VoidAmount      int64 `sql:"void_amount"`
	NewCustomers    int64 `sql:"new_customers"`
	ReturningVisits int64 `sql:"returning_visits"`
}

var figureColumns = []string{
	"sales_count", "sales_total", "discount_total", "tax_total", "items_sold",
	"refunds_count", "refund_amount", "refund_tax", "items_returned",
	"voids_count", "void_amount", "new_customers", "returning_visits",
}

func (f *Totals) values() []*int64 {
	return []*int64{
		&f.SalesCount, &f.SalesTotal, &f.DiscountTotal, &f.TaxTotal, &f.ItemsSold,
		&f.RefundsCount, &f.RefundAmount, &f.RefundTax, &f.ItemsReturned,
		&f.VoidsCount, &f.VoidAmount, &f.NewCustomers, &f.ReturningVisits,
	}
}

// add adds o to f, times sign.
func (f *Totals) add(o Totals, sign int64) {
	ov := o.values()
	for i, v := range f.values() {
		*v += sign * *ov[i]
	}
}

// ProductTotals are a ProductDay's figures.
type ProductTotals struct {
	Units            int64 `sql:"units"`
	Revenue          int64 `sql:"revenue"`
	Cost             int64 `sql:"cost"`
	UnitsWithoutCost int64 `sql:"units_without_cost"`
	UnitsReturned    int64 `sql:"units_returned"`
	RevenueReturned  int64 `sql:"revenue_returned"`
	CostReturned     int64 `sql:"cost_returned"`
}

var productColumns = []string{
	productday.FieldUnits, productday.FieldRevenue, productday.FieldCost, productday.FieldUnitsWithoutCost,
	productday.FieldUnitsReturned, productday.FieldRevenueReturned, productday.FieldCostReturned,
}

func (p *ProductTotals) values() []*int64 {
	return []*int64{&p.Units, &p.Revenue, &p.Cost, &p.UnitsWithoutCost, &p.UnitsReturned, &p.RevenueReturned, &p.CostReturned}
}

type facetKey struct {
	dimension salesfacetday.Dimension
	key       string
}

// rollup is what one sale, refund or void adds to one store's local day
// and hour.
type rollup struct {
	merchantID, storeID pulid.ID
	date                string
	hour                int
	total               Totals
	facets              map[facetKey]*Totals
	products            map[string]*productEntry
}

func newRollup(sl *ent.Sale, date string, hour int) *rollup {
	return &rollup{
		merchantID: sl.MerchantID, storeID: sl.StoreID, date: date, hour: hour,
		facets: map[facetKey]*Totals{}, products: map[string]*productEntry{},
	}
}

func (r *rollup) facet(d salesfacetday.Dimension, key string) *Totals {
	k := facetKey{d, key}
	if r.facets[k] == nil {
		r.facets[k] = &Totals{}
	}
	return r.facets[k]
}

// productEntry is one product's row of a rollup.
type productEntry struct {
	productID      *pulid.ID
	name, category string
	ProductTotals
}

// product is the line's product's figures: by product, or by name for a
// free-text item.
func (r *rollup) product(l *ent.SaleLine) *productEntry {
	key := "name:" + l.Name
	if l.ProductID != nil {
		key = string(*l.ProductID)
	}
	if r.products[key] == nil {
		r.products[key] = &productEntry{productID: l.ProductID, name: l.Name, category: l.Category}
	}
	return r.products[key]
}

// localHour is the store's wall-clock hour of t.
func localHour(ctx context.Context, tx *ent.Tx, storeID pulid.ID, t time.Time) (int, error) {
	st, err := tx.Store.Get(ctx, storeID)
	if err != nil {
		return 0, fmt.Errorf("loading store: %w", err)
	}
	return t.In(location(st.TimeZone)).Hour(), nil
}

// location is the IANA zone name's location; UTC for one that does not
// load, as sales date them.
func location(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// recorded adds a new sale to its local day and hour.
func recorded(ctx context.Context, tx *ent.Tx, sl *ent.Sale, tenders []*ent.Tender) error {
	r, err := saleRollup(ctx, tx, sl, tenders, 1)
	if err != nil {
		return err
	}
	return r.write(ctx, tx)
}

// saleRollup is what sl adds to its day and hour, times sign: -1 takes a
// voided sale back out.
func saleRollup(ctx context.Context, tx *ent.Tx, sl *ent.Sale, tenders []*ent.Tender, sign int64) (*rollup, error) {
	hour, err := localHour(ctx, tx, sl.StoreID, sl.OccurredAt)
	if err != nil {
		return nil, err
	}
	lines, err := tx.SaleLine.Query().Where(saleline.SaleID(sl.ID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading sale lines: %w", err)
	}
	f := Totals{SalesCount: 1, SalesTotal: sl.Total, DiscountTotal: sl.DiscountTotal, TaxTotal: sl.TaxTotal}
	switch {
	case sl.CustomerID == nil:
	case sl.NewCustomer:
		f.NewCustomers = 1
	default:
		f.ReturningVisits = 1
	}
	r := newRollup(sl, sl.BusinessDate, hour)
	for _, l := range lines {
		f.ItemsSold += int64(l.Quantity)
		p := r.product(l)
		p.Units += sign * int64(l.Quantity)
		p.Revenue += sign * (l.Total - l.Tax)
		if l.UnitCost != nil {
			p.Cost += sign * *l.UnitCost * int64(l.Quantity)
		} else {
			p.UnitsWithoutCost += sign * int64(l.Quantity)
		}
	}
	void := Totals{VoidsCount: 1, VoidAmount: sl.Total}
	r.total.add(f, sign)
	people := []*Totals{r.facet(salesfacetday.DimensionSTAFF, string(sl.CashierID))}
	if sl.DeviceID != nil {
		people = append(people, r.facet(salesfacetday.DimensionDEVICE, string(*sl.DeviceID)))
	}
	for _, p := range people {
		p.add(f, sign)
	}
	if sign < 0 {
		r.total.add(void, 1)
		for _, p := range people {
			p.add(void, 1)
		}
	}
	for _, t := range tenders {
		tf := r.facet(salesfacetday.DimensionTENDER, string(t.Type))
		tf.add(Totals{SalesCount: 1, SalesTotal: t.Amount}, sign)
		if sign < 0 {
			tf.add(Totals{VoidsCount: 1, VoidAmount: t.Amount}, 1)
		}
	}
	return r, nil
}

// refunded adds a refund or exchange return to the local day and hour it
// was made; a void takes its sale back out of the sale's own.
func refunded(ctx context.Context, tx *ent.Tx, sl *ent.Sale, rf *ent.Refund) error {
	var r *rollup
	var err error
	if rf.Kind == refund.KindVOID {
		tenders, terr := tx.Tender.Query().Where(tender.SaleID(sl.ID)).All(ctx)
		if terr != nil {
			return fmt.Errorf("loading tenders: %w", terr)
		}
		r, err = saleRollup(ctx, tx, sl, tenders, -1)
	} else {
		r, err = refundRollup(ctx, tx, sl, rf)
	}
	if err != nil {
		return err
	}
	return r.write(ctx, tx)
}

// refundRollup is what a refund or exchange return adds to its day.
func refundRollup(ctx context.Context, tx *ent.Tx, sl *ent.Sale, rf *ent.Refund) (*rollup, error) {
	hour, err := localHour(ctx, tx, sl.StoreID, rf.CreatedAt)
	if err != nil {
		return nil, err
	}
	lines, err := tx.RefundLine.Query().Where(refundline.RefundID(rf.ID)).WithSaleLine().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading refund lines: %w", err)
	}
	tenders, err := tx.RefundTender.Query().Where(refundtender.RefundID(rf.ID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading refund tenders: %w", err)
	}
	r := newRollup(sl, rf.BusinessDate, hour)
	f := Totals{RefundsCount: 1, RefundAmount: rf.Amount, RefundTax: rf.Tax}
	for _, rl := range lines {
		l := rl.Edges.SaleLine
		f.ItemsReturned += int64(rl.Quantity)
		p := r.product(l)
		p.UnitsReturned += int64(rl.Quantity)
		// The line's share of its tax, as the refund's tax counts it.
		tax := int64(0)
		if l.Total > 0 {
			tax = money.MulDiv(l.Tax, rl.Amount, l.Total)
		}
		p.RevenueReturned += rl.Amount - tax
		if l.UnitCost != nil {
			p.CostReturned += *l.UnitCost * int64(rl.Quantity)
		} else {
			p.UnitsWithoutCost -= int64(rl.Quantity)
		}
	}
	r.total.add(f, 1)
	r.facet(salesfacetday.DimensionSTAFF, string(rf.StaffID)).add(f, 1)
	if rf.DeviceID != nil {
		r.facet(salesfacetday.DimensionDEVICE, string(*rf.DeviceID)).add(f, 1)
	}
	for _, t := range tenders {
		r.facet(salesfacetday.DimensionTENDER, string(t.Type)).add(Totals{RefundsCount: 1, RefundAmount: t.Amount}, 1)
	}
	return r, nil
}

// addExcluded makes an upsert add the new row's columns to the stored
// row's, so that one statement writes many rows.
func addExcluded(columns []string) sql.ConflictOption {
	return sql.ResolveWith(func(u *sql.UpdateSet) {
		excluded := sql.Dialect(u.Dialect()).Table("excluded")
		for _, c := range columns {
			u.Set(c, sql.Expr(u.Table().C(c)+" + "+excluded.C(c)))
		}
	})
}

// setAll sets columns of m to values.
func setAll(m ent.Mutation, columns []string, values []*int64) error {
	for i, c := range columns {
		if err := m.SetField(c, *values[i]); err != nil {
			return err
		}
	}
	return nil
}

// write adds r to the rollups: one statement per table. Rows are written
// in key order, so that two transactions adding to the same rows lock them
// in the same order.
func (r *rollup) write(ctx context.Context, tx *ent.Tx) error {
	hour := tx.SalesHour.Create().
		SetMerchantID(r.merchantID).SetStoreID(r.storeID).SetBusinessDate(r.date).SetHour(r.hour)
	if err := setAll(hour.Mutation(), figureColumns, r.total.values()); err != nil {
		return err
	}
	err := hour.OnConflict(sql.ConflictColumns(saleshour.FieldMerchantID, saleshour.FieldStoreID, saleshour.FieldBusinessDate, saleshour.FieldHour),
		addExcluded(figureColumns)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("adding to the hour's figures: %w", err)
	}
	keys := slices.SortedFunc(maps.Keys(r.facets), func(a, b facetKey) int {
		return cmp.Or(cmp.Compare(a.dimension, b.dimension), cmp.Compare(a.key, b.key))
	})
	facets := make([]*ent.SalesFacetDayCreate, len(keys))
	for i, k := range keys {
		facets[i] = tx.SalesFacetDay.Create().
			SetMerchantID(r.merchantID).SetStoreID(r.storeID).SetBusinessDate(r.date).SetDimension(k.dimension).SetKey(k.key)
		if err := setAll(facets[i].Mutation(), figureColumns, r.facets[k].values()); err != nil {
			return err
		}
	}
	if len(facets) > 0 {
		err := tx.SalesFacetDay.CreateBulk(facets...).
			OnConflict(sql.ConflictColumns(salesfacetday.FieldMerchantID, salesfacetday.FieldStoreID, salesfacetday.FieldBusinessDate,
				salesfacetday.FieldDimension, salesfacetday.FieldKey), addExcluded(figureColumns)).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("adding to the day's tender, staff and device figures: %w", err)
		}
	}
	var prods []*ent.ProductDayCreate
	for _, key := range slices.Sorted(maps.Keys(r.products)) {
		p := r.products[key]
		b := tx.ProductDay.Create().
			SetMerchantID(r.merchantID).SetStoreID(r.storeID).SetBusinessDate(r.date).
			SetProductKey(key).SetNillableProductID(p.productID).SetName(p.name).SetCategory(p.category)
		if err := setAll(b.Mutation(), productColumns, p.values()); err != nil {
			return err
		}
		prods = append(prods, b)
	}
	if len(prods) > 0 {
		err := tx.ProductDay.CreateBulk(prods...).
			OnConflict(sql.ConflictColumns(productday.FieldMerchantID, productday.FieldStoreID, productday.FieldBusinessDate, productday.FieldProductKey),
				addExcluded(productColumns)).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("adding to the day's product figures: %w", err)
		}
	}
	return nil
}
