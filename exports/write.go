package exports

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/device"
	"github.com/tillpos/till/ent/exportjob"
	"github.com/tillpos/till/ent/predicate"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/saleline"
	"github.com/tillpos/till/ent/schema/exporttype"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/internal/money"
)

// DefaultBatch is how many sales one read fetches.
const DefaultBatch = 1000

// Spec says what to export: whose sales, which of them, how.
type Spec struct {
	MerchantID pulid.ID
	Kind       exportjob.Kind
	Format     exportjob.Format
	Filters    exporttype.Filters
	// Batch is how many sales one read fetches; DefaultBatch when 0.
	Batch int
}

// Count is how many rows spec's file will have, not counting the header:
// sales, or for LINES their lines.
func Count(ctx context.Context, client *ent.Client, spec Spec) (int64, error) {
	q := client.Sale.Query().Where(predicates(spec)...)
	var (
		n   int
		err error
	)
	if spec.Kind == exportjob.KindLINES {
		n, err = q.QueryLines().Count(ctx)
	} else {
		n, err = q.Count(ctx)
	}
	if err != nil {
		return 0, fmt.Errorf("counting export rows: %w", err)
	}
	return int64(n), nil
}

// Write writes the file spec describes to w and returns how many rows it
// wrote. It reads the sales in batches in (occurred_at, id) order, and
// after each batch calls progress (when not nil) with the rows so far; an
// error from progress stops the export. The merchant is scoped explicitly,
// so ctx may be a system context; a staff viewer's rules apply as well.
func Write(ctx context.Context, client *ent.Client, spec Spec, w io.Writer, progress func(rows int64) error) (int64, error) {
	sh, err := newSheet(spec.Format, w)
	if err != nil {
		return 0, err
	}
	rows, err := writeRows(ctx, client, spec, sh, progress)
	if cerr := sh.close(); err == nil {
		err = cerr
	}
	return rows, err
}

func writeRows(ctx context.Context, client *ent.Client, spec Spec, sh sheet, progress func(int64) error) (int64, error) {
	lines := spec.Kind == exportjob.KindLINES
	if err := sh.header(columns(lines)); err != nil {
		return 0, err
	}
	batch := spec.Batch
	if batch <= 0 {
		batch = DefaultBatch
	}
	names := newNames(client)
	preds := predicates(spec)
	var (
		rows  int64
		after *ent.Sale
		cells []cell
	)
	for {
		q := client.Sale.Query().Where(preds...).
			Order(sale.ByOccurredAt(), sale.ByID()).Limit(batch).
			// merchant_id leads the tender and line indexes; without it (a
			// system context adds no tenant filter) each batch would scan
			// every tender.
			WithTenders(func(q *ent.TenderQuery) { q.Where(tender.MerchantID(spec.MerchantID)).Order(tender.ByID()) })
		if after != nil {
			// Keyset pagination: each batch starts after the last row of
			// the one before, by an index, however deep into the range.
			// The plain lower bound is what lets the planners seek the
			// (merchant_id, occurred_at) index: the OR alone made SQLite
			// scan from the range's start on every batch.
			q.Where(sale.OccurredAtGTE(after.OccurredAt), sale.Or(sale.OccurredAtGT(after.OccurredAt),
				sale.And(sale.OccurredAtEQ(after.OccurredAt), sale.IDGT(after.ID))))
		}
		if lines {
			q.WithLines(func(q *ent.SaleLineQuery) {
				q.Where(saleline.MerchantID(spec.MerchantID)).Order(saleline.ByPosition())
			})
		}
		page, err := q.All(ctx)
		if err != nil {
			return rows, fmt.Errorf("reading sales: %w", err)
		}
		if err := names.load(ctx, page); err != nil {
			return rows, err
		}
		for _, sl := range page {
			cells = saleCells(cells[:0], sl, names)
			if !lines {
				if err := sh.row(cells); err != nil {
					return rows, err
				}
				rows++
				continue
			}
			n := len(cells)
			for _, l := range sl.Edges.Lines {
				if err := sh.row(lineCells(cells[:n], sl, l)); err != nil {
					return rows, err
				}
				rows++
			}
		}
		if progress != nil && len(page) > 0 {
			if err := progress(rows); err != nil {
				return rows, err
			}
		}
		if len(page) < batch {
			return rows, nil
		}
		after = page[len(page)-1]
	}
}

// predicates select spec's sales. merchant_id is always one of them: the
// runner reads under a system context, where no tenant rule applies.
func predicates(spec Spec) []predicate.Sale {
	f := spec.Filters
	ps := []predicate.Sale{sale.MerchantID(spec.MerchantID)}
	if f.StoreIDs != nil {
		ps = append(ps, sale.StoreIDIn(f.StoreIDs...))
	}
	if f.From != nil {
		ps = append(ps, sale.OccurredAtGTE(*f.From))
	}
	if f.To != nil {
		ps = append(ps, sale.OccurredAtLT(*f.To))
	}
	if f.FromDate != "" {
		ps = append(ps, sale.BusinessDateGTE(f.FromDate))
	}
	if f.ToDate != "" {
		ps = append(ps, sale.BusinessDateLTE(f.ToDate))
	}
	if len(f.Statuses) > 0 {
		st := make([]sale.Status, len(f.Statuses))
		for i, s := range f.Statuses {
			st[i] = sale.Status(s)
		}
		ps = append(ps, sale.StatusIn(st...))
	}
	if f.CashierID != nil {
		ps = append(ps, sale.CashierID(*f.CashierID))
	}
	if f.DeviceID != nil {
		ps = append(ps, sale.DeviceID(*f.DeviceID))
	}
	if f.CustomerID != nil {
		ps = append(ps, sale.CustomerID(*f.CustomerID))
	}
	return ps
}

var saleColumns = []string{
	"Sale ID", "Store", "Receipt number", "Occurred at (local)", "Occurred at (UTC)", "Business date",
	"Status", "Cashier", "Device", "Customer ID",
}

// columns are the header of a TRANSACTIONS file, or with lines of a LINES one.
func columns(lines bool) []string {
	cols := append([]string(nil), saleColumns...)
	if lines {
		return append(cols, "Line", "SKU", "Item", "Category", "Quantity", "Unit price", "Line discount",
			"Order discount", "Tax", "Total", "Refunded quantity", "Refunded", "Currency")
	}
	return append(cols, "Subtotal", "Discounts", "Tax", "Total", "Refunded", "Tenders", "Currency")
}

// LocalTimeLayout is how a sale's store-local time is printed.
const LocalTimeLayout = "2006-01-02 15:04:05"

// saleCells appends the cells every row of sl starts with and, for a
// TRANSACTIONS row (no lines loaded), its totals.
func saleCells(cells []cell, sl *ent.Sale, n *names) []cell {
	st := n.stores[sl.StoreID]
	var deviceName, customer string
	if sl.DeviceID != nil {
		deviceName = n.devices[*sl.DeviceID]
	}
	if sl.CustomerID != nil {
		customer = string(*sl.CustomerID)
	}
	cells = append(cells,
		text(string(sl.ID)), text(st.name), integer(sl.ReceiptNumber),
		text(sl.OccurredAt.In(st.loc).Format(LocalTimeLayout)), text(sl.OccurredAt.UTC().Format(time.RFC3339)),
		text(sl.BusinessDate), text(string(sl.Status)), text(n.staff[sl.CashierID]), text(deviceName), text(customer))
	if sl.Edges.Lines != nil {
		return cells
	}
	scale := money.Scale(sl.Currency)
	return append(cells,
		amount(sl.Subtotal, scale), amount(sl.DiscountTotal, scale), amount(sl.TaxTotal, scale),
		amount(sl.Total, scale), amount(sl.RefundedTotal, scale), text(tenderSummary(sl.Edges.Tenders, scale)),
		text(sl.Currency))
}

func lineCells(cells []cell, sl *ent.Sale, l *ent.SaleLine) []cell {
	scale := money.Scale(sl.Currency)
	return append(cells,
		integer(int64(l.Position)), text(l.Sku), text(l.Name), text(l.Category), integer(int64(l.Quantity)),
		amount(l.UnitPrice, scale), amount(l.LineDiscount, scale), amount(l.OrderDiscount, scale),
		amount(l.Tax, scale), amount(l.Total, scale), integer(int64(l.RefundedQuantity)),
		amount(l.RefundedAmount, scale), text(sl.Currency))
}

// tenderSummary is how a sale was paid, e.g. "CASH 10.00; CARD VISA *4242 5.00".
func tenderSummary(ts []*ent.Tender, scale int) string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(string(t.Type))
		if t.CardBrand != nil {
			b.WriteString(" " + *t.CardBrand)
		}
		if t.CardLast4 != nil {
			b.WriteString(" *" + *t.CardLast4)
		}
		if t.Wallet != nil {
			b.WriteString(" " + string(*t.Wallet))
		}
		b.WriteString(" " + money.Format(t.Amount, scale))
	}
	return b.String()
}

// names caches the stores, staff and devices the rows name: a merchant has
// few of them, and each is read once per export.
type names struct {
	client  *ent.Client
	stores  map[pulid.ID]storeName
	staff   map[pulid.ID]string
	devices map[pulid.ID]string
}

type storeName struct {
	name string
	loc  *time.Location
}

func newNames(client *ent.Client) *names {
	return &names{client: client, stores: map[pulid.ID]storeName{}, staff: map[pulid.ID]string{}, devices: map[pulid.ID]string{}}
}

// load reads the names of page that are not cached yet.
func (n *names) load(ctx context.Context, page []*ent.Sale) error {
	var storeIDs, staffIDs, deviceIDs []pulid.ID
	for _, sl := range page {
		if _, ok := n.stores[sl.StoreID]; !ok {
			storeIDs = append(storeIDs, sl.StoreID)
			n.stores[sl.StoreID] = storeName{loc: time.UTC}
		}
		if _, ok := n.staff[sl.CashierID]; !ok {
			staffIDs = append(staffIDs, sl.CashierID)
			n.staff[sl.CashierID] = ""
		}
		if sl.DeviceID != nil {
			if _, ok := n.devices[*sl.DeviceID]; !ok {
				deviceIDs = append(deviceIDs, *sl.DeviceID)
				n.devices[*sl.DeviceID] = ""
			}
		}
	}
	if len(storeIDs) > 0 {
		stores, err := n.client.Store.Query().Where(store.IDIn(storeIDs...)).All(ctx)
		if err != nil {
			return fmt.Errorf("reading stores: %w", err)
		}
		for _, st := range stores {
			loc, err := time.LoadLocation(st.TimeZone)
			if err != nil {
				return fmt.Errorf("store %s time zone: %w", st.ID, err)
			}
			n.stores[st.ID] = storeName{name: st.Name, loc: loc}
		}
	}
	if len(staffIDs) > 0 {
		people, err := n.client.Staff.Query().Where(staff.IDIn(staffIDs...)).Select(staff.FieldName).All(ctx)
		if err != nil {
			return fmt.Errorf("reading cashiers: %w", err)
		}
		for _, p := range people {
			n.staff[p.ID] = p.Name
		}
	}
	if len(deviceIDs) > 0 {
		devs, err := n.client.Device.Query().Where(device.IDIn(deviceIDs...)).
			Select(device.FieldSerialNumber, device.FieldLocationLabel).All(ctx)
		if err != nil {
			return fmt.Errorf("reading devices: %w", err)
		}
		for _, d := range devs {
			n.devices[d.ID] = cmp.Or(d.LocationLabel, d.SerialNumber)
		}
	}
	return nil
}
