package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/internal/tilltest"
)

// Risk rules and the review queue, listing sales, and what sales do to a
// customer's figures.

const saleReview = `mutation($i: ReviewSaleInput!) { reviewSale(input: $i) { sale { id reviewStatus } } }`

// hitRules are the rules a sale's risk hits name, with their actions.
func (s saleSale) hitRules() []string {
	out := []string{}
	for _, h := range s.RiskHits {
		out = append(out, h.Rule+" "+h.Action)
	}
	return out
}

// saleWantDeclined checks that in is declined by rule and that nothing of
// it was written.
func (e *saleEnv) wantDeclined(t *testing.T, in map[string]any, rule string) {
	t.Helper()
	before := e.list(t, e.owner.Token, nil).TotalCount
	err := saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": in}), "RISK_DECLINED", "")
	require.Equal(t, rule, err.Extensions["rule"])
	require.Equal(t, before, e.list(t, e.owner.Token, nil).TotalCount, "no sale was written")
	var audit struct{ AuditEntries struct{ TotalCount int } }
	e.Exec(t, e.owner.Token, `query($w: AuditEntryWhereInput) { auditEntries(where: $w) { totalCount } }`,
		map[string]any{"w": map[string]any{"action": "sale.declined"}}).Decode(t, &audit)
	require.Positive(t, audit.AuditEntries.TotalCount, "the decline is in the audit log")
}

func TestSaleRiskLargeTicket(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	e.settings(t, map[string]any{"largeTicketMinSales": 2, "largeTicketFactor": 2})
	e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	usual := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 2000))
	require.Equal(t, "ALLOW", usual.RiskDecision)
	require.Equal(t, "NONE", usual.ReviewStatus)

	big := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 5000))
	require.Equal(t, "FLAG", big.RiskDecision)
	require.Equal(t, "PENDING", big.ReviewStatus)
	require.Equal(t, []string{"large_ticket FLAG"}, big.hitRules())

	pending := map[string]any{"reviewStatus": "PENDING"}
	require.Equal(t, []string{big.ID}, e.list(t, e.owner.Token, pending).ids(), "the review queue")
	clear := map[string]any{"i": map[string]any{"saleId": big.ID, "outcome": "CLEARED", "note": "regular customer"}}
	for _, who := range []*tilltest.Account{e.cashier, e.manager} {
		saleWantErr(t, e.Exec(t, who.Token, saleReview, clear), "FORBIDDEN", "")
	}
	var out struct{ ReviewSale struct{ Sale saleSale } }
	e.Exec(t, e.owner.Token, saleReview, clear).Decode(t, &out)
	require.Equal(t, "CLEARED", out.ReviewSale.Sale.ReviewStatus)
	require.Empty(t, e.list(t, e.owner.Token, pending).ids(), "the queue is empty")
	saleWantErr(t, e.Exec(t, e.owner.Token, saleReview, clear), "CONFLICT", "")

	e.settings(t, map[string]any{"largeTicketAction": "DECLINE"})
	e.wantDeclined(t, saleCash(e.owner.StoreID, 50000), "large_ticket")
	next := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	require.Equal(t, big.ReceiptNumber+1, next.ReceiptNumber, "a declined sale takes no receipt number")
}

func TestSaleRiskVelocity(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	e.settings(t, map[string]any{"velocityMax": 2, "velocityWindowMinutes": 10})
	card := func(ref string) map[string]any {
		return saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 1000, 0)}, saleCard(1000, ref))
	}
	var rules [][]string
	for range 3 {
		rules = append(rules, e.record(t, e.cashier.Token, card("ch_busy")).hitRules())
	}
	require.Equal(t, [][]string{{}, {}, {"velocity FLAG"}}, rules, "the third use within the window is one too many")
	require.Empty(t, e.record(t, e.cashier.Token, card("ch_other")).hitRules())

	e.settings(t, map[string]any{"velocityAction": "DECLINE"})
	e.wantDeclined(t, card("ch_busy"), "velocity")
}

func TestSaleRiskRefundRatio(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	e.settings(t, map[string]any{"refundRatioMinSales": 1000, "refundRatioPercent": 30})
	s := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	e.refund(t, e.cashier.Token, saleRefund, saleRefundIn(s.ID, map[string]any{"amount": 500}))
	require.Equal(t, []string{"refund_ratio FLAG"}, e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000)).hitRules(),
		"the cashier refunded half of what they sold")
	require.Empty(t, e.record(t, e.manager.Token, saleCash(e.owner.StoreID, 1000)).hitRules(), "the manager refunded nothing")
}

func TestSaleRiskBlacklist(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	cust := e.customer(t, e.owner.Token, "Banned")
	const add = `mutation($i: AddRiskListEntryInput!) { addRiskListEntry(input: $i) { riskListEntry { id kind value } } }`
	entry := func(kind, value string) map[string]any {
		return map[string]any{"i": map[string]any{"kind": kind, "value": value, "reason": "chargebacks"}}
	}
	saleWantErr(t, e.Exec(t, e.cashier.Token, add, entry("CARD_REFERENCE", "ch_stolen")), "FORBIDDEN", "")
	saleWantErr(t, e.Exec(t, e.manager.Token, add, entry("CARD_REFERENCE", "4111 1111 1111 1111")), "BAD_USER_INPUT", "value")
	e.Exec(t, e.manager.Token, add, entry("CARD_REFERENCE", "ch_stolen")).Decode(t, &struct{}{})
	e.Exec(t, e.owner.Token, add, entry("CUSTOMER", cust)).Decode(t, &struct{}{})

	e.wantDeclined(t, saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 1000, 0)}, saleCard(1000, "ch_stolen")), "blacklist_card")
	e.wantDeclined(t, saleWith(saleCash(e.owner.StoreID, 1000), map[string]any{"customerId": cust}), "blacklist_customer")
	// The cashier is told the rule, not why the entry is on the list.
	declined := saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": saleWith(saleCash(e.owner.StoreID, 1000),
		map[string]any{"customerId": cust})}), "RISK_DECLINED", "")
	require.Equal(t, "declined by the merchant's blacklist_customer rule", declined.Message)
	e.record(t, e.cashier.Token, saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 1000, 0)}, saleCard(1000, "ch_fine")))

	e.settings(t, map[string]any{"blacklistAction": "FLAG"})
	flagged := e.record(t, e.cashier.Token, saleWith(saleCash(e.owner.StoreID, 1000), map[string]any{"customerId": cust}))
	require.Equal(t, []string{"blacklist_customer FLAG"}, flagged.hitRules())
	require.Equal(t, "PENDING", flagged.ReviewStatus)
	require.NotContains(t, flagged.RiskHits[0].Detail, "chargebacks", "the sale's hits do not carry the list's reasons")
}

// The sales list: filters, newest first, and who sees what.
func TestSaleList(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	second := *e.owner
	second.StoreID = e.store(t, e.owner.Token, "Second Store")
	cashier2 := e.AddStaff(t, &second, "CASHIER")
	cust := e.customer(t, e.owner.Token, "Mei")
	now := time.Now().UTC()
	at := func(in map[string]any, ago time.Duration) map[string]any {
		return saleWith(in, map[string]any{"occurredAt": now.Add(-ago)})
	}
	s1 := e.record(t, e.cashier.Token, at(saleWith(saleCash(e.owner.StoreID, 1000), map[string]any{"customerId": cust}), 3*time.Hour))
	s2 := e.record(t, e.cashier.Token, at(saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 2000, 0)}, saleCard(2000, "ch_2")), 2*time.Hour))
	s3 := e.record(t, cashier2.Token, at(saleCash(second.StoreID, 3000), time.Hour))
	s4 := e.record(t, e.owner.Token, saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 4000, 0)}, saleCard(4000, "ch_4")))
	e.refund(t, e.owner.Token, saleRefund, saleRefundIn(s4.ID, map[string]any{"amount": 4000}))
	device, terminal := e.terminal(t, "SN-LIST", "")
	s5 := e.record(t, terminal, at(saleCash(e.owner.StoreID, 500), 4*time.Hour))
	rival := e.SignUp(t, "Rival Tea")
	rivalSale := e.record(t, rival.Token, saleCash(rival.StoreID, 500))

	tests := []struct {
		name  string
		who   *tilltest.Account
		where map[string]any
		want  []saleSale
	}{
		{"all, newest first", e.owner, nil, []saleSale{s4, s3, s2, s1, s5}},
		{"by store", e.owner, map[string]any{"storeID": second.StoreID}, []saleSale{s3}},
		{"by cashier", e.owner, map[string]any{"cashierID": e.cashier.ID}, []saleSale{s2, s1, s5}},
		{"by customer", e.owner, map[string]any{"customerID": cust}, []saleSale{s1}},
		{"by status", e.owner, map[string]any{"status": "REFUNDED"}, []saleSale{s4}},
		{"by time", e.owner, map[string]any{"occurredAtGTE": now.Add(-150 * time.Minute), "occurredAtLT": now.Add(-30 * time.Minute)}, []saleSale{s3, s2}},
		{"by total", e.owner, map[string]any{"totalGTE": 1500, "totalLTE": 3000}, []saleSale{s3, s2}},
		{"by tender", e.owner, map[string]any{"hasTendersWith": []any{map[string]any{"type": "CARD"}}}, []saleSale{s4, s2}},
		{"by terminal", e.owner, map[string]any{"deviceID": device}, []saleSale{s5}},
		{"made on a terminal", e.owner, map[string]any{"deviceIDNotNil": true}, []saleSale{s5}},
		{"a cashier sees their stores", e.cashier, nil, []saleSale{s4, s2, s1, s5}},
		{"a manager sees their stores", e.manager, nil, []saleSale{s4, s2, s1, s5}},
		{"the other store's cashier", cashier2, nil, []saleSale{s3}},
		{"another merchant", rival, nil, []saleSale{rivalSale}},
		{"an operator sees every merchant's", e.Operator(t), nil, []saleSale{rivalSale, s4, s3, s2, s1, s5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			want := []string{}
			for _, s := range tt.want {
				want = append(want, s.ID)
			}
			page := e.list(t, tt.who.Token, tt.where)
			require.Equal(t, want, page.ids())
			require.Equal(t, len(want), page.TotalCount)
		})
	}
	t.Run("another merchant's sale by ID", func(t *testing.T) {
		t.Parallel()
		res := e.Exec(t, rival.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": s1.ID})
		var out struct{ Node *struct{ ID string } }
		if res.Code() == "" {
			res.Decode(t, &out)
			require.Nil(t, out.Node)
		} else {
			require.Equal(t, "NOT_FOUND", res.Code())
		}
	})
}

// A customer's visits and spending follow their sales, refunds, voids and
// merges.
func TestSaleCustomerFigures(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	mei, dup := e.customer(t, e.owner.Token, "Mei"), e.customer(t, e.owner.Token, "Mei (duplicate)")
	type figures struct {
		VisitsCount   int
		TotalSpent    int64
		AverageTicket *int64
		FirstVisitAt  *time.Time
		LastVisitAt   *time.Time
		Sales         salePage
	}
	read := func(t *testing.T, id string) figures {
		t.Helper()
		var out struct{ Node figures }
		e.Exec(t, e.cashier.Token, `query($id: ID!) { node(id: $id) { ... on Customer { visitsCount totalSpent averageTicket firstVisitAt lastVisitAt
			sales(first: 50) { totalCount edges { node { id customerID } } } } } }`, map[string]any{"id": id}).Decode(t, &out)
		return out.Node
	}
	requireAt := func(t *testing.T, want time.Time, got *time.Time, what string) {
		t.Helper()
		require.NotNil(t, got, what)
		require.True(t, want.Equal(*got), "%s %s, want %s", what, got, want)
	}
	sale := func(t *testing.T, customer string, total int64, ago time.Duration) saleSale {
		t.Helper()
		in := saleWith(saleCash(e.owner.StoreID, total), map[string]any{"customerId": customer, "occurredAt": time.Now().UTC().Add(-ago).Truncate(time.Second)})
		return e.record(t, e.cashier.Token, in)
	}

	f := read(t, mei)
	require.Nil(t, f.AverageTicket, "no visits, no average")
	require.Nil(t, f.FirstVisitAt)
	require.Nil(t, f.LastVisitAt)

	first := sale(t, mei, 1000, time.Hour)
	f = read(t, mei)
	require.Equal(t, 1, f.VisitsCount)
	require.Equal(t, int64(1000), f.TotalSpent)
	require.Equal(t, int64(1000), *f.AverageTicket)
	requireAt(t, first.OccurredAt, f.FirstVisitAt, "first visit")
	requireAt(t, first.OccurredAt, f.LastVisitAt, "last visit")
	require.Equal(t, []string{first.ID}, f.Sales.ids())

	e.refund(t, e.cashier.Token, saleRefund, saleRefundIn(first.ID, map[string]any{"amount": 300}))
	f = read(t, mei)
	require.Equal(t, []any{1, int64(700), int64(700)}, []any{f.VisitsCount, f.TotalSpent, *f.AverageTicket}, "a refund takes back what was spent")

	voided := sale(t, mei, 500, 30*time.Minute)
	requireAt(t, voided.OccurredAt, read(t, mei).LastVisitAt, "last visit")
	e.refund(t, e.cashier.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": voided.ID, "reason": "wrong customer"})
	f = read(t, mei)
	require.Equal(t, []any{1, int64(700)}, []any{f.VisitsCount, f.TotalSpent}, "a void takes the visit away too")
	requireAt(t, first.OccurredAt, f.LastVisitAt, "after the void, the last visit is the sale before")
	requireAt(t, first.OccurredAt, f.FirstVisitAt, "first visit")
	require.Equal(t, []string{voided.ID, first.ID}, f.Sales.ids(), "newest first")

	other := sale(t, dup, 201, 10*time.Minute)
	e.Exec(t, e.manager.Token, `mutation($i: MergeCustomersInput!) { mergeCustomers(input: $i) { customer { id } } }`,
		map[string]any{"i": map[string]any{"survivorId": mei, "duplicateId": dup}}).Decode(t, &struct{}{})
	f = read(t, mei)
	require.Equal(t, []any{2, int64(901)}, []any{f.VisitsCount, f.TotalSpent})
	require.Equal(t, int64(451), *f.AverageTicket, "450.5 rounds up")
	requireAt(t, other.OccurredAt, f.LastVisitAt, "the duplicate's later visit")
	require.Equal(t, []string{other.ID, voided.ID, first.ID}, f.Sales.ids(), "the duplicate's sales moved to the survivor")
	require.Equal(t, mei, *f.Sales.Edges[0].Node.CustomerID)
	gone := read(t, dup)
	require.Zero(t, gone.Sales.TotalCount)
	require.Nil(t, gone.AverageTicket)

	// A terminal that still knows the duplicate sells to the survivor.
	late := sale(t, dup, 100, 0)
	require.Equal(t, mei, *late.CustomerID)
	f = read(t, mei)
	require.Equal(t, int64(1001), f.TotalSpent)
	require.Equal(t, int64(334), *f.AverageTicket, "333.67 rounds to 334")

	// Voiding the older of two sales moves the first visit up; voiding
	// the other leaves no visit at all.
	twice := e.customer(t, e.owner.Token, "Twice")
	older, newer := sale(t, twice, 900, 20*time.Minute), sale(t, twice, 400, 5*time.Minute)
	e.refund(t, e.cashier.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": older.ID, "reason": "test"})
	f = read(t, twice)
	require.Equal(t, []any{1, int64(400), int64(400)}, []any{f.VisitsCount, f.TotalSpent, *f.AverageTicket})
	requireAt(t, newer.OccurredAt, f.FirstVisitAt, "first visit after voiding the older sale")
	requireAt(t, newer.OccurredAt, f.LastVisitAt, "last visit")
	e.refund(t, e.cashier.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": newer.ID, "reason": "test"})
	f = read(t, twice)
	require.Zero(t, f.VisitsCount)
	require.Zero(t, f.TotalSpent)
	require.Nil(t, f.AverageTicket)
	require.Nil(t, f.FirstVisitAt, "no visit is left")
	require.Nil(t, f.LastVisitAt)
}

// A customer's sales, like the sales list, show a cashier or manager the
// sales of the stores they work at, the owner all; the figures are the
// customer's, from every store.
func TestSaleCustomerSalesByStore(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	second := *e.owner
	second.StoreID = e.store(t, e.owner.Token, "Second Store")
	cashier2 := e.AddStaff(t, &second, "CASHIER")
	cust := e.customer(t, e.owner.Token, "Mei")
	here := e.record(t, e.cashier.Token, saleWith(saleCash(e.owner.StoreID, 1000), map[string]any{"customerId": cust}))
	there := e.record(t, cashier2.Token, saleWith(saleCash(second.StoreID, 3000), map[string]any{"customerId": cust, "occurredAt": time.Now().UTC().Add(time.Second)}))

	for _, tt := range []struct {
		name string
		who  *tilltest.Account
		want []string
	}{
		{"owner", e.owner, []string{there.ID, here.ID}},
		{"manager of the first store", e.manager, []string{here.ID}},
		{"cashier of the first store", e.cashier, []string{here.ID}},
		{"cashier of the second store", cashier2, []string{there.ID}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out struct {
				Node struct {
					VisitsCount int
					TotalSpent  int64
					Sales       salePage
				}
			}
			e.Exec(t, tt.who.Token, `query($id: ID!) { node(id: $id) { ... on Customer { visitsCount totalSpent
				sales { totalCount edges { node { id } } } } } }`, map[string]any{"id": cust}).Decode(t, &out)
			require.Equal(t, tt.want, out.Node.Sales.ids())
			require.Equal(t, len(tt.want), out.Node.Sales.TotalCount)
			require.Equal(t, []any{2, int64(4000)}, []any{out.Node.VisitsCount, out.Node.TotalSpent})
		})
	}
}

// Sales of one customer recorded at once, at several stores (whose
// receipt counters do not queue them), in any order of their times, add
// up: every visit and amount counts, and first and last visit are the
// oldest and newest sale, whichever committed last.
func TestSaleCustomerFiguresConcurrent(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	stores := []string{e.owner.StoreID}
	for i := range 3 {
		stores = append(stores, e.store(t, e.owner.Token, fmt.Sprint("Store ", i+2)))
	}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for round := range 3 {
		cust := e.customer(t, e.owner.Token, fmt.Sprint("Busy ", round))
		const n = 8
		// Times descending, so later requests carry older sales.
		results := saleParallel(n, func(i int) *tilltest.Result {
			in := saleWith(saleCash(stores[i%len(stores)], int64(100*(i+1))), map[string]any{
				"customerId": cust, "occurredAt": base.Add(time.Duration(n-i) * time.Minute),
			})
			return e.Exec(t, e.owner.Token, saleRecord, map[string]any{"i": in})
		})
		for _, res := range results {
			res.Decode(t, &struct{}{})
		}
		var out struct {
			Node struct {
				VisitsCount               int
				TotalSpent                int64
				FirstVisitAt, LastVisitAt time.Time
			}
		}
		e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on Customer { visitsCount totalSpent firstVisitAt lastVisitAt } } }`,
			map[string]any{"id": cust}).Decode(t, &out)
		require.Equal(t, n, out.Node.VisitsCount)
		require.Equal(t, int64(100*n*(n+1)/2), out.Node.TotalSpent)
		require.True(t, base.Add(time.Minute).Equal(out.Node.FirstVisitAt), "first visit %s", out.Node.FirstVisitAt)
		require.True(t, base.Add(n*time.Minute).Equal(out.Node.LastVisitAt), "last visit %s", out.Node.LastVisitAt)
	}
}

// Staff who work at some of the merchant's stores see those stores' sales
// and refunds only, however they ask: by ID, in a list, through an edge;
// and may not refund another store's sale. Checks a sale makes across the
// merchant (an idempotency key, a customer's day) still see every store.
func TestSaleStoreScope(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	e.settings(t, map[string]any{"customerDailyLimit": 2000})
	second := *e.owner
	second.StoreID = e.store(t, e.owner.Token, "Second Store")
	there := e.AddStaff(t, &second, "CASHIER")
	cust := e.customer(t, e.owner.Token, "Mei")
	elsewhere := e.record(t, there.Token, saleWith(saleCash(second.StoreID, 1500), map[string]any{"customerId": cust}))
	refund := e.refund(t, there.Token, saleRefund, saleRefundIn(elsewhere.ID, map[string]any{"amount": 100}))
	here := e.record(t, e.cashier.Token, saleWith(saleCash(e.owner.StoreID, 100), map[string]any{"customerId": cust}))

	const node = `query($id: ID!) { node(id: $id) { id } }`
	for _, who := range []*tilltest.Account{e.cashier, e.manager} {
		for _, id := range []string{elsewhere.ID, refund.Refund.ID} {
			saleWantErr(t, e.Exec(t, who.Token, node, map[string]any{"id": id}), "NOT_FOUND", "")
		}
		var c struct {
			Node struct {
				Sales struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
		}
		e.Exec(t, who.Token, `query($id: ID!) { node(id: $id) { ... on Customer { sales(first: 10) { edges { node { id } } } } } }`,
			map[string]any{"id": cust}).Decode(t, &c)
		require.Len(t, c.Node.Sales.Edges, 1, "the customer's history shows the caller's stores")
		require.Equal(t, here.ID, c.Node.Sales.Edges[0].Node.ID)
	}
	saleWantErr(t, e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": saleRefundIn(elsewhere.ID, map[string]any{"amount": 100})}), "NOT_FOUND", "saleId")
	saleWantErr(t, e.Exec(t, e.cashier.Token, saleVoid, map[string]any{"i": map[string]any{"idempotencyKey": saleKey(), "saleId": elsewhere.ID, "reason": "x"}}), "NOT_FOUND", "saleId")

	// Both stores: the owner, and the cashier who works there.
	for _, who := range []*tilltest.Account{e.owner, there} {
		var out struct {
			Node *struct {
				ID      string
				Refunds []struct{ ID string }
			}
		}
		e.Exec(t, who.Token, `query($id: ID!) { node(id: $id) { id ... on Sale { refunds { id } } } }`, map[string]any{"id": elsewhere.ID}).Decode(t, &out)
		require.Equal(t, []struct{ ID string }{{refund.Refund.ID}}, out.Node.Refunds)
	}

	// The key of the other store's sale is still taken, and the
	// customer's spending there still counts towards their daily limit.
	reused := saleWith(saleCash(e.owner.StoreID, 100), map[string]any{"idempotencyKey": elsewhere.IdempotencyKey})
	saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": reused}), "IDEMPOTENCY_CONFLICT", "idempotencyKey")
	over := saleWith(saleCash(e.owner.StoreID, 600), map[string]any{"customerId": cust})
	saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": over}), "BAD_USER_INPUT", "customerId")
}
