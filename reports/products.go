package reports

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/product"
	"github.com/tillpos/till/ent/productday"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
)

// Product report options.
type (
	// Grouping is PRODUCT or CATEGORY.
	Grouping string
	// Sort is REVENUE, UNITS, PROFIT or MARGIN.
	Sort string
)

// Groupings and sorts.
const (
	ByProduct  Grouping = "PRODUCT"
	ByCategory Grouping = "CATEGORY"

	SortRevenue Sort = "REVENUE"
	SortUnits   Sort = "UNITS"
	SortProfit  Sort = "PROFIT"
	SortMargin  Sort = "MARGIN"
)

const (
	defaultRows = 20
	maxRows     = 100
)

// ProductPerformanceRow is a product's or category's sales less returns.
type ProductPerformanceRow struct {
	Key           string    `json:"key"`
	ProductID     *pulid.ID `json:"productId"`
	Name          string    `json:"name"`
	Category      string    `json:"category"`
	Units         int64     `json:"units"`
	UnitsReturned int64     `json:"unitsReturned"`
	Revenue       int64     `json:"revenue"`
	Cost          *int64    `json:"cost"`
	GrossProfit   *int64    `json:"grossProfit"`
	Margin        *float64  `json:"margin"`
}

// ProductPerformance is a period's product (or category) figures.
type ProductPerformance struct {
	Currency string                   `json:"currency"`
	Period   *ReportPeriod            `json:"period"`
	Rows     []*ProductPerformanceRow `json:"rows"`
}

// productRow is a ProductDay sum.
type productRow struct {
	ProductKey string    `sql:"product_key"`
	ProductID  *pulid.ID `sql:"product_id"`
	Name       string    `sql:"name"`
	Category   string    `sql:"category"`
	ProductTotals
}

// ProductQuery is what productPerformance asks.
type ProductQuery struct {
	By        Grouping
	Sort      Sort
	Ascending bool
	First     *int
}

// first is how many rows to return: n, default, at most maxRows.
func first(n *int) (int, error) {
	switch {
	case n == nil:
		return defaultRows, nil
	case *n < 0 || *n > maxRows:
		return 0, errs.Invalid("first", "first is 0 to %d", maxRows)
	}
	return *n, nil
}

// productSums sums sc's ProductDay rows over sp by product key.
func (s *Service) productSums(ctx context.Context, sc *scope, sp span) ([]productRow, error) {
	var rows []productRow
	if len(sc.storeIDs) == 0 {
		return rows, nil
	}
	// The name and category are the latest the product was sold under
	// (by MAX: the same on every day unless it was renamed).
	aggs := append(sums(productColumns),
		ent.As(ent.Max(productday.FieldProductID), productday.FieldProductID),
		ent.As(ent.Max(productday.FieldName), productday.FieldName),
		ent.As(ent.Max(productday.FieldCategory), productday.FieldCategory))
	err := s.db.ProductDay.Query().
		Where(productday.StoreIDIn(sc.storeIDs...), productday.BusinessDateGTE(sp.period().From), productday.BusinessDateLTE(sp.period().To)).
		GroupBy(productday.FieldProductKey).Aggregate(aggs...).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("reading product figures: %w", err)
	}
	return rows, nil
}

// Products is units, revenue, cost, profit and margin by product or
// category, sorted; best sellers descending, worst ascending.
func (s *Service) Products(ctx context.Context, storeID *pulid.ID, in PeriodInput, q ProductQuery) (*ProductPerformance, error) {
	n, err := first(q.First)
	if err != nil {
		return nil, err
	}
	sc, sp, err := s.scopedPeriod(ctx, storeID, in, maxPeriodDays)
	if err != nil {
		return nil, err
	}
	rows, err := s.productSums(ctx, sc, sp)
	if err != nil {
		return nil, err
	}
	groups := map[string]*productRow{}
	for _, r := range rows {
		key := r.ProductKey
		if q.By == ByCategory {
			key = r.Category
		}
		g := groups[key]
		if g == nil {
			g = &productRow{ProductKey: key, Category: r.Category, Name: r.Category}
			if q.By != ByCategory {
				g.ProductID, g.Name = r.ProductID, r.Name
			}
			groups[key] = g
		}
		gv := g.values()
		for i, v := range r.values() {
			*gv[i] += *v
		}
	}
	out := &ProductPerformance{Currency: sc.currency, Period: sp.period(), Rows: []*ProductPerformanceRow{}}
	for _, g := range groups {
		out.Rows = append(out.Rows, g.performance())
	}
	slices.SortFunc(out.Rows, func(a, b *ProductPerformanceRow) int {
		c := compareBy(q.Sort, a, b)
		if !q.Ascending {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a.Key, b.Key))
	})
	out.Rows = out.Rows[:min(n, len(out.Rows))]
	return out, nil
}

// performance is g's figures less returns.
func (g *productRow) performance() *ProductPerformanceRow {
	row := &ProductPerformanceRow{
		Key: g.ProductKey, ProductID: g.ProductID, Name: g.Name, Category: g.Category,
		Units: g.Units - g.UnitsReturned, UnitsReturned: g.UnitsReturned, Revenue: g.Revenue - g.RevenueReturned,
	}
	if g.UnitsWithoutCost == 0 {
		cost := g.Cost - g.CostReturned
		profit := row.Revenue - cost
		row.Cost, row.GrossProfit = &cost, &profit
		if row.Revenue != 0 {
			m := float64(profit) / float64(row.Revenue)
			row.Margin = &m
		}
	}
	return row
}

// compareBy orders rows by sort, unknown profit and margin lowest.
func compareBy(sort Sort, a, b *ProductPerformanceRow) int {
	switch sort {
	case SortUnits:
		return cmp.Compare(a.Units, b.Units)
	case SortProfit:
		return compareNil(a.GrossProfit, b.GrossProfit)
	case SortMargin:
		return compareNil(a.Margin, b.Margin)
	}
	return cmp.Compare(a.Revenue, b.Revenue)
}

func compareNil[T cmp.Ordered](a, b *T) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(*a, *b)
}

// SlowMover is an active product that sold little.
type SlowMover struct {
	Product *ent.Product `json:"product"`
	Units   int64        `json:"units"`
}

// SlowMovers are the merchant's active products that sold at most
// maxUnits (less returns) in the period, never-sold and least-sold first.
func (s *Service) SlowMovers(ctx context.Context, storeID *pulid.ID, in PeriodInput, maxUnits int, n *int) ([]*SlowMover, error) {
	limit, err := first(n)
	if err != nil {
		return nil, err
	}
	sc, sp, err := s.scopedPeriod(ctx, storeID, in, maxPeriodDays)
	if err != nil {
		return nil, err
	}
	rows, err := s.productSums(ctx, sc, sp)
	if err != nil {
		return nil, err
	}
	sold := map[pulid.ID]int64{}
	for _, r := range rows {
		if r.ProductID != nil {
			sold[*r.ProductID] += r.Units - r.UnitsReturned
		}
	}
	active, err := s.db.Product.Query().Where(product.Active(true)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading products: %w", err)
	}
	out := []*SlowMover{}
	for _, p := range active {
		if u := sold[p.ID]; u <= int64(maxUnits) {
			out = append(out, &SlowMover{Product: p, Units: u})
		}
	}
	slices.SortFunc(out, func(a, b *SlowMover) int {
		return cmp.Or(cmp.Compare(a.Units, b.Units), cmp.Compare(a.Product.Name, b.Product.Name), cmp.Compare(a.Product.ID, b.Product.ID))
	})
	return out[:min(limit, len(out))], nil
}
