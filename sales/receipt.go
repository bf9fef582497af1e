package sales

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/device"
	"github.com/tillpos/till/ent/merchant"
	"github.com/tillpos/till/ent/saleline"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/saletype"
	"github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/money"
	"github.com/tillpos/till/internal/ptr"
)

// Receipt is what a printed POS slip carries.
type Receipt struct {
	MerchantName  string
	StoreName     string
	StoreAddress  *string
	Number        string
	Terminal      *string
	CashierName   string
	OccurredAt    time.Time
	TimeZone      string
	Currency      string
	Lines         []ReceiptLine
	Subtotal      int64
	DiscountTotal int64
	TaxTotal      int64
	Total         int64
	Tenders       []ReceiptTender
	// Discounts are those rewards and offers granted; they are inside the
	// lines' discounts and DiscountTotal.
	Discounts     []saletype.Discount
	ChangeDue     int64
	RefundedTotal int64
	// PricesIncludeTax says whether the tax is inside the prices.
	PricesIncludeTax bool
}

// ReceiptLine is one item on a receipt.
type ReceiptLine struct {
	Name      string
	Sku       *string
	Quantity  int
	UnitPrice int64
	Discount  int64
	Total     int64
}

// ReceiptTender is one payment on a receipt, the card masked.
type ReceiptTender struct {
	Type      tender.Type
	Label     string
	Amount    int64
	Tendered  *int64
	Change    int64
	Reference *string
}

// Receipt builds the receipt of a sale the caller can see.
func (s *Service) Receipt(ctx context.Context, sl *ent.Sale) (*Receipt, error) {
	receipts, err := s.Receipts(ctx, []*ent.Sale{sl})
	if err != nil {
		return nil, err
	}
	return receipts[0], nil
}

// Receipts builds the receipts of sales the caller can see, in their
// order, with one query for each kind of row they show (merchants, stores,
// cashiers, terminals, lines, tenders) however many sales there are.
func (s *Service) Receipts(ctx context.Context, list []*ent.Sale) ([]*Receipt, error) {
	var merchantIDs, storeIDs, cashierIDs, deviceIDs, saleIDs []pulid.ID
	for _, sl := range list {
		merchantIDs = append(merchantIDs, sl.MerchantID)
		storeIDs = append(storeIDs, sl.StoreID)
		cashierIDs = append(cashierIDs, sl.CashierID)
		if sl.DeviceID != nil {
			deviceIDs = append(deviceIDs, *sl.DeviceID)
		}
		saleIDs = append(saleIDs, sl.ID)
	}
	merchants, err := s.db.Merchant.Query().Where(merchant.IDIn(distinct(merchantIDs)...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading merchants: %w", err)
	}
	stores, err := s.db.Store.Query().Where(store.IDIn(distinct(storeIDs)...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading stores: %w", err)
	}
	cashiers, err := s.db.Staff.Query().Where(staff.IDIn(distinct(cashierIDs)...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading cashiers: %w", err)
	}
	var devices []*ent.Device
	if len(deviceIDs) > 0 {
		if devices, err = s.db.Device.Query().Where(device.IDIn(distinct(deviceIDs)...)).All(ctx); err != nil {
			return nil, fmt.Errorf("loading terminals: %w", err)
		}
	}
	lines, err := s.db.SaleLine.Query().Where(saleline.SaleIDIn(saleIDs...)).
		Order(ent.Asc(saleline.FieldSaleID), ent.Asc(saleline.FieldPosition)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading lines: %w", err)
	}
	tenders, err := s.db.Tender.Query().Where(tender.SaleIDIn(saleIDs...)).Order(ent.Asc(tender.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading tenders: %w", err)
	}
	merchantOf := byID(merchants, func(m *ent.Merchant) pulid.ID { return m.ID })
	storeOf := byID(stores, func(st *ent.Store) pulid.ID { return st.ID })
	cashierOf := byID(cashiers, func(c *ent.Staff) pulid.ID { return c.ID })
	deviceOf := byID(devices, func(d *ent.Device) pulid.ID { return d.ID })
	receipts := make([]*Receipt, len(list))
	index := make(map[pulid.ID]*Receipt, len(list))
	for i, sl := range list {
		m, st, cashier := merchantOf[sl.MerchantID], storeOf[sl.StoreID], cashierOf[sl.CashierID]
		if m == nil || st == nil || cashier == nil {
			return nil, fmt.Errorf("sale %s: its merchant, store or cashier is missing", sl.ID)
		}
		r := &Receipt{
			MerchantName: m.Name, StoreName: st.Name, Number: fmt.Sprintf("%06d", sl.ReceiptNumber),
			CashierName: cashier.Name, OccurredAt: sl.OccurredAt, TimeZone: st.TimeZone, Currency: sl.Currency,
			Subtotal: sl.Subtotal, DiscountTotal: sl.DiscountTotal, TaxTotal: sl.TaxTotal, Total: sl.Total,
			ChangeDue: sl.ChangeDue, RefundedTotal: sl.RefundedTotal, PricesIncludeTax: sl.PricesIncludeTax,
			Discounts: sl.Discounts,
		}
		if st.Address != "" {
			r.StoreAddress = &st.Address
		}
		if sl.DeviceID != nil {
			r.Terminal = terminalName(deviceOf[*sl.DeviceID])
		}
		receipts[i], index[sl.ID] = r, r
	}
	for _, l := range lines {
		rl := ReceiptLine{Name: l.Name, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Discount: l.LineDiscount + l.OrderDiscount, Total: l.Total}
		if l.Sku != "" {
			rl.Sku = &l.Sku
		}
		index[l.SaleID].Lines = append(index[l.SaleID].Lines, rl)
	}
	for _, t := range tenders {
		index[t.SaleID].Tenders = append(index[t.SaleID].Tenders, ReceiptTender{
			Type: t.Type, Label: tenderLabel(t), Amount: t.Amount, Tendered: t.Tendered, Change: t.Change, Reference: t.Reference,
		})
	}
	return receipts, nil
}

// terminalName is how a receipt names the terminal: where it stands in the
// store, or else its serial number; nil when it is no longer there to ask.
func terminalName(d *ent.Device) *string {
	switch {
	case d == nil:
		return nil
	case strings.TrimSpace(d.LocationLabel) != "":
		return &d.LocationLabel
	}
	return &d.SerialNumber
}

// byID indexes rows by their ID.
func byID[T any](rows []T, id func(T) pulid.ID) map[pulid.ID]T {
	out := make(map[pulid.ID]T, len(rows))
	for _, r := range rows {
		out[id(r)] = r
	}
	return out
}

// distinct is ids without repeats.
func distinct(ids []pulid.ID) []pulid.ID {
	slices.Sort(ids)
	return slices.Compact(ids)
}

// tenderLabel names a tender as a slip prints it: "VISA credit •••• 4242",
// "WECHAT_PAY", "Cash".
func tenderLabel(t *ent.Tender) string {
	switch t.Type {
	case tender.TypeCASH:
		return "Cash"
	case tender.TypeCARD:
		parts := []string{strings.ToUpper(ptr.Value(t.CardBrand))}
		if t.CardType != nil {
			parts = append(parts, strings.ToLower(string(*t.CardType)))
		}
		parts = append(parts, "•••• "+ptr.Value(t.CardLast4))
		return strings.TrimSpace(strings.Join(parts, " "))
	case tender.TypeMOBILE_WALLET:
		return string(ptr.Value(t.Wallet))
	case tender.TypeSTORED_VALUE:
		return "Stored value"
	case tender.TypeLOYALTY:
		return "Points"
	case tender.TypeEXCHANGE:
		return "Exchange credit"
	}
	return string(t.Type)
}

// Text renders the receipt for a thermal printer, width characters wide
// (24 to 64). Amounts are in major units of the currency (12.50, or 1250
// for JPY). Text too long for a line wraps at spaces (a word longer than a
// line is cut), so no name, however long, breaks the layout.
func (r *Receipt) Text(width int) (string, error) {
	if width < minTextWidth || width > maxTextWidth {
		return "", errs.Invalid("width", "a receipt is %d to %d characters wide", minTextWidth, maxTextWidth)
	}
	money := moneyFormatter(r.Currency)
	var b strings.Builder
	rule := strings.Repeat("-", width)
	center := func(s string) {
		for _, line := range wrap(s, width) {
			fmt.Fprintf(&b, "%s%s\n", strings.Repeat(" ", (width-utf8.RuneCountInString(line))/2), line)
		}
	}
	// row puts left and right on one line, right aligned, when both fit;
	// otherwise left above right.
	row := func(left, right string) {
		if gap := width - utf8.RuneCountInString(left) - utf8.RuneCountInString(right); gap >= 1 {
			fmt.Fprintf(&b, "%s%s%s\n", left, strings.Repeat(" ", gap), right)
			return
		}
		lefts := []string{left}
		if utf8.RuneCountInString(left) > width {
			lefts = wrap(left, width)
		}
		for _, line := range lefts {
			fmt.Fprintf(&b, "%s\n", line)
		}
		for _, line := range wrap(right, width) {
			fmt.Fprintf(&b, "%s%s\n", strings.Repeat(" ", width-utf8.RuneCountInString(line)), line)
		}
	}
	center(r.MerchantName)
	center(r.StoreName)
	if r.StoreAddress != nil {
		center(*r.StoreAddress)
	}
	b.WriteString(rule + "\n")
	row("Receipt", r.Number)
	loc, err := time.LoadLocation(r.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	row("Date", r.OccurredAt.In(loc).Format("2006-01-02 15:04"))
	row("Cashier", r.CashierName)
	if r.Terminal != nil {
		row("Terminal", *r.Terminal)
	}
	b.WriteString(rule + "\n")
	for _, l := range r.Lines {
		for _, line := range wrap(l.Name, width) {
			fmt.Fprintf(&b, "%s\n", line)
		}
		row(fmt.Sprintf("  %d x %s", l.Quantity, money(l.UnitPrice)), money(int64(l.Quantity)*l.UnitPrice))
		if l.Discount > 0 {
			row("  discount", "-"+money(l.Discount))
		}
	}
	b.WriteString(rule + "\n")
	row("Subtotal", money(r.Subtotal))
	if r.DiscountTotal > 0 {
		row("Discounts", "-"+money(r.DiscountTotal))
	}
	for _, d := range r.Discounts {
		row("  "+d.Label, "-"+money(d.Amount))
	}
	if r.PricesIncludeTax {
		row("Tax (included)", money(r.TaxTotal))
	} else {
		row("Tax", money(r.TaxTotal))
	}
	row("TOTAL "+r.Currency, money(r.Total))
	for _, t := range r.Tenders {
		if t.Tendered != nil {
			row(t.Label, money(*t.Tendered))
		} else {
			row(t.Label, money(t.Amount))
		}
	}
	if r.ChangeDue > 0 {
		row("Change", money(r.ChangeDue))
	}
	if r.RefundedTotal > 0 {
		row("Refunded", "-"+money(r.RefundedTotal))
	}
	b.WriteString(rule + "\n")
	return b.String(), nil
}

// How wide a receipt's text may be, in characters.
const (
	minTextWidth = 24
	maxTextWidth = 64
)

// wrap breaks s into lines of at most width characters at spaces, cutting
// a word longer than a line; an empty s is one empty line.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		for utf8.RuneCountInString(word) > width {
			if line != "" {
				lines, line = append(lines, line), ""
			}
			runes := []rune(word)
			lines, word = append(lines, string(runes[:width])), string(runes[width:])
		}
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
			line += " " + word
		default:
			lines, line = append(lines, line), word
		}
	}
	return append(lines, line)
}

// moneyFormatter formats minor units of an ISO 4217 currency in major
// units with the currency's own number of decimals.
func moneyFormatter(code string) func(int64) string {
	scale := money.Scale(code)
	return func(v int64) string { return money.Format(v, scale) }
}
