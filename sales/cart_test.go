package sales

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/money"
)

func TestCartPrice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                    string
		lines                   []cartLine
		includeTax              bool
		orderDiscount           int64
		wantSubtotal, wantDisc  int64
		wantTax, wantTotal      int64
		wantShares, wantLineTax []int64
	}{
		{
			name:       "tax inside the price",
			lines:      []cartLine{{quantity: 2, unitPrice: 1800, taxRateBP: 600}},
			includeTax: true,
			// 3600 × 600 / 10600 = 203.77 → 204
			wantSubtotal: 3600, wantTax: 204, wantTotal: 3600,
			wantShares: []int64{0}, wantLineTax: []int64{204},
		},
		{
			name:  "tax on top of the price",
			lines: []cartLine{{quantity: 2, unitPrice: 1800, taxRateBP: 600}},
			// 3600 × 6% = 216
			wantSubtotal: 3600, wantTax: 216, wantTotal: 3816,
			wantShares: []int64{0}, wantLineTax: []int64{216},
		},
		{
			name: "order discount shared in proportion, remainder to the largest line",
			lines: []cartLine{
				{quantity: 1, unitPrice: 1000},
				{quantity: 1, unitPrice: 1000},
				{quantity: 1, unitPrice: 1000},
			},
			includeTax:    true,
			orderDiscount: 100, // 33 each, one unit left: the first of equals
			wantSubtotal:  3000, wantDisc: 100, wantTotal: 2900,
			wantShares: []int64{34, 33, 33}, wantLineTax: []int64{0, 0, 0},
		},
		{
			name: "line discount comes before the order discount",
			lines: []cartLine{
				{quantity: 1, unitPrice: 3000, lineDiscount: 1000},
				{quantity: 2, unitPrice: 500},
			},
			includeTax:    true,
			orderDiscount: 300, // over 2000 and 1000 after line discounts
			wantSubtotal:  4000, wantDisc: 1300, wantTotal: 2700,
			wantShares: []int64{200, 100}, wantLineTax: []int64{0, 0},
		},
		{
			name:         "free line",
			lines:        []cartLine{{quantity: 3, unitPrice: 0, taxRateBP: 1300}},
			wantSubtotal: 0, wantTotal: 0,
			wantShares: []int64{0}, wantLineTax: []int64{0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &cart{lines: tt.lines, pricesIncludeTax: tt.includeTax, orderDiscount: tt.orderDiscount}
			require.NoError(t, c.price())
			require.Equal(t, tt.wantSubtotal, c.subtotal, "subtotal")
			require.Equal(t, tt.wantDisc, c.discountTotal, "discounts")
			require.Equal(t, tt.wantTax, c.taxTotal, "tax")
			require.Equal(t, tt.wantTotal, c.total, "total")
			var shares, taxes []int64
			var lineTotals int64
			for _, l := range c.lines {
				shares = append(shares, l.orderDiscount)
				taxes = append(taxes, l.tax)
				lineTotals += l.total
			}
			require.Equal(t, tt.wantShares, shares, "order discount shares")
			require.Equal(t, tt.wantLineTax, taxes, "line taxes")
			require.Equal(t, c.total, lineTotals, "lines add up to the total")
		})
	}
}

// The order discount's shares always add up to it exactly, whatever the
// lines, and never make a line negative.
func TestCartOrderDiscountAddsUp(t *testing.T) {
	t.Parallel()
	prices := []int64{1, 7, 13, 999, 1001, 33333, 1_000_000_007}
	for n := 1; n <= len(prices); n++ {
		for _, discount := range []int64{1, 2, 3, 10, 99, 12345} {
			c := &cart{orderDiscount: discount, pricesIncludeTax: true}
			for _, p := range prices[:n] {
				c.lines = append(c.lines, cartLine{quantity: 1, unitPrice: p})
			}
			var net int64
			for _, p := range prices[:n] {
				net += p
			}
			if discount > net {
				continue
			}
			require.NoError(t, c.price())
			var shared int64
			for _, l := range c.lines {
				require.GreaterOrEqual(t, l.total, int64(0))
				shared += l.orderDiscount
			}
			require.Equal(t, discount, shared, "lines %d, discount %d", n, discount)
		}
	}
}

func TestCartPriceRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		lines         []cartLine
		orderDiscount int64
		wantField     string
	}{
		{"no lines", nil, 0, "lines"},
		{"zero quantity", []cartLine{{quantity: 0, unitPrice: 1}}, 0, "lines[0].quantity"},
		{"negative price", []cartLine{{quantity: 1, unitPrice: -1}}, 0, "lines[0].unitPrice"},
		{"line too large", []cartLine{{quantity: maxQuantity, unitPrice: maxAmount}}, 0, "lines[0].quantity"},
		{"line discount over the line", []cartLine{{quantity: 1, unitPrice: 100, lineDiscount: 101}}, 0, "lines[0].lineDiscount"},
		{"negative line discount", []cartLine{{quantity: 1, unitPrice: 100, lineDiscount: -1}}, 0, "lines[0].lineDiscount"},
		{"tax rate over 100%", []cartLine{{quantity: 1, unitPrice: 100, taxRateBP: 10001}}, 0, "lines[0].taxRateBp"},
		{"order discount over the lines", []cartLine{{quantity: 1, unitPrice: 100, lineDiscount: 50}}, 51, "orderDiscount"},
		{"negative order discount", []cartLine{{quantity: 1, unitPrice: 100}}, -1, "orderDiscount"},
		{"sale too large", []cartLine{{quantity: 1, unitPrice: maxAmount}, {quantity: 1, unitPrice: 1}}, 0, "lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := (&cart{lines: tt.lines, orderDiscount: tt.orderDiscount}).price()
			e, ok := errs.As(err)
			require.True(t, ok, "want a coded error, got %v", err)
			require.Equal(t, errs.BadUserInput, e.Code)
			require.Equal(t, tt.wantField, e.Field)
		})
	}
}

func TestMulDivPastInt64(t *testing.T) {
	t.Parallel()
	// 10^12 × 10^12 / 10^12 overflows int64 in the product.
	require.Equal(t, int64(maxAmount), money.MulDiv(maxAmount, maxAmount, maxAmount))
	require.Equal(t, int64(333), money.MulDiv(1, 1000, 3))
}

func TestCartGrant(t *testing.T) {
	t.Parallel()
	line := func(i int) *int { return &i }
	priced := func(t *testing.T) *cart {
		t.Helper()
		c := &cart{pricesIncludeTax: true, orderDiscount: 100, lines: []cartLine{
			{quantity: 2, unitPrice: 1200, taxRateBP: 600},
			{quantity: 1, unitPrice: 800},
		}}
		require.NoError(t, c.price())
		return c
	}
	t.Run("a free product and an order discount reprice the sale", func(t *testing.T) {
		c := priced(t)
		require.Equal(t, int64(3100), c.total)
		require.NoError(t, c.grant([]grantedDiscount{
			{Discount: Discount{Kind: "REWARD", Label: "Free tea", Line: line(0), Amount: 1200}},
			{Discount: Discount{Kind: "OFFER", Label: "10% off", Amount: 190}},
		}))
		// Line 0 is 2400 − 1200 = 1200 and line 1 800 before the order's
		// 100 + 190, shared 3:2.
		require.Equal(t, int64(1200), c.lines[0].lineDiscount)
		require.Equal(t, int64(290), c.orderDiscount)
		require.Equal(t, []int64{174, 116}, []int64{c.lines[0].orderDiscount, c.lines[1].orderDiscount})
		require.Equal(t, int64(3200-1200-290), c.total)
		require.Equal(t, int64(1200+290), c.discountTotal)
		require.Equal(t, divRound(1026*600, 10600), c.taxTotal, "the tax follows the discounted line")
	})
	t.Run("a discount beyond its line is refused", func(t *testing.T) {
		err := priced(t).grant([]grantedDiscount{{Discount: Discount{Kind: "REWARD", Label: "Free tea", Line: line(1), Amount: 801}}})
		e, ok := errs.As(err)
		require.True(t, ok, err)
		require.Equal(t, errs.BadUserInput, e.Code)
		require.Equal(t, "rewards", e.Field)
	})
	t.Run("discounts beyond the sale are refused", func(t *testing.T) {
		err := priced(t).grant([]grantedDiscount{{Discount: Discount{Kind: "OFFER", Label: "All free", Amount: 3101}}})
		e, ok := errs.As(err)
		require.True(t, ok, err)
		require.Equal(t, errs.BadUserInput, e.Code)
		require.Equal(t, "offers", e.Field)
	})
}
