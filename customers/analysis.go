package customers

import (
	"context"
	"fmt"
	"slices"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/customermonth"
	"github.com/tillpos/till/ent/refund"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/merchants"
)

// Customer analysis for owners and managers: what each segment is worth,
// how monthly cohorts come back, and the best customers. Cohorts and a
// store's best customers read CustomerMonth, which sales keep through
// RecordMonth and RefundMonth; segments and the merchant's best customers
// read the customers' own aggregates.

// RecordMonth counts a sale in its customer's month at its store (the
// store's local month). It is a sales Recorded hook: it runs in the sale's
// transaction.
func RecordMonth(ctx context.Context, tx *ent.Tx, sl *ent.Sale, _ []*ent.Tender) error {
	if sl.CustomerID == nil {
		return nil
	}
	return addMonth(ctx, tx, sl.MerchantID, *sl.CustomerID, sl.StoreID, saleMonth(sl), 1, sl.Total)
}

// RefundMonth takes a refund off the month its sale counts in; a void
// takes the sale out too, so that a customer whose only sale of a month was
// voided did not buy that month. It is a sales Refunded hook.
func RefundMonth(ctx context.Context, tx *ent.Tx, sl *ent.Sale, r *ent.Refund) error {
	if sl.CustomerID == nil {
		return nil
	}
	count := 0
	if r.Kind == refund.KindVOID {
		count = -1
	}
	return addMonth(ctx, tx, sl.MerchantID, *sl.CustomerID, sl.StoreID, saleMonth(sl), count, -r.Amount)
}

// saleMonth is the store's local month of a sale, YYYY-MM.
func saleMonth(sl *ent.Sale) string { return sl.BusinessDate[:len("2006-01")] }

// addMonth adds count sales of amount to a customer's month at a store.
func addMonth(ctx context.Context, tx *ent.Tx, merchantID, customerID, storeID pulid.ID, month string, count int, amount int64) error {
	err := tx.CustomerMonth.Create().
		SetMerchantID(merchantID).SetCustomerID(customerID).SetStoreID(storeID).SetMonth(month).
		SetSalesCount(count).SetAmount(amount).
		OnConflict(sql.ConflictColumns(customermonth.FieldCustomerID, customermonth.FieldStoreID, customermonth.FieldMonth)).
		AddSalesCount(count).AddAmount(amount).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("counting the customer's month: %w", err)
	}
	return nil
}

// moveMonths adds a merged duplicate's months to the survivor's, in the
// merge's transaction.
func moveMonths(ctx context.Context, tx *ent.Tx, merchantID, from, to pulid.ID) error {
	months, err := tx.CustomerMonth.Query().Where(customermonth.CustomerID(from)).All(ctx)
	if err != nil {
		return fmt.Errorf("loading the duplicate's months: %w", err)
	}
	for _, m := range months {
		if err := addMonth(ctx, tx, merchantID, to, m.StoreID, m.Month, m.SalesCount, m.Amount); err != nil {
			return err
		}
	}
	if _, err := tx.CustomerMonth.Delete().Where(customermonth.CustomerID(from)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting the duplicate's months: %w", err)
	}
	return nil
}

// SegmentShare is what one segment of active customers holds.
type SegmentShare struct {
	Segment customer.Segment
	Count   int
	// Unscored are the segment's customers without a visit yet (no RFM
	// score): NEW, or OCCASIONAL once no longer new.
	Unscored int
	Spent    int64
	// RevenueShare is Spent over all active customers' spend, 0–1 (0 when
	// none spent anything).
	RevenueShare float64
}

// SegmentReport is every segment's share of the active customers' spend.
type SegmentReport struct {
	Segments   []*SegmentShare
	Customers  int
	Unscored   int
	TotalSpent int64
}

// segmentTotals counts the merchant's active customers, and sums what
// they spent, per segment: every segment listed, in dashboard order.
func (s *Service) segmentTotals(ctx context.Context) ([]*SegmentShare, error) {
	var rows []struct {
		Segment customer.Segment `json:"segment"`
		Count   int              `json:"count"`
		Sum     int64            `json:"sum"`
	}
	err := s.db.Customer.Query().Where(customer.StatusEQ(customer.StatusACTIVE)).
		GroupBy(customer.FieldSegment).Aggregate(ent.Count(), ent.Sum(customer.FieldTotalSpent)).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("counting segments: %w", err)
	}
	totals := map[customer.Segment]*SegmentShare{}
	for _, r := range rows {
		totals[r.Segment] = &SegmentShare{Segment: r.Segment, Count: r.Count, Spent: r.Sum}
	}
	out := make([]*SegmentShare, len(segments))
	for i, seg := range segments {
		if out[i] = totals[seg]; out[i] == nil {
			out[i] = &SegmentShare{Segment: seg}
		}
	}
	return out, nil
}

// CustomerSegmentReport sizes every segment of the caller's merchant's
// active customers and its share of what they spent. OWNER or MANAGER.
func (s *Service) CustomerSegmentReport(ctx context.Context) (*SegmentReport, error) {
	if _, err := staffViewer(ctx, managers...); err != nil {
		return nil, err
	}
	shares, err := s.segmentTotals(ctx)
	if err != nil {
		return nil, err
	}
	var unscored []struct {
		Segment customer.Segment `json:"segment"`
		Count   int              `json:"count"`
	}
	err = s.db.Customer.Query().
		Where(customer.StatusEQ(customer.StatusACTIVE), customer.Or(customer.RfmIsNil(), customer.RfmEQ(""))).
		GroupBy(customer.FieldSegment).Aggregate(ent.Count()).Scan(ctx, &unscored)
	if err != nil {
		return nil, fmt.Errorf("counting unscored customers: %w", err)
	}
	report := &SegmentReport{Segments: shares}
	for _, sh := range shares {
		for _, u := range unscored {
			if u.Segment == sh.Segment {
				sh.Unscored = u.Count
			}
		}
		report.Customers += sh.Count
		report.Unscored += sh.Unscored
		report.TotalSpent += sh.Spent
	}
	if report.TotalSpent > 0 {
		for _, sh := range shares {
			sh.RevenueShare = float64(sh.Spent) / float64(report.TotalSpent)
		}
	}
	return report, nil
}

// CohortMonth is how many of a cohort bought Offset months after the
// cohort's month.
type CohortMonth struct {
	Offset    int
	Month     string
	Customers int
	// Retention is Customers over the cohort's size, 0–1.
	Retention float64
}

// Cohort is the customers whose first purchase fell in one month.
type Cohort struct {
	Month  string
	Size   int
	Months []*CohortMonth
}

// maxCohortMonths bounds the cohorts one query asks for.
const maxCohortMonths = 36

// Cohorts is the retention of the caller's merchant's customers by the
// month of their first purchase (the store's local month), for each cohort
// from fromMonth to toMonth (YYYY-MM): its size and, for every month from
// its own to the latest month anyone bought in (toMonth at the least), how
// many of it bought then. With storeID, only that store's sales count, the
// first purchase included. A voided sale does not count. OWNER or MANAGER
// (at the store, for one store).
func (s *Service) Cohorts(ctx context.Context, fromMonth, toMonth string, storeID *pulid.ID) ([]*Cohort, error) {
	v, err := staffViewer(ctx, managers...)
	if err != nil {
		return nil, err
	}
	from, err := parseMonth("fromMonth", fromMonth)
	if err != nil {
		return nil, err
	}
	to, err := parseMonth("toMonth", toMonth)
	if err != nil {
		return nil, err
	}
	if span := monthsBetween(from, to); span < 0 || span >= maxCohortMonths {
		return nil, errs.Invalid("toMonth", "from fromMonth to toMonth is 1 to %d months", maxCohortMonths)
	}
	q := s.db.CustomerMonth.Query().Where(customermonth.SalesCountGT(0))
	if storeID != nil {
		if _, err := merchants.StoreFor(ctx, s.db, v, *storeID, "storeId"); err != nil {
			return nil, err
		}
		q.Where(customermonth.StoreID(*storeID))
	}
	var rows []struct {
		CustomerID pulid.ID `json:"customer_id"`
		Month      string   `json:"month"`
	}
	if err := q.GroupBy(customermonth.FieldCustomerID, customermonth.FieldMonth).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("reading customer months: %w", err)
	}
	first := map[pulid.ID]string{}
	latest := toMonth
	for _, r := range rows {
		if f, ok := first[r.CustomerID]; !ok || r.Month < f {
			first[r.CustomerID] = r.Month
		}
		latest = max(latest, r.Month)
	}
	through, err := parseMonth("toMonth", latest)
	if err != nil {
		return nil, err
	}
	cohorts := make([]*Cohort, 0, monthsBetween(from, to)+1)
	index := map[string]*Cohort{}
	for m := from; !m.After(to); m = m.AddDate(0, 1, 0) {
		c := &Cohort{Month: m.Format(monthLayout)}
		for o := 0; o <= monthsBetween(m, through); o++ {
			c.Months = append(c.Months, &CohortMonth{Offset: o, Month: m.AddDate(0, o, 0).Format(monthLayout)})
		}
		cohorts = append(cohorts, c)
		index[c.Month] = c
	}
	for _, f := range first {
		if c := index[f]; c != nil {
			c.Size++
		}
	}
	for _, r := range rows {
		c := index[first[r.CustomerID]]
		if c == nil {
			continue
		}
		m, _ := time.Parse(monthLayout, r.Month)
		cm, _ := time.Parse(monthLayout, c.Month)
		c.Months[monthsBetween(cm, m)].Customers++
	}
	for _, c := range cohorts {
		for _, m := range c.Months {
			if c.Size > 0 {
				m.Retention = float64(m.Customers) / float64(c.Size)
			}
		}
	}
	return cohorts, nil
}

const monthLayout = "2006-01"

// parseMonth reads a YYYY-MM month, or BAD_USER_INPUT on field.
func parseMonth(field, month string) (time.Time, error) {
	t, err := time.Parse(monthLayout, month)
	if err != nil {
		return time.Time{}, errs.Invalid(field, "a month is written YYYY-MM")
	}
	return t, nil
}

// monthsBetween is how many months b is after a (both first of a month).
func monthsBetween(a, b time.Time) int {
	return (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
}

// Orders of TopCustomers.
const (
	BySpend  = "SPEND"
	ByVisits = "VISITS"
)

// TopCustomer is a customer with what they spent and how often they came:
// in all, or at one store.
type TopCustomer struct {
	Customer *ent.Customer
	Spent    int64
	Visits   int
}

// maxTop bounds a TopCustomers list.
const maxTop = 100

// TopCustomers lists the caller's merchant's first active customers by
// lifetime spend or visits (by, BySpend or ByVisits; the other breaks
// ties, then the id). With storeID, by what they spent and how often they
// came at that store (from their months there). OWNER or MANAGER (at the
// store, for one store); contact details are masked as the Customer type
// masks them for the caller.
func (s *Service) TopCustomers(ctx context.Context, storeID *pulid.ID, first int, by string) ([]*TopCustomer, error) {
	v, err := staffViewer(ctx, managers...)
	if err != nil {
		return nil, err
	}
	if first < 1 || first > maxTop {
		return nil, errs.Invalid("first", "first is 1 to %d", maxTop)
	}
	if by != BySpend && by != ByVisits {
		return nil, errs.Invalid("by", "by is SPEND or VISITS")
	}
	if storeID == nil {
		spent, visits := ent.Desc(customer.FieldTotalSpent), ent.Desc(customer.FieldVisitsCount)
		if by == ByVisits {
			spent, visits = visits, spent
		}
		found, err := s.db.Customer.Query().Where(customer.StatusEQ(customer.StatusACTIVE)).
			Order(spent, visits, ent.Asc(customer.FieldID)).Limit(first).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing top customers: %w", err)
		}
		out := make([]*TopCustomer, len(found))
		for i, c := range found {
			out[i] = &TopCustomer{Customer: c, Spent: c.TotalSpent, Visits: c.VisitsCount}
		}
		return out, nil
	}
	if _, err := merchants.StoreFor(ctx, s.db, v, *storeID, "storeId"); err != nil {
		return nil, err
	}
	var rows []struct {
		CustomerID pulid.ID `json:"customer_id"`
		Spent      int64    `json:"spent"`
		Visits     int      `json:"visits"`
	}
	order := []string{sql.Desc("spent"), sql.Desc("visits")}
	if by == ByVisits {
		order = []string{sql.Desc("visits"), sql.Desc("spent")}
	}
	err = s.db.CustomerMonth.Query().
		Where(customermonth.StoreID(*storeID), customermonth.HasCustomerWith(customer.StatusEQ(customer.StatusACTIVE))).
		Modify(func(sel *sql.Selector) {
			id := sel.C(customermonth.FieldCustomerID)
			sel.Select(id,
				sql.As(sql.Sum(sel.C(customermonth.FieldAmount)), "spent"),
				sql.As(sql.Sum(sel.C(customermonth.FieldSalesCount)), "visits")).
				GroupBy(id).
				OrderBy(append(order, id)...).
				Limit(first)
		}).
		Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("listing the store's top customers: %w", err)
	}
	ids := make([]pulid.ID, len(rows))
	for i, r := range rows {
		ids[i] = r.CustomerID
	}
	found, err := s.db.Customer.Query().Where(customer.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading top customers: %w", err)
	}
	out := make([]*TopCustomer, 0, len(rows))
	for _, r := range rows {
		if at := slices.IndexFunc(found, func(c *ent.Customer) bool { return c.ID == r.CustomerID }); at >= 0 {
			out = append(out, &TopCustomer{Customer: found[at], Spent: r.Spent, Visits: r.Visits})
		}
	}
	return out, nil
}
