package customers

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/predicate"
	"github.com/tillpos/till/ent/product"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/saleline"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
)

// How much history recommendations read: they answer at the counter, so
// they look at recent lines only, whatever the merchant's size.
const (
	maxRecommendations = 20
	historyProducts    = 20   // the customer's most bought products used as seeds
	seedLines          = 200  // newest lines of each seed product whose baskets are scanned
	bestSellerLines    = 5000 // newest lines of the merchant counted for best sellers
	ownPurchaseBoost   = 2    // a product the customer buys again counts double
)

// Recommend suggests up to n active products for a customer: those bought
// together with the customer's products by the merchant's other customers,
// and those the customer buys again, never what was in their latest
// basket; the merchant's recent best sellers fill the rest (and are all a
// new customer gets). Only what was kept counts: not voided sales, nor
// lines refunded in full. Staff only.
func (s *Service) Recommend(ctx context.Context, c *ent.Customer, n int) ([]*ent.Product, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	if n < 1 || n > maxRecommendations {
		return nil, errs.Invalid("first", "ask for 1 to %d recommendations", maxRecommendations)
	}
	exclude, err := latestBasket(ctx, s.db, c.ID)
	if err != nil {
		return nil, err
	}
	own, err := countLines(ctx, s.db.SaleLine.Query().Where(
		kept(), saleline.HasSaleWith(sale.CustomerID(c.ID))))
	if err != nil {
		return nil, err
	}
	scores := map[pulid.ID]int{}
	for id, count := range own {
		scores[id] += ownPurchaseBoost * count
	}
	if seeds := topKeys(own, historyProducts); len(seeds) > 0 {
		together, err := countLines(ctx, s.db.SaleLine.Query().Where(
			kept(),
			inRecentBaskets(seeds, seedLines),
			saleline.Not(saleline.HasSaleWith(sale.CustomerID(c.ID))),
		))
		if err != nil {
			return nil, err
		}
		// Every basket scanned holds a seed; what counts is what came
		// with it. The seeds' own score is what the customer buys again.
		for _, id := range seeds {
			delete(together, id)
		}
		for id, count := range together {
			scores[id] += count
		}
	}
	best, err := countLines(ctx, s.db.SaleLine.Query().Where(kept(), inNewestSales(c.MerchantID, bestSellerLines)))
	if err != nil {
		return nil, err
	}
	for _, id := range exclude {
		delete(scores, id)
		delete(best, id)
	}
	picked, err := activeProducts(ctx, s.db, topKeys(scores, n+len(scores)))
	if err != nil {
		return nil, err
	}
	if len(picked) < n {
		fill, err := activeProducts(ctx, s.db, topKeys(best, n+len(best)))
		if err != nil {
			return nil, err
		}
		for _, p := range fill {
			if !slices.ContainsFunc(picked, func(q *ent.Product) bool { return q.ID == p.ID }) {
				picked = append(picked, p)
			}
		}
	}
	return picked[:min(n, len(picked))], nil
}

// kept keeps the product lines of sales not voided that were not refunded
// in full: what customers bought and kept.
func kept() predicate.SaleLine {
	return saleline.And(
		saleline.ProductIDNotNil(),
		saleline.HasSaleWith(sale.StatusNEQ(sale.StatusVOIDED)),
		func(s *sql.Selector) {
			s.Where(sql.ColumnsLT(s.C(saleline.FieldRefundedQuantity), s.C(saleline.FieldQuantity)))
		},
	)
}

// latestBasket is the products of the customer's most recent sale not
// voided.
func latestBasket(ctx context.Context, client *ent.Client, customerID pulid.ID) ([]pulid.ID, error) {
	latest, err := client.Sale.Query().Where(sale.CustomerID(customerID), sale.StatusNEQ(sale.StatusVOIDED)).
		Order(ent.Desc(sale.FieldOccurredAt)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading latest sale: %w", err)
	}
	var ids []pulid.ID
	err = latest.QueryLines().Where(saleline.ProductIDNotNil()).Select(saleline.FieldProductID).Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("loading latest basket: %w", err)
	}
	return ids, nil
}

// inRecentBaskets keeps the lines of the sales that hold one of the newest
// limit lines of each of products. Each product's newest lines are one
// backward range of the (product_id, id) index, so a popular product costs
// no more than a rare one. Product ids are unique across merchants, and
// the lines counted are the caller's merchant's (the privacy filter on the
// outer query), so the subqueries need no merchant filter of their own.
func inRecentBaskets(products []pulid.ID, limit int) predicate.SaleLine {
	return func(s *sql.Selector) {
		s.Where(sql.P(func(b *sql.Builder) {
			b.WriteString(s.C(saleline.FieldSaleID) + " IN (")
			for i, p := range products {
				if i > 0 {
					b.WriteString(" UNION ALL ")
				}
				// Each part in a derived table of its own: SQLite takes no
				// ORDER BY or LIMIT on the parts of a compound SELECT.
				b.WriteString("SELECT " + saleline.FieldSaleID + " FROM (SELECT " + saleline.FieldSaleID +
					" FROM " + saleline.Table + " WHERE " + saleline.FieldProductID + " = ").Arg(p).
					WriteString(fmt.Sprintf(" ORDER BY %s DESC LIMIT %d) AS seed%d", saleline.FieldID, limit, i))
			}
			b.WriteString(")")
		}))
	}
}

// inNewestSales keeps the lines of the sales that hold one of the merchant's
// newest limit lines (a backward range of the (merchant_id, id) index).
func inNewestSales(merchantID pulid.ID, limit int) predicate.SaleLine {
	return func(s *sql.Selector) {
		newest := sql.Select(saleline.FieldSaleID).From(sql.Table(saleline.Table)).
			Where(sql.EQ(saleline.FieldMerchantID, merchantID)).
			OrderBy(sql.Desc(saleline.FieldID)).
			Limit(limit)
		// A subquery with LIMIT inside IN is refused by some engines; the
		// extra derived table is accepted by SQLite and PostgreSQL alike.
		s.Where(sql.In(s.C(saleline.FieldSaleID), sql.Select("*").From(newest.As("newest"))))
	}
}

// countLines counts the lines per product that q finds.
func countLines(ctx context.Context, q *ent.SaleLineQuery) (map[pulid.ID]int, error) {
	var rows []struct {
		ProductID pulid.ID `json:"product_id"`
		Count     int      `json:"count"`
	}
	if err := q.GroupBy(saleline.FieldProductID).Aggregate(ent.Count()).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("counting products sold: %w", err)
	}
	counts := make(map[pulid.ID]int, len(rows))
	for _, r := range rows {
		counts[r.ProductID] = r.Count
	}
	return counts, nil
}

// topKeys is the n keys with the highest counts, ties by key.
func topKeys(counts map[pulid.ID]int, n int) []pulid.ID {
	keys := make([]pulid.ID, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b pulid.ID) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b))
	})
	return keys[:min(n, len(keys))]
}

// activeProducts loads the active ones of ids, in the order of ids.
func activeProducts(ctx context.Context, client *ent.Client, ids []pulid.ID) ([]*ent.Product, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	found, err := client.Product.Query().Where(product.IDIn(ids...), product.Active(true)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading products: %w", err)
	}
	slices.SortFunc(found, func(a, b *ent.Product) int {
		return slices.Index(ids, a.ID) - slices.Index(ids, b.ID)
	})
	return found, nil
}
