package reports

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/device"
	"github.com/tillpos/till/ent/salesfacetday"
	"github.com/tillpos/till/ent/saleshour"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/merchants"
)

// scope is the stores a report covers and the time zone its days are in.
type scope struct {
	storeIDs []pulid.ID
	loc      *time.Location
	currency string
}

// scopeOf checks that the viewer may read reports and returns the stores:
// storeID, or every store they may see (the owner all, a manager those
// they work at). Days are the store's, or for several the oldest one's.
func (s *Service) scopeOf(ctx context.Context, storeID *pulid.ID) (*scope, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() || !v.HasRole(viewer.RoleOwner, viewer.RoleManager) {
		return nil, errs.Newf(errs.Forbidden, "reports are for owners and managers")
	}
	var stores []*ent.Store
	if storeID != nil {
		st, err := merchants.StoreFor(ctx, s.db, v, *storeID, "storeId")
		if err != nil {
			return nil, err
		}
		stores = []*ent.Store{st}
	} else {
		q := s.db.Store.Query().Order(ent.Asc(store.FieldCreatedAt), ent.Asc(store.FieldID))
		if v.Role != viewer.RoleOwner {
			q.Where(store.HasStaffWith(staff.ID(v.ID)))
		}
		var err error
		if stores, err = q.All(ctx); err != nil {
			return nil, fmt.Errorf("loading stores: %w", err)
		}
	}
	m, err := s.db.Merchant.Get(ctx, v.MerchantID)
	if err != nil {
		return nil, fmt.Errorf("loading merchant: %w", err)
	}
	sc := &scope{loc: time.UTC, currency: m.Currency}
	for _, st := range stores {
		sc.storeIDs = append(sc.storeIDs, st.ID)
	}
	if len(stores) > 0 {
		sc.loc = location(stores[0].TimeZone)
	}
	return sc, nil
}

// scopedPeriod is the stores a report on storeID covers and in resolved
// in their time zone, at most maxDays long.
func (s *Service) scopedPeriod(ctx context.Context, storeID *pulid.ID, in PeriodInput, maxDays int) (*scope, span, error) {
	sc, err := s.scopeOf(ctx, storeID)
	if err != nil {
		return nil, span{}, err
	}
	sp, err := resolve(in, s.now(), sc.loc)
	if err == nil && sp.days() > maxDays {
		err = errs.Invalid("period", "this report covers at most %d days", maxDays)
	}
	return sc, sp, err
}

// hourRow is the figures of one day (and hour, when grouped by it).
type hourRow struct {
	BusinessDate string `sql:"business_date"`
	Hour         int    `sql:"hour"`
	Totals
}

// sums are SUM aggregates of columns, named after them.
func sums(columns []string) []ent.AggregateFunc {
	out := make([]ent.AggregateFunc, len(columns))
	for i, c := range columns {
		out[i] = ent.As(ent.Sum(c), c)
	}
	return out
}

// hours sums sc's SalesHour rows over sp by day, or by day and hour.
func (s *Service) hours(ctx context.Context, sc *scope, sp span, byHour bool) ([]hourRow, error) {
	var group []string
	if byHour {
		group = append(group, saleshour.FieldHour)
	}
	var rows []hourRow
	if len(sc.storeIDs) == 0 {
		return rows, nil
	}
	err := s.db.SalesHour.Query().
		Where(saleshour.StoreIDIn(sc.storeIDs...), saleshour.BusinessDateGTE(sp.period().From), saleshour.BusinessDateLTE(sp.period().To)).
		GroupBy(saleshour.FieldBusinessDate, group...).Aggregate(sums(figureColumns)...).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("reading hourly figures: %w", err)
	}
	return rows, nil
}

// facetRow is the figures of one key of a dimension, on one day.
type facetRow struct {
	BusinessDate string `sql:"business_date"`
	Key          string `sql:"key"`
	Totals
}

// facets sums sc's SalesFacetDay rows of dimension d over sp by day and key.
func (s *Service) facets(ctx context.Context, sc *scope, sp span, d salesfacetday.Dimension) ([]facetRow, error) {
	var rows []facetRow
	if len(sc.storeIDs) == 0 {
		return rows, nil
	}
	err := s.db.SalesFacetDay.Query().
		Where(salesfacetday.StoreIDIn(sc.storeIDs...), salesfacetday.BusinessDateGTE(sp.period().From),
			salesfacetday.BusinessDateLTE(sp.period().To), salesfacetday.DimensionEQ(d)).
		GroupBy(salesfacetday.FieldBusinessDate, salesfacetday.FieldKey).Aggregate(sums(figureColumns)...).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("reading %s figures: %w", d, err)
	}
	return rows, nil
}

// within reports whether a row's date is in sp.
func within(date string, sp span) bool {
	p := sp.period()
	return date >= p.From && date <= p.To
}

// ReportVoids are a period's voided sales.
type ReportVoids struct {
	Count  int64 `json:"count"`
	Amount int64 `json:"amount"`
}

// TenderShare is one tender type's part of what was taken.
type TenderShare struct {
	Tender   string  `json:"tender"`
	Count    int64   `json:"count"`
	Amount   int64   `json:"amount"`
	Refunded int64   `json:"refunded"`
	Net      int64   `json:"net"`
	Share    float64 `json:"share"`
}

// SalesFigures are a period's dashboard figures.
type SalesFigures struct {
	Period          *ReportPeriod  `json:"period"`
	GrossSales      int64          `json:"grossSales"`
	Discounts       int64          `json:"discounts"`
	Refunds         int64          `json:"refunds"`
	NetSales        int64          `json:"netSales"`
	Tax             int64          `json:"tax"`
	TotalCollected  int64          `json:"totalCollected"`
	Transactions    int64          `json:"transactions"`
	AverageTicket   int64          `json:"averageTicket"`
	ItemsSold       int64          `json:"itemsSold"`
	Voids           *ReportVoids   `json:"voids"`
	NewCustomers    int64          `json:"newCustomers"`
	ReturningVisits int64          `json:"returningVisits"`
	TenderMix       []*TenderShare `json:"tenderMix"`
}

// gross is sales before discounts, without tax.
func (f Totals) gross() int64 { return f.SalesTotal - f.TaxTotal + f.DiscountTotal }

// refunds is refunds without tax.
func (f Totals) refunds() int64 { return f.RefundAmount - f.RefundTax }

// net is gross less discounts and refunds.
func (f Totals) net() int64 { return f.gross() - f.DiscountTotal - f.refunds() }

func (f Totals) summarize(p *ReportPeriod) *SalesFigures {
	out := &SalesFigures{
		Period: p, GrossSales: f.gross(), Discounts: f.DiscountTotal, Refunds: f.refunds(), NetSales: f.net(),
		Tax: f.TaxTotal - f.RefundTax, Transactions: f.SalesCount, ItemsSold: f.ItemsSold - f.ItemsReturned,
		Voids:        &ReportVoids{Count: f.VoidsCount, Amount: f.VoidAmount},
		NewCustomers: f.NewCustomers, ReturningVisits: f.ReturningVisits,
		TenderMix: []*TenderShare{},
	}
	out.TotalCollected = out.NetSales + out.Tax
	if f.SalesCount > 0 {
		out.AverageTicket = f.SalesTotal / f.SalesCount
	}
	return out
}

// tenderMix is each tender type's figures, largest net first, with its
// share of the net of all.
func tenderMix(byType map[string]*Totals) []*TenderShare {
	out := []*TenderShare{}
	var total int64
	for typ, f := range byType {
		t := &TenderShare{Tender: typ, Count: f.SalesCount, Amount: f.SalesTotal, Refunded: f.RefundAmount, Net: f.SalesTotal - f.RefundAmount}
		total += t.Net
		out = append(out, t)
	}
	for _, t := range out {
		if total != 0 {
			t.Share = float64(t.Net) / float64(total)
		}
	}
	slices.SortFunc(out, func(a, b *TenderShare) int { return cmp.Or(cmp.Compare(b.Net, a.Net), cmp.Compare(a.Tender, b.Tender)) })
	return out
}

// SalesChange compares a period with the previous, in percent; nil where
// the previous figure is 0.
type SalesChange struct {
	GrossSales      *float64 `json:"grossSales"`
	NetSales        *float64 `json:"netSales"`
	Refunds         *float64 `json:"refunds"`
	Transactions    *float64 `json:"transactions"`
	AverageTicket   *float64 `json:"averageTicket"`
	ItemsSold       *float64 `json:"itemsSold"`
	NewCustomers    *float64 `json:"newCustomers"`
	ReturningVisits *float64 `json:"returningVisits"`
}

// percent is the change from was to now, in percent.
func percent(now, was int64) *float64 {
	if was == 0 {
		return nil
	}
	p := float64(now-was) * 100 / float64(was)
	if was < 0 {
		p = -p
	}
	return &p
}

// SalesSummary is the dashboard: a period's figures and the previous one's.
type SalesSummary struct {
	Currency string        `json:"currency"`
	Current  *SalesFigures `json:"current"`
	Previous *SalesFigures `json:"previous"`
	Change   *SalesChange  `json:"change"`
}

// Summary is the dashboard for storeID (nil: all the viewer's stores).
func (s *Service) Summary(ctx context.Context, storeID *pulid.ID, in PeriodInput) (*SalesSummary, error) {
	sc, cur, err := s.scopedPeriod(ctx, storeID, in, maxPeriodDays)
	if err != nil {
		return nil, err
	}
	prev := cur.previous()
	both := span{prev.from, cur.to}
	days, err := s.hours(ctx, sc, both, false)
	if err != nil {
		return nil, err
	}
	tenders, err := s.facets(ctx, sc, both, salesfacetday.DimensionTENDER)
	if err != nil {
		return nil, err
	}
	out := &SalesSummary{Currency: sc.currency}
	for _, sp := range []span{cur, prev} {
		var f Totals
		for _, d := range days {
			if within(d.BusinessDate, sp) {
				f.add(d.Totals, 1)
			}
		}
		byType := map[string]*Totals{}
		for _, t := range tenders {
			if within(t.BusinessDate, sp) {
				if byType[t.Key] == nil {
					byType[t.Key] = &Totals{}
				}
				byType[t.Key].add(t.Totals, 1)
			}
		}
		sf := f.summarize(sp.period())
		sf.TenderMix = tenderMix(byType)
		if out.Current == nil {
			out.Current = sf
		} else {
			out.Previous = sf
		}
	}
	c, p := out.Current, out.Previous
	out.Change = &SalesChange{
		GrossSales: percent(c.GrossSales, p.GrossSales), NetSales: percent(c.NetSales, p.NetSales),
		Refunds: percent(c.Refunds, p.Refunds), Transactions: percent(c.Transactions, p.Transactions),
		AverageTicket: percent(c.AverageTicket, p.AverageTicket), ItemsSold: percent(c.ItemsSold, p.ItemsSold),
		NewCustomers: percent(c.NewCustomers, p.NewCustomers), ReturningVisits: percent(c.ReturningVisits, p.ReturningVisits),
	}
	return out, nil
}

// Interval is a trend's bucket size.
type Interval string

// Intervals.
const (
	Hour  Interval = "HOUR"
	Day   Interval = "DAY"
	Week  Interval = "WEEK"
	Month Interval = "MONTH"
)

// SalesTrendBucket is one bucket of a trend.
type SalesTrendBucket struct {
	Date         string `json:"date"`
	Hour         *int   `json:"hour"`
	GrossSales   int64  `json:"grossSales"`
	NetSales     int64  `json:"netSales"`
	Refunds      int64  `json:"refunds"`
	Transactions int64  `json:"transactions"`
	ItemsSold    int64  `json:"itemsSold"`
}

// SalesTrend is a zero-filled series of buckets.
type SalesTrend struct {
	Currency string              `json:"currency"`
	Period   *ReportPeriod       `json:"period"`
	Buckets  []*SalesTrendBucket `json:"buckets"`
}

type bucketKey struct {
	date string
	hour int
}

// bucketOf is the bucket a day (and hour) falls in.
func bucketOf(iv Interval, date time.Time, hour int) bucketKey {
	switch iv {
	case Hour:
		return bucketKey{date.Format(time.DateOnly), hour}
	case Week:
		return bucketKey{monday(date).Format(time.DateOnly), -1}
	case Month:
		return bucketKey{date.AddDate(0, 0, 1-date.Day()).Format(time.DateOnly), -1}
	}
	return bucketKey{date.Format(time.DateOnly), -1}
}

// buckets are sp's buckets in order: every local hour 0–23 of every day
// for HOUR (a DST day's skipped hour stays 0, its repeated hour holds
// both), or the days, ISO weeks or months sp touches.
func buckets(iv Interval, sp span) []bucketKey {
	var out []bucketKey
	for d := sp.from; !d.After(sp.to); d = d.AddDate(0, 0, 1) {
		for h := range 24 {
			k := bucketOf(iv, d, h)
			if len(out) == 0 || out[len(out)-1] != k {
				out = append(out, k)
			}
			if iv != Hour {
				break
			}
		}
	}
	return out
}

// Trend is sales by interval over the period, every bucket present.
func (s *Service) Trend(ctx context.Context, storeID *pulid.ID, in PeriodInput, iv Interval) (*SalesTrend, error) {
	maxDays := maxPeriodDays
	if iv == Hour {
		maxDays = maxHourDays
	}
	sc, sp, err := s.scopedPeriod(ctx, storeID, in, maxDays)
	if err != nil {
		return nil, err
	}
	rows, err := s.hours(ctx, sc, sp, iv == Hour)
	if err != nil {
		return nil, err
	}
	sum := map[bucketKey]*Totals{}
	for _, r := range rows {
		d, err := time.Parse(time.DateOnly, r.BusinessDate)
		if err != nil {
			return nil, fmt.Errorf("reading a rollup's date: %w", err)
		}
		k := bucketOf(iv, d, r.Hour)
		if sum[k] == nil {
			sum[k] = &Totals{}
		}
		sum[k].add(r.Totals, 1)
	}
	out := &SalesTrend{Currency: sc.currency, Period: sp.period(), Buckets: []*SalesTrendBucket{}}
	for _, k := range buckets(iv, sp) {
		b := &SalesTrendBucket{Date: k.date}
		if iv == Hour {
			b.Hour = &k.hour
		}
		if f := sum[k]; f != nil {
			b.GrossSales, b.NetSales, b.Refunds = f.gross(), f.net(), f.refunds()
			b.Transactions, b.ItemsSold = f.SalesCount, f.ItemsSold-f.ItemsReturned
		}
		out.Buckets = append(out.Buckets, b)
	}
	return out, nil
}

// SalesHeatmapCell is one weekday and hour of a heatmap.
type SalesHeatmapCell struct {
	Weekday      int   `json:"weekday"`
	Hour         int   `json:"hour"`
	NetSales     int64 `json:"netSales"`
	Transactions int64 `json:"transactions"`
}

// SalesHeatmap is sales by weekday and local hour.
type SalesHeatmap struct {
	Currency string              `json:"currency"`
	Period   *ReportPeriod       `json:"period"`
	Cells    []*SalesHeatmapCell `json:"cells"`
}

// Heatmap is net sales and transactions by weekday (Monday first) and hour.
func (s *Service) Heatmap(ctx context.Context, storeID *pulid.ID, in PeriodInput) (*SalesHeatmap, error) {
	sc, sp, err := s.scopedPeriod(ctx, storeID, in, maxPeriodDays)
	if err != nil {
		return nil, err
	}
	rows, err := s.hours(ctx, sc, sp, true)
	if err != nil {
		return nil, err
	}
	out := &SalesHeatmap{Currency: sc.currency, Period: sp.period(), Cells: make([]*SalesHeatmapCell, 7*24)}
	for i := range out.Cells {
		out.Cells[i] = &SalesHeatmapCell{Weekday: i/24 + 1, Hour: i % 24}
	}
	for _, r := range rows {
		d, err := time.Parse(time.DateOnly, r.BusinessDate)
		if err != nil {
			return nil, fmt.Errorf("reading a rollup's date: %w", err)
		}
		c := out.Cells[(int(d.Weekday())+6)%7*24+r.Hour]
		c.NetSales += r.net()
		c.Transactions += r.SalesCount
	}
	return out, nil
}

// Dimension is what a breakdown is by.
type Dimension = salesfacetday.Dimension

// SalesBreakdownRow is one tender type's, cashier's or terminal's figures.
type SalesBreakdownRow struct {
	Key          string       `json:"key"`
	Label        string       `json:"label"`
	Transactions int64        `json:"transactions"`
	Amount       int64        `json:"amount"`
	RefundsCount int64        `json:"refundsCount"`
	Refunded     int64        `json:"refunded"`
	Net          int64        `json:"net"`
	Voids        *ReportVoids `json:"voids"`
}

// SalesBreakdown is a period's figures by one dimension.
type SalesBreakdown struct {
	Currency string               `json:"currency"`
	Period   *ReportPeriod        `json:"period"`
	Rows     []*SalesBreakdownRow `json:"rows"`
}

// Breakdown is the period's sales by tender type, cashier or terminal,
// highest net first.
func (s *Service) Breakdown(ctx context.Context, storeID *pulid.ID, in PeriodInput, by Dimension) (*SalesBreakdown, error) {
	sc, sp, err := s.scopedPeriod(ctx, storeID, in, maxPeriodDays)
	if err != nil {
		return nil, err
	}
	rows, err := s.facets(ctx, sc, sp, by)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*Totals{}
	for _, r := range rows {
		if byKey[r.Key] == nil {
			byKey[r.Key] = &Totals{}
		}
		byKey[r.Key].add(r.Totals, 1)
	}
	labels, err := s.labels(ctx, by, byKey)
	if err != nil {
		return nil, err
	}
	out := &SalesBreakdown{Currency: sc.currency, Period: sp.period(), Rows: []*SalesBreakdownRow{}}
	for key, f := range byKey {
		out.Rows = append(out.Rows, &SalesBreakdownRow{
			Key: key, Label: cmp.Or(labels[key], key), Transactions: f.SalesCount, Amount: f.SalesTotal,
			RefundsCount: f.RefundsCount, Refunded: f.RefundAmount, Net: f.SalesTotal - f.RefundAmount,
			Voids: &ReportVoids{Count: f.VoidsCount, Amount: f.VoidAmount},
		})
	}
	slices.SortFunc(out.Rows, func(a, b *SalesBreakdownRow) int { return cmp.Or(cmp.Compare(b.Net, a.Net), cmp.Compare(a.Key, b.Key)) })
	return out, nil
}

// labels names the keys of a breakdown: staff by name, devices by their
// location label or serial number; a tender type is its own label.
func (s *Service) labels(ctx context.Context, by Dimension, keys map[string]*Totals) (map[string]string, error) {
	ids := make([]pulid.ID, 0, len(keys))
	for k := range keys {
		ids = append(ids, pulid.ID(k))
	}
	out := map[string]string{}
	switch by {
	case salesfacetday.DimensionSTAFF:
		people, err := s.db.Staff.Query().Where(staff.IDIn(ids...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("loading staff: %w", err)
		}
		for _, p := range people {
			out[string(p.ID)] = p.Name
		}
	case salesfacetday.DimensionDEVICE:
		devs, err := s.db.Device.Query().Where(device.IDIn(ids...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("loading devices: %w", err)
		}
		for _, d := range devs {
			out[string(d.ID)] = cmp.Or(d.LocationLabel, d.SerialNumber)
		}
	}
	return out, nil
}
