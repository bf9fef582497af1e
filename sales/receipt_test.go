package sales

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/ent/tender"
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

	_, err = r.Text(10)
	require.Error(t, err)
}

func TestMoneyFormatter(t *testing.T) {
	t.Parallel()
	require.Equal(t, "12.50", moneyFormatter("CNY")(1250))
	require.Equal(t, "0.05", moneyFormatter("USD")(5))
	require.Equal(t, "-3.00", moneyFormatter("EUR")(-300))
	require.Equal(t, "1250", moneyFormatter("JPY")(1250))
	require.Equal(t, "1.250", moneyFormatter("KWD")(1250))
}
