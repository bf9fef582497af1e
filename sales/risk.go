package sales

import (
	"context"
	sqldb "database/sql"
	"fmt"
	"time"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/risklistentry"
	"github.com/tillpos/till/ent/salecounter"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/saletype"
	"github.com/tillpos/till/ent/staffday"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
)

// The risk rules, by the names hits and declines carry.
const (
	RuleLargeTicket       = "large_ticket"
	RuleVelocity          = "velocity"
	RuleRefundRatio       = "refund_ratio"
	RuleBlacklistCard     = "blacklist_card"
	RuleBlacklistCustomer = "blacklist_customer"
)

// refundRatioDays is the window of the refund-ratio rule, in business days.
const refundRatioDays = 7

// assessment is what the risk rules look at in a sale.
type assessment struct {
	store    *ent.Store
	cashier  pulid.ID
	total    int64
	tenders  []TenderInput
	customer *ent.Customer
	now      time.Time
}

// assess runs the merchant's risk rules over a sale. It returns the rules
// that matched and flag the sale for review, or RISK_DECLINED naming the
// first rule that declines it.
func assess(ctx context.Context, client *ent.Client, set *ent.SalesSettings, a assessment) ([]saletype.RiskHit, error) {
	rules := []struct {
		action saletype.RiskAction
		check  func() ([]saletype.RiskHit, error)
	}{
		{set.BlacklistAction, func() ([]saletype.RiskHit, error) { return blacklisted(ctx, client, a) }},
		{set.LargeTicketAction, func() ([]saletype.RiskHit, error) { return largeTicket(ctx, client, set, a) }},
		{set.VelocityAction, func() ([]saletype.RiskHit, error) { return velocity(ctx, client, set, a) }},
		{set.RefundRatioAction, func() ([]saletype.RiskHit, error) { return refundRatio(ctx, client, set, a) }},
	}
	var hits []saletype.RiskHit
	for _, r := range rules {
		if r.action == saletype.RiskOff {
			continue
		}
		matched, err := r.check()
		if err != nil {
			return nil, err
		}
		for _, h := range matched {
			h.Action = r.action
			if h.Action == saletype.RiskDecline {
				return nil, errs.Declined(h.Rule, "declined by the merchant's %s rule: %s", h.Rule, h.Detail)
			}
			hits = append(hits, h)
		}
	}
	return hits, nil
}

// flagged reports whether hits put a sale up for review.
func flagged(hits []saletype.RiskHit) bool { return len(hits) > 0 }

// references are the card and wallet references a sale pays with.
func references(tenders []TenderInput) []string {
	var refs []string
	for _, t := range tenders {
		if t.Reference != nil && (t.Type == tender.TypeCARD || t.Type == tender.TypeMOBILE_WALLET) {
			refs = append(refs, *trimmed(t.Reference))
		}
	}
	return refs
}

func blacklisted(ctx context.Context, client *ent.Client, a assessment) ([]saletype.RiskHit, error) {
	var hits []saletype.RiskHit
	if refs := references(a.tenders); len(refs) > 0 {
		listed, err := client.RiskListEntry.Query().
			Where(risklistentry.KindEQ(risklistentry.KindCARD_REFERENCE), risklistentry.ValueIn(refs...)).
			All(ctx)
		if err != nil {
			return nil, fmt.Errorf("checking the risk list: %w", err)
		}
		for _, e := range listed {
			hits = append(hits, saletype.RiskHit{Rule: RuleBlacklistCard, Detail: "reference " + e.Value + " is on the risk list: " + e.Reason})
		}
	}
	if a.customer != nil {
		e, err := client.RiskListEntry.Query().
			Where(risklistentry.KindEQ(risklistentry.KindCUSTOMER), risklistentry.Value(string(a.customer.ID))).
			First(ctx)
		switch {
		case ent.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("checking the risk list: %w", err)
		default:
			hits = append(hits, saletype.RiskHit{Rule: RuleBlacklistCustomer, Detail: "the customer is on the risk list: " + e.Reason})
		}
	}
	return hits, nil
}

// largeTicket matches a sale far above the store's average ticket, once
// the store has enough sales for an average to mean something.
func largeTicket(ctx context.Context, client *ent.Client, set *ent.SalesSettings, a assessment) ([]saletype.RiskHit, error) {
	counter, err := client.SaleCounter.Query().Where(salecounter.StoreID(a.store.ID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the store's figures: %w", err)
	}
	if counter.SalesCount < int64(set.LargeTicketMinSales) || counter.SalesAmount == 0 {
		return nil, nil
	}
	average := counter.SalesAmount / counter.SalesCount
	if a.total <= average*int64(set.LargeTicketFactor) {
		return nil, nil
	}
	return []saletype.RiskHit{{Rule: RuleLargeTicket, Detail: fmt.Sprintf(
		"%d is more than %d times the store's average ticket of %d", a.total, set.LargeTicketFactor, average)}}, nil
}

// velocity matches a card or wallet reference used for too many sales in
// a short window.
func velocity(ctx context.Context, client *ent.Client, set *ent.SalesSettings, a assessment) ([]saletype.RiskHit, error) {
	window := time.Duration(set.VelocityWindowMinutes) * time.Minute
	var hits []saletype.RiskHit
	for _, ref := range references(a.tenders) {
		n, err := client.Tender.Query().
			Where(tender.Reference(ref), tender.CreatedAtGT(a.now.Add(-window))).
			Count(ctx)
		if err != nil {
			return nil, fmt.Errorf("counting uses of a reference: %w", err)
		}
		if n >= set.VelocityMax {
			hits = append(hits, saletype.RiskHit{Rule: RuleVelocity, Detail: fmt.Sprintf(
				"reference %s paid %d sales in the last %d minutes", ref, n, set.VelocityWindowMinutes)})
		}
	}
	return hits, nil
}

// refundRatio matches a sale by a cashier whose refunds over the last week
// are a large share of their sales.
func refundRatio(ctx context.Context, client *ent.Client, set *ent.SalesSettings, a assessment) ([]saletype.RiskHit, error) {
	since := businessDate(a.store, a.now.AddDate(0, 0, -refundRatioDays))
	var sums []struct{ Sales, Refunds sqldb.NullInt64 }
	err := client.StaffDay.Query().
		Where(staffday.StaffID(a.cashier), staffday.BusinessDateGT(since)).
		Aggregate(ent.As(ent.Sum(staffday.FieldSalesAmount), "sales"), ent.As(ent.Sum(staffday.FieldRefundsAmount), "refunds")).
		Scan(ctx, &sums)
	if err != nil {
		return nil, fmt.Errorf("summing the cashier's week: %w", err)
	}
	if len(sums) == 0 {
		return nil, nil
	}
	sales, refunds := sums[0].Sales.Int64, sums[0].Refunds.Int64
	if sales < set.RefundRatioMinSales || sales == 0 || refunds*100 <= sales*int64(set.RefundRatioPercent) {
		return nil, nil
	}
	return []saletype.RiskHit{{Rule: RuleRefundRatio, Detail: fmt.Sprintf(
		"the cashier refunded %d of %d sold in the last %d days, over %d%%", refunds, sales, refundRatioDays, set.RefundRatioPercent)}}, nil
}
