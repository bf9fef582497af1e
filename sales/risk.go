package sales

import (
	"context"
	sqldb "database/sql"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/risklistentry"
	"github.com/tillpos/till/ent/sale"
	"github.com/tillpos/till/ent/salecounter"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/saletype"
	"github.com/tillpos/till/ent/staffday"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
)

// The risk rules and the limits, by the names hits and declines carry.
const (
	RuleLargeTicket       = "large_ticket"
	RuleVelocity          = "velocity"
	RuleRefundRatio       = "refund_ratio"
	RuleBlacklistCard     = "blacklist_card"
	RuleBlacklistCustomer = "blacklist_customer"
	// The merchant's limits decline a sale made online; an offline sale
	// over one is recorded and flagged under these names.
	LimitTenderType    = "tender_not_accepted"
	LimitSaleAmount    = "max_sale_amount"
	LimitCustomerDaily = "customer_daily_limit"
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
	// at is when the sale happened (occurredAt), which for an offline
	// sale is long before now.
	at  time.Time
	now time.Time
}

// match is a rule or limit a sale met, and what declining it answers.
type match struct {
	hit     saletype.RiskHit
	refusal error
}

// declined is a sale a risk rule declined. The cashier is told the rule
// only (RISK_DECLINED); the audit entry keeps what it matched, for the
// reviewer.
type declined struct {
	hit saletype.RiskHit
	err *errs.Error
}

func (d *declined) Error() string { return d.err.Error() }
func (d *declined) Unwrap() error { return d.err }

// decide settles what a sale met. A DECLINE refuses the sale with its
// refusal, unless the sale happened offline: the goods and the money have
// changed hands already, and refusing the record would only lose it
// (ARCHITECTURE.md §5), so it is recorded and flagged for review instead.
// It returns the hits stored with the sale.
func decide(matches []match, offline bool) ([]saletype.RiskHit, error) {
	var hits []saletype.RiskHit
	for _, m := range matches {
		if m.hit.Action == saletype.RiskDecline {
			if !offline {
				return nil, m.refusal
			}
			m.hit.Action = saletype.RiskFlag
			m.hit.Detail += " (recorded offline: flagged instead of declined)"
		}
		hits = append(hits, m.hit)
	}
	return hits, nil
}

// assess runs the merchant's risk rules over a sale and returns those it
// met, each with the rule's action.
func assess(ctx context.Context, client *ent.Client, set *ent.SalesSettings, a assessment) ([]match, error) {
	rules := []struct {
		action saletype.RiskAction
		check  func() ([]saletype.RiskHit, error)
	}{
		{set.BlacklistAction, func() ([]saletype.RiskHit, error) { return blacklisted(ctx, client, a) }},
		{set.LargeTicketAction, func() ([]saletype.RiskHit, error) { return largeTicket(ctx, client, set, a) }},
		{set.VelocityAction, func() ([]saletype.RiskHit, error) { return velocity(ctx, client, set, a) }},
		{set.RefundRatioAction, func() ([]saletype.RiskHit, error) { return refundRatio(ctx, client, set, a) }},
	}
	var matches []match
	for _, r := range rules {
		if r.action == saletype.RiskOff {
			continue
		}
		hits, err := r.check()
		if err != nil {
			return nil, err
		}
		for _, h := range hits {
			h.Action = r.action
			matches = append(matches, match{hit: h, refusal: &declined{
				hit: h, err: errs.Declined(h.Rule, "declined by the merchant's %s rule", h.Rule),
			}})
		}
	}
	return matches, nil
}

// saleLimits applies the merchant's limits to a sale: the tender types it
// accepts, the most one sale may come to, and what one customer may spend
// in a business day. Each limit passed is a DECLINE match whose refusal
// is BAD_USER_INPUT.
func saleLimits(ctx context.Context, client *ent.Client, set *ent.SalesSettings, tenders []TenderInput, total int64, cust *ent.Customer, date string) ([]match, error) {
	var matches []match
	limit := func(rule, detail string, refusal *errs.Error) {
		matches = append(matches, match{hit: saletype.RiskHit{Rule: rule, Action: saletype.RiskDecline, Detail: detail}, refusal: refusal})
	}
	for i, t := range tenders {
		if !accepts(set.AcceptedTenders, t.Type) {
			msg := fmt.Sprintf("the merchant does not accept %s", t.Type)
			limit(LimitTenderType, msg, errs.Invalid(fmt.Sprintf("tenders[%d].type", i), "%s", msg))
		}
	}
	if set.MaxSaleAmount != nil && total > *set.MaxSaleAmount {
		msg := fmt.Sprintf("the sale comes to %d, over the merchant's limit of %d for one sale", total, *set.MaxSaleAmount)
		limit(LimitSaleAmount, msg, errs.Newf(errs.BadUserInput, "%s", msg))
	}
	if set.CustomerDailyLimit == nil || cust == nil {
		return matches, nil
	}
	// The customer's row is locked (record takes it first), so two sales
	// at once cannot both fit under the limit.
	var sums []struct{ Sum sqldb.NullInt64 }
	err := client.Sale.Query().
		Where(sale.CustomerID(cust.ID), sale.BusinessDate(date), sale.StatusNEQ(sale.StatusVOIDED)).
		Aggregate(ent.As(ent.Sum(sale.FieldTotal), "sum")).
		Scan(ctx, &sums)
	if err != nil {
		return nil, fmt.Errorf("summing the customer's day: %w", err)
	}
	if spent := db.Sum(sums); spent+total > *set.CustomerDailyLimit {
		msg := fmt.Sprintf("the customer has spent %d that day; this sale would pass the merchant's daily limit of %d per customer", spent, *set.CustomerDailyLimit)
		limit(LimitCustomerDaily, msg, &errs.Error{Code: errs.BadUserInput, Field: "customerId", Message: msg})
	}
	return matches, nil
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
			hits = append(hits, saletype.RiskHit{Rule: RuleBlacklistCard, Detail: "reference " + e.Value + " is on the risk list"})
		}
	}
	if a.customer != nil {
		listed, err := client.RiskListEntry.Query().
			Where(risklistentry.KindEQ(risklistentry.KindCUSTOMER), risklistentry.Value(string(a.customer.ID))).
			Exist(ctx)
		if err != nil {
			return nil, fmt.Errorf("checking the risk list: %w", err)
		}
		if listed {
			hits = append(hits, saletype.RiskHit{Rule: RuleBlacklistCustomer, Detail: "the customer is on the risk list"})
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
// a short window: sales that happened within the window of this one, by
// when they happened (occurredAt), either side of it, so that a batch of
// offline sales uploaded at once, in any order, is judged by the times
// the card was used and not by when the server heard of them.
//
// It counts committed sales, before the store's counter is locked: two
// sales with one card in flight at the same moment (on PostgreSQL; SQLite
// writes one at a time) do not see each other, and both may pass. A
// terminal sends its sales one after another, so only a card used at
// several terminals in the same instant gets one sale per terminal past
// the limit; the next use sees them all.
func velocity(ctx context.Context, client *ent.Client, set *ent.SalesSettings, a assessment) ([]saletype.RiskHit, error) {
	window := time.Duration(set.VelocityWindowMinutes) * time.Minute
	var hits []saletype.RiskHit
	for _, ref := range references(a.tenders) {
		n, err := client.Tender.Query().
			Where(tender.Reference(ref), func(s *sql.Selector) {
				sales := sql.Table(sale.Table)
				s.Join(sales).On(s.C(tender.FieldSaleID), sales.C(sale.FieldID))
				s.Where(sql.And(
					sql.GT(sales.C(sale.FieldOccurredAt), a.at.Add(-window)),
					sql.LT(sales.C(sale.FieldOccurredAt), a.at.Add(window)),
				))
			}).
			Count(ctx)
		if err != nil {
			return nil, fmt.Errorf("counting uses of a reference: %w", err)
		}
		if n >= set.VelocityMax {
			hits = append(hits, saletype.RiskHit{Rule: RuleVelocity, Detail: fmt.Sprintf(
				"reference %s paid %d other sales within %d minutes of this one", ref, n, set.VelocityWindowMinutes)})
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
