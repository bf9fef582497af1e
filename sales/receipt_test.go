package sales

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
)

func TestReceiptText(t *testing.T) {
	t.Parallel()
	address, sku, tendered := "88 Nanjing Road", "JT-01", int64(10000)
	r := &Receipt{
		MerchantName: "Lotus Tea", StoreName: "Lotus Tea Bund", StoreAddress: &address,
		Number: "000042", CashierName: "Mei", OccurredAt: time.Date(2026, 11, 23, 6, 5, 0, 0, time.UTC),
		TimeZone: "Asia/Shanghai", Currency: "CNY", PricesIncludeTax: true,
		Lines: []ReceiptLine{
			{Name: "Jasmine tea", Sku: &sku, Quantity: 2, UnitPrice: 1800, Discount: 200, Total: 3400},
			{Name: "A very long name for a cake that does not fit", Quantity: 1, UnitPrice: 2500, Total: 2500},
		},
		Subtotal: 6100, DiscountTotal: 200, TaxTotal: 334, Total: 5900,
		Tenders: []ReceiptTender{
			{Type: tender.TypeCARD, Label: "VISA credit •••• 4242", Amount: 900},
			{Type: tender.TypeCASH, Label: "Cash", Amount: 5000, Tendered: &tendered, Change: 5000},
		},
		ChangeDue: 5000,
	}
	text, err := r.Text(32)
	require.NoError(t, err)
	require.Equal(t, ``+
		`           Lotus Tea
         Lotus Tea Bund
        88 Nanjing Road
--------------------------------
Receipt                   000042
Date            2026-11-23 14:05
Cashier                      Mei
--------------------------------
Jasmine tea
  2 x 18.00                36.00
  discount                 -2.00
A very long name for a cake that
does not fit
  1 x 25.00                25.00
--------------------------------
Subtotal                   61.00
Discounts                  -2.00
Tax (included)              3.34
TOTAL CNY                  59.00
VISA credit •••• 4242       9.00
Cash                      100.00
Change                     50.00
--------------------------------
`, text)

	for _, width := range []int{23, 65} {
		_, err = r.Text(width)
		e, ok := errs.As(err)
		require.True(t, ok, "width %d: %v", width, err)
		require.Equal(t, "width", e.Field)
	}
}

// Whatever the names, every line fits the paper: long ones wrap, a word
// longer than a line is cut, an amount that does not fit beside its label
// goes under it.
func TestReceiptTextNarrow(t *testing.T) {
	t.Parallel()
	terminal := "Counter by the window, left of the door"
	r := &Receipt{
		MerchantName: "The Extraordinarily Long Named Tea Merchant of Shanghai", StoreName: "Bund",
		Number: "000042", CashierName: "Maximiliana Evangelina Montgomery-Featherstonehaugh", Terminal: &terminal,
		OccurredAt: time.Date(2026, 11, 23, 6, 5, 0, 0, time.UTC), TimeZone: "Asia/Shanghai", Currency: "CNY",
		Lines:    []ReceiptLine{{Name: "Supercalifragilisticexpialidocious-oolong", Quantity: 100000, UnitPrice: 99999999, Total: 9999999900000}},
		Subtotal: 9999999900000, Total: 9999999900000,
		Tenders: []ReceiptTender{{Type: tender.TypeCARD, Label: "MASTERCARD credit •••• 4444", Amount: 9999999900000}},
	}
	for _, width := range []int{24, 32, 64} {
		text, err := r.Text(width)
		require.NoError(t, err)
		for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			require.LessOrEqual(t, utf8.RuneCountInString(line), width, "width %d: %q", width, line)
		}
		for _, want := range []string{"Montgomery-", "window", "99999999000.00", "MASTERCARD credit"} {
			require.Contains(t, text, want, "width %d", width)
		}
	}
	text, err := r.Text(24)
	require.NoError(t, err)
	require.Contains(t, text, "Cashier\n  Maximiliana Evangelina\n", "a name too long for the row goes under its label")
	require.Contains(t, text, "\n  100000 x 999999.99\n          99999999000.00\n")
}

func TestWrap(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"a bb", "ccc"}, wrap("a bb ccc", 4))
	require.Equal(t, []string{"abcd", "ef g"}, wrap("abcdef g", 4))
	require.Equal(t, []string{""}, wrap("  ", 4))
}

func TestMoneyFormatter(t *testing.T) {
	t.Parallel()
	require.Equal(t, "12.50", moneyFormatter("CNY")(1250))
	require.Equal(t, "0.05", moneyFormatter("USD")(5))
	require.Equal(t, "-3.00", moneyFormatter("EUR")(-300))
	require.Equal(t, "1250", moneyFormatter("JPY")(1250))
	require.Equal(t, "1.250", moneyFormatter("KWD")(1250))
}
