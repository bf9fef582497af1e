package sales

import (
	"fmt"

	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/money"
)

// Limits on a sale's figures. They keep every product of amounts, rates
// and quantities far inside int64.
const (
	maxLines    = 500
	maxTenders  = 20
	maxQuantity = 1_000_000
	// maxAmount is 10^12 minor units: ten billion in a two-decimal currency.
	maxAmount = 1_000_000_000_000
	maxRateBP = 10_000
)

// cartLine is one line as priced: what the client asked for, completed
// from the product, with the server's figures.
type cartLine struct {
	quantity     int
	unitPrice    int64
	lineDiscount int64
	taxRateBP    int

	orderDiscount int64 // this line's share of the order discount
	tax           int64
	total         int64 // what the customer pays for the line
}

// gross is the line at its unit price.
func (l *cartLine) gross() int64 { return int64(l.quantity) * l.unitPrice }

// cart is a sale's lines and the totals the server computes from them.
type cart struct {
	lines            []cartLine
	pricesIncludeTax bool
	orderDiscount    int64

	subtotal      int64
	discountTotal int64
	taxTotal      int64
	total         int64
}

// price checks c's lines and computes every figure: each line's share of
// the order discount (in proportion to what the line costs after its own
// discount, the remainder to the largest lines so the shares add up to the
// discount exactly), its tax (inside the price, or on top of it), and the
// totals. Errors name the input field at fault.
func (c *cart) price() error {
	c.subtotal, c.discountTotal, c.taxTotal, c.total = 0, 0, 0, 0
	for i := range c.lines {
		c.lines[i].orderDiscount, c.lines[i].tax, c.lines[i].total = 0, 0, 0
	}
	if len(c.lines) == 0 {
		return errs.Invalid("lines", "a sale needs at least one line")
	}
	if len(c.lines) > maxLines {
		return errs.Invalid("lines", "a sale has at most %d lines", maxLines)
	}
	var net int64 // after line discounts
	for i := range c.lines {
		l := &c.lines[i]
		field := fmt.Sprintf("lines[%d]", i)
		switch {
		case l.quantity <= 0 || l.quantity > maxQuantity:
			return errs.Invalid(field+".quantity", "quantity must be between 1 and %d", maxQuantity)
		case l.unitPrice < 0 || l.unitPrice > maxAmount:
			return errs.Invalid(field+".unitPrice", "unit price must be between 0 and %d", int64(maxAmount))
		case l.gross() > maxAmount:
			return errs.Invalid(field+".quantity", "the line comes to more than %d", int64(maxAmount))
		case l.lineDiscount < 0 || l.lineDiscount > l.gross():
			return errs.Invalid(field+".lineDiscount", "a line discount is between 0 and the line's amount")
		case l.taxRateBP < 0 || l.taxRateBP > maxRateBP:
			return errs.Invalid(field+".taxRateBp", "a tax rate is between 0 and %d basis points", maxRateBP)
		}
		c.subtotal += l.gross()
		net += l.gross() - l.lineDiscount
	}
	if c.subtotal > maxAmount {
		return errs.Invalid("lines", "the sale comes to more than %d", int64(maxAmount))
	}
	if c.orderDiscount < 0 || c.orderDiscount > net {
		return errs.Invalid("orderDiscount", "the order discount is between 0 and what the lines come to after their discounts")
	}
	c.spreadOrderDiscount(net)
	for i := range c.lines {
		l := &c.lines[i]
		amount := l.gross() - l.lineDiscount - l.orderDiscount
		if c.pricesIncludeTax {
			l.tax = divRound(amount*int64(l.taxRateBP), maxRateBP+int64(l.taxRateBP))
			l.total = amount
		} else {
			l.tax = divRound(amount*int64(l.taxRateBP), maxRateBP)
			l.total = amount + l.tax
		}
		c.discountTotal += l.lineDiscount + l.orderDiscount
		c.taxTotal += l.tax
		c.total += l.total
	}
	return nil
}

// lineDiscounts is what the lines' own discounts take off.
func (c *cart) lineDiscounts() int64 {
	var sum int64
	for _, l := range c.lines {
		sum += l.lineDiscount
	}
	return sum
}

// spreadOrderDiscount shares the order discount over the lines in
// proportion to their amounts after line discounts (net in all). The
// rounded-down shares leave a remainder smaller than the number of lines;
// it goes one unit at a time to the line with the most left to discount
// (the first of equals), so the shares add up to the discount exactly.
func (c *cart) spreadOrderDiscount(net int64) {
	if c.orderDiscount == 0 || net == 0 {
		return
	}
	left := c.orderDiscount
	for i := range c.lines {
		l := &c.lines[i]
		l.orderDiscount = money.MulDiv(l.gross()-l.lineDiscount, c.orderDiscount, net)
		left -= l.orderDiscount
	}
	room := func(l *cartLine) int64 { return l.gross() - l.lineDiscount - l.orderDiscount }
	for ; left > 0; left-- {
		best := -1
		for i := range c.lines {
			if r := room(&c.lines[i]); r > 0 && (best < 0 || r > room(&c.lines[best])) {
				best = i
			}
		}
		c.lines[best].orderDiscount++
	}
}

// divRound is a/b rounded half away from zero, for a ≥ 0 and b > 0.
func divRound(a, b int64) int64 { return (a + b/2) / b }
