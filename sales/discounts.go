package sales

import (
	"context"
	"fmt"
	"time"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/saletype"
	"github.com/tillpos/till/errs"
)

// Discount is a discount a Discounter grants a sale.
type Discount = saletype.Discount

// Discounter is a domain that grants sales discounts of its own: loyalty
// rewards paid with points, offers. A sale asks each Discounter for the
// discounts of its input before its totals are final, and tells it what it
// granted once the sale is written, in the same transaction.
type Discounter interface {
	// Discounts prices what q asks of this domain, each discount for one
	// line or the whole order, at most what the line or order comes to. An
	// ask it cannot grant is an error naming the input field ("rewards[1]").
	Discounts(ctx context.Context, tx *ent.Tx, q DiscountQuery) ([]Discount, error)
	// Redeem records what the discounts this domain granted take (points,
	// an offer's use), for sale, written in tx.
	Redeem(ctx context.Context, tx *ent.Tx, sale *ent.Sale, granted []Discount) error
}

// DiscountQuery is a sale as priced before other domains' discounts.
type DiscountQuery struct {
	MerchantID pulid.ID
	StoreID    pulid.ID
	// Customer is the sale's customer, locked in the transaction; nil for
	// an anonymous sale.
	Customer *ent.Customer
	// At is when the sale happened.
	At time.Time
	// Offline says the sale happened offline: the terminal gave its
	// discounts already, so a use past a limit (an offer used up
	// meanwhile) is granted with a Flag rather than refused, and the sale
	// is recorded and flagged for review instead of lost.
	Offline bool
	Lines   []DiscountLine
	// Net is what the lines come to after their own discounts and the
	// order discount the terminal gave.
	Net int64
	// Rewards and Offers are what the sale's input asks to redeem.
	Rewards []pulid.ID
	Offers  []pulid.ID
}

// DiscountLine is one line of a DiscountQuery.
type DiscountLine struct {
	ProductID *pulid.ID
	Quantity  int
	UnitPrice int64
	// Net is what the line comes to after its own discount.
	Net int64
}

// grantedDiscount is a discount and the Discounter that granted it.
type grantedDiscount struct {
	Discount
	by Discounter
}

// discounts asks every Discounter for the discounts in's rewards and
// offers ask of c (priced, without them), checks that each fits what it
// discounts, and adds them to c's line and order discounts; c is priced
// again with them. A sale that asks for none asks no domain.
func (s *Service) discounts(ctx context.Context, tx *ent.Tx, c *cart, in SaleInput, q DiscountQuery) ([]grantedDiscount, error) {
	if len(in.Rewards) == 0 && len(in.Offers) == 0 {
		return nil, nil
	}
	if len(s.hooks.Discounters) == 0 {
		field := "rewards"
		if len(in.Rewards) == 0 {
			field = "offers"
		}
		return nil, errs.Invalid(field, "no loyalty program or offers run here")
	}
	q.Rewards, q.Offers = in.Rewards, in.Offers
	q.Lines = make([]DiscountLine, len(c.lines))
	for i, l := range c.lines {
		q.Lines[i] = DiscountLine{ProductID: in.Lines[i].ProductID, Quantity: l.quantity, UnitPrice: l.unitPrice, Net: l.gross() - l.lineDiscount}
	}
	q.Net = c.subtotal - c.lineDiscounts() - c.orderDiscount
	var granted []grantedDiscount
	for _, d := range s.hooks.Discounters {
		ds, err := d.Discounts(ctx, tx, q)
		if err != nil {
			return nil, err
		}
		for _, disc := range ds {
			granted = append(granted, grantedDiscount{Discount: disc, by: d})
		}
	}
	if err := c.grant(granted); err != nil {
		return nil, err
	}
	return granted, nil
}

// grant adds granted discounts to c's line and order discounts and prices
// c again. Together they may take a line or the order down to zero, never
// below.
func (c *cart) grant(granted []grantedDiscount) error {
	field := "rewards"
	for _, g := range granted {
		if g.Kind == saletype.DiscountOffer {
			field = "offers"
		}
		switch {
		case g.Amount <= 0:
			return fmt.Errorf("granting %s %s: amount %d", g.Kind, g.RefID, g.Amount)
		case g.Line == nil:
			c.orderDiscount += g.Amount
		case *g.Line < 0 || *g.Line >= len(c.lines):
			return fmt.Errorf("granting %s %s: no line %d", g.Kind, g.RefID, *g.Line)
		default:
			l := &c.lines[*g.Line]
			if l.lineDiscount+g.Amount > l.gross() {
				return errs.Invalid(field, "%s takes more off line %d than it costs", g.Label, *g.Line)
			}
			l.lineDiscount += g.Amount
		}
	}
	if net := c.subtotal - c.lineDiscounts(); c.orderDiscount > net {
		return errs.Invalid(field, "the discounts come to more than the sale")
	}
	return c.price()
}

// redeem tells each Discounter what it granted sl.
func redeem(ctx context.Context, tx *ent.Tx, sl *ent.Sale, granted []grantedDiscount) error {
	byDomain := map[Discounter][]Discount{}
	var order []Discounter
	for _, g := range granted {
		if _, seen := byDomain[g.by]; !seen {
			order = append(order, g.by)
		}
		byDomain[g.by] = append(byDomain[g.by], g.Discount)
	}
	for _, d := range order {
		if err := d.Redeem(ctx, tx, sl, byDomain[d]); err != nil {
			return err
		}
	}
	return nil
}

// discountHits are the risk hits of discounts granted past their limits
// (offline sales only): each flags the sale for review.
func discountHits(granted []grantedDiscount) []saletype.RiskHit {
	var hits []saletype.RiskHit
	for _, g := range granted {
		if g.Flag != "" {
			hits = append(hits, saletype.RiskHit{Rule: "discount_limit", Action: saletype.RiskFlag, Detail: g.Flag})
		}
	}
	return hits
}

// discountsOf is what a sale keeps of the discounts granted it.
func discountsOf(granted []grantedDiscount) []saletype.Discount {
	if len(granted) == 0 {
		return nil
	}
	out := make([]saletype.Discount, len(granted))
	for i, g := range granted {
		out[i] = g.Discount
	}
	return out
}
