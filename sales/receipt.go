package sales

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/currency"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/saleline"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
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
	m, err := s.db.Merchant.Get(ctx, sl.MerchantID)
	if err != nil {
		return nil, fmt.Errorf("loading merchant: %w", err)
	}
	st, err := s.db.Store.Get(ctx, sl.StoreID)
	if err != nil {
		return nil, fmt.Errorf("loading store: %w", err)
	}
	cashier, err := s.db.Staff.Get(ctx, sl.CashierID)
	if err != nil {
		return nil, fmt.Errorf("loading cashier: %w", err)
	}
	lines, err := sl.QueryLines().Order(ent.Asc(saleline.FieldPosition)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading lines: %w", err)
	}
	tenders, err := sl.QueryTenders().Order(ent.Asc(tender.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading tenders: %w", err)
	}
	r := &Receipt{
		MerchantName: m.Name, StoreName: st.Name, Number: fmt.Sprintf("%06d", sl.ReceiptNumber),
		CashierName: cashier.Name, OccurredAt: sl.OccurredAt, TimeZone: st.TimeZone, Currency: sl.Currency,
		Subtotal: sl.Subtotal, DiscountTotal: sl.DiscountTotal, TaxTotal: sl.TaxTotal, Total: sl.Total,
		ChangeDue: sl.ChangeDue, RefundedTotal: sl.RefundedTotal, PricesIncludeTax: sl.PricesIncludeTax,
	}
	if st.Address != "" {
		r.StoreAddress = &st.Address
	}
	if sl.DeviceID != nil {
		terminal := string(*sl.DeviceID)
		r.Terminal = &terminal
	}
	for _, l := range lines {
		rl := ReceiptLine{Name: l.Name, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Discount: l.LineDiscount + l.OrderDiscount, Total: l.Total}
		if l.Sku != "" {
			rl.Sku = &l.Sku
		}
		r.Lines = append(r.Lines, rl)
	}
	for _, t := range tenders {
		r.Tenders = append(r.Tenders, ReceiptTender{
			Type: t.Type, Label: tenderLabel(t), Amount: t.Amount, Tendered: t.Tendered, Change: t.Change, Reference: t.Reference,
		})
	}
	return r, nil
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

// Text renders the receipt for a thermal printer, width characters wide.
// Amounts are in major units of the currency (12.50, or 1250 for JPY).
func (r *Receipt) Text(width int) (string, error) {
	if width < 24 || width > 64 {
		return "", errs.Invalid("width", "a receipt is 24 to 64 characters wide")
	}
	money := moneyFormatter(r.Currency)
	var b strings.Builder
	rule := strings.Repeat("-", width)
	center := func(s string) {
		s = clip(s, width)
		fmt.Fprintf(&b, "%s%s\n", strings.Repeat(" ", (width-utf8.RuneCountInString(s))/2), s)
	}
	row := func(left, right string) {
		left = clip(left, width-utf8.RuneCountInString(right)-1)
		gap := width - utf8.RuneCountInString(left) - utf8.RuneCountInString(right)
		fmt.Fprintf(&b, "%s%s%s\n", left, strings.Repeat(" ", gap), right)
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
		fmt.Fprintf(&b, "%s\n", clip(l.Name, width))
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

// moneyFormatter formats minor units of an ISO 4217 currency in major
// units with the currency's own number of decimals.
func moneyFormatter(code string) func(int64) string {
	scale := 2
	if unit, err := currency.ParseISO(code); err == nil {
		scale, _ = currency.Standard.Rounding(unit)
	}
	return func(v int64) string {
		sign := ""
		if v < 0 {
			sign, v = "-", -v
		}
		if scale == 0 {
			return fmt.Sprintf("%s%d", sign, v)
		}
		pow := int64(1)
		for range scale {
			pow *= 10
		}
		return fmt.Sprintf("%s%d.%0*d", sign, v/pow, scale, v%pow)
	}
}

// clip cuts s to at most n characters.
func clip(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
