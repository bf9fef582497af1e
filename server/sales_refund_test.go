package server_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/internal/tilltest"
)

// Refunds, voids, exchanges, freezing and the merchant's limits on them.

const saleExchange = `mutation($i: ExchangeSaleInput!) { exchangeSale(input: $i) { replayed
	refund { id kind amount sale { id } exchangeSale { id } tenders { type amount tender { id } } }
	originalSale { ` + saleFields + ` } sale { ` + saleFields + ` } } }`

// saleRefundIn is a refund of sale under a fresh key; fields add to it.
func saleRefundIn(saleID string, fields map[string]any) map[string]any {
	return saleWith(map[string]any{"idempotencyKey": saleKey(), "saleId": saleID, "reason": "customer changed their mind"}, fields)
}

// tenderOf returns the ID of the sale's tender of type typ.
func (s saleSale) tenderOf(typ string) string {
	for _, t := range s.Tenders {
		if t.Type == typ {
			return t.ID
		}
	}
	return ""
}

// refundTenders sums what a refund paid back, by tender type.
func (r saleRefundResult) refundTenders() map[string]int64 {
	out := map[string]int64{}
	for _, t := range r.Refund.Tenders {
		out[t.Type] += t.Amount
	}
	return out
}

// saleExchanged is what exchangeSale answers.
type saleExchanged struct {
	Replayed bool
	Refund   struct {
		ID, Kind     string
		Amount       int64
		Sale         struct{ ID string }
		ExchangeSale struct{ ID string }
		Tenders      []struct {
			Type   string
			Amount int64
		}
	}
	OriginalSale, Sale saleSale
}

// exchange runs exchangeSale as the cashier, failing t on any error.
func (e *saleEnv) exchange(t *testing.T, in map[string]any) saleExchanged {
	t.Helper()
	var out struct{ ExchangeSale saleExchanged }
	e.Exec(t, e.cashier.Token, saleExchange, map[string]any{"i": in}).Decode(t, &out)
	return out.ExchangeSale
}

// One sale refunded in parts: by lines, by amount, by both, never past
// what was paid.
func TestSaleRefundInParts(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	s := e.record(t, e.cashier.Token, saleOf(e.owner.StoreID,
		[]any{saleItem("Tea", 2, 1000, 600), saleItem("Cake", 1, 500, 1300)},
		saleCard(1500, "ch_parts"), map[string]any{"type": "CASH", "amount": 1000}))
	card, cash := s.tenderOf("CARD"), s.tenderOf("CASH")
	tea, cake := s.Lines[0].ID, s.Lines[1].ID
	steps := []struct {
		name          string
		in            map[string]any
		amount, tax   int64
		tenders       map[string]int64
		refunded      int64
		status        string
		code, field   string
		teaQty, cakeQ int
	}{
		{name: "one unit of a line, back to the first tender",
			in:     map[string]any{"lines": []any{map[string]any{"saleLineId": tea, "quantity": 1}}},
			amount: 1000, tax: 56, tenders: map[string]int64{"CARD": 1000}, refunded: 1000, status: "PARTIALLY_REFUNDED", teaQty: 1},
		// The sale's tax is 171 in 2500: tea 113, cake 58.
		{name: "an amount, to a tender named",
			in:     map[string]any{"amount": 300, "tenders": []any{map[string]any{"tenderId": cash, "type": "CASH", "amount": 300}}},
			amount: 300, tax: 20, tenders: map[string]int64{"CASH": 300}, refunded: 1300, status: "PARTIALLY_REFUNDED", teaQty: 1},
		{name: "a line and an amount, over two tenders: the line's tax and the amount's share",
			in:     map[string]any{"lines": []any{map[string]any{"saleLineId": cake, "quantity": 1}}, "amount": 200},
			amount: 700, tax: 58 + 13, tenders: map[string]int64{"CARD": 500, "CASH": 200}, refunded: 2000, status: "PARTIALLY_REFUNDED", teaQty: 1, cakeQ: 1},
		{name: "more than is left", in: map[string]any{"amount": 501}, code: "BAD_USER_INPUT", field: "amount"},
		{name: "more units than are left",
			in:   map[string]any{"lines": []any{map[string]any{"saleLineId": tea, "quantity": 2}}},
			code: "BAD_USER_INPUT", field: "lines[0].quantity"},
		{name: "more than is left on a tender",
			in:   map[string]any{"amount": 100, "tenders": []any{map[string]any{"tenderId": card, "type": "CARD", "amount": 100}}},
			code: "BAD_USER_INPUT", field: "tenders[0].amount"},
		{name: "tenders that do not add up",
			in:   map[string]any{"amount": 100, "tenders": []any{map[string]any{"tenderId": cash, "type": "CASH", "amount": 50}}},
			code: "BAD_USER_INPUT", field: "tenders"},
		{name: "the last unit is worth more than is left",
			in:   map[string]any{"lines": []any{map[string]any{"saleLineId": tea, "quantity": 1}}},
			code: "BAD_USER_INPUT", field: "amount"},
		{name: "the rest", in: map[string]any{"amount": 500},
			amount: 500, tax: 34, tenders: map[string]int64{"CASH": 500}, refunded: 2500, status: "REFUNDED", teaQty: 1, cakeQ: 1},
		{name: "nothing left", in: map[string]any{"amount": 1}, code: "BAD_USER_INPUT", field: "amount"},
	}
	for _, st := range steps {
		in := saleRefundIn(s.ID, st.in)
		if st.code != "" {
			saleWantErr(t, e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": in}), st.code, st.field)
			continue
		}
		r := e.refund(t, e.cashier.Token, saleRefund, in)
		require.Equal(t, "REFUND", r.Refund.Kind, st.name)
		require.Equal(t, st.amount, r.Refund.Amount, st.name)
		if st.tax != 0 {
			require.Equal(t, st.tax, r.Refund.Tax, st.name)
		}
		require.Equal(t, st.tenders, r.refundTenders(), st.name)
		require.Equal(t, st.refunded, r.Sale.RefundedTotal, st.name)
		require.Equal(t, st.status, r.Sale.Status, st.name)
		require.Equal(t, []int{st.teaQty, st.cakeQ}, []int{r.Sale.Lines[0].RefundedQuantity, r.Sale.Lines[1].RefundedQuantity}, st.name)
		var tenders int64
		for _, tn := range r.Sale.Tenders {
			tenders += tn.RefundedAmount
		}
		require.Equal(t, r.Sale.RefundedTotal, tenders, "%s: the tenders carry what was refunded", st.name)
	}
}

func TestSaleRefundRules(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	cardSale := func(t *testing.T) saleSale {
		return e.record(t, e.cashier.Token, saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 1000, 0)}, saleCard(1000, "ch_"+saleKey())))
	}

	t.Run("replayed, and a reused key is a conflict", func(t *testing.T) {
		t.Parallel()
		s := cardSale(t)
		in := saleRefundIn(s.ID, map[string]any{"amount": 400})
		first := e.refund(t, e.cashier.Token, saleRefund, in)
		again := e.refund(t, e.cashier.Token, saleRefund, in)
		require.False(t, first.Replayed)
		require.True(t, again.Replayed)
		require.Equal(t, first.Refund.ID, again.Refund.ID)
		require.Equal(t, int64(400), again.Sale.RefundedTotal, "refunded once")
		saleWantErr(t, e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": saleWith(in, map[string]any{"amount": 300})}),
			"IDEMPOTENCY_CONFLICT", "idempotencyKey")
	})
	t.Run("a reason is required", func(t *testing.T) {
		t.Parallel()
		in := saleRefundIn(cardSale(t).ID, map[string]any{"amount": 100, "reason": " "})
		saleWantErr(t, e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": in}), "BAD_USER_INPUT", "reason")
	})
	t.Run("another merchant's sale", func(t *testing.T) {
		t.Parallel()
		rival := e.SignUp(t, "Rival Tea")
		in := saleRefundIn(cardSale(t).ID, map[string]any{"amount": 100})
		saleWantErr(t, e.Exec(t, rival.Token, saleRefund, map[string]any{"i": in}), "NOT_FOUND", "saleId")
	})
	t.Run("a card sale goes back to the card unless cash refunds are allowed", func(t *testing.T) {
		// Not parallel: it changes the merchant's settings.
		s := cardSale(t)
		toCash := saleRefundIn(s.ID, map[string]any{"amount": 300, "tenders": []any{map[string]any{"type": "CASH", "amount": 300}}})
		saleWantErr(t, e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": toCash}), "BAD_USER_INPUT", "tenders[0].type")
		e.settings(t, map[string]any{"refundToCashAllowed": true})
		r := e.refund(t, e.cashier.Token, saleRefund, toCash)
		require.Equal(t, map[string]int64{"CASH": 300}, r.refundTenders())
		require.Equal(t, int64(0), r.Sale.Tenders[0].RefundedAmount, "the card is untouched")
		e.settings(t, map[string]any{"refundToCashAllowed": false})
	})
}

// Ten refunds of 40% at once: two fit, the others are refused.
func TestSaleRefundConcurrent(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	s := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	results := saleParallel(10, func(int) *tilltest.Result {
		return e.Exec(t, e.manager.Token, saleRefund, map[string]any{"i": saleRefundIn(s.ID, map[string]any{"amount": 400})})
	})
	ok := 0
	for _, res := range results {
		if res.Code() == "" {
			ok++
			continue
		}
		saleWantErr(t, res, "BAD_USER_INPUT", "amount")
	}
	require.Equal(t, 2, ok)
	after := e.list(t, e.owner.Token, map[string]any{"id": s.ID}).Edges[0].Node
	require.Equal(t, int64(800), after.RefundedTotal)
	require.Equal(t, "PARTIALLY_REFUNDED", after.Status)
}

func TestSaleVoid(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	void := func(id string) map[string]any {
		return map[string]any{"idempotencyKey": saleKey(), "saleId": id, "reason": "rang up the wrong item"}
	}

	s := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	r := e.refund(t, e.cashier.Token, saleVoid, void(s.ID))
	require.Equal(t, "VOID", r.Refund.Kind)
	require.Equal(t, int64(1000), r.Refund.Amount)
	require.Equal(t, "VOIDED", r.Sale.Status)
	require.Equal(t, int64(1000), r.Sale.RefundedTotal)

	refunded := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	e.refund(t, e.cashier.Token, saleRefund, saleRefundIn(refunded.ID, map[string]any{"amount": 100}))
	yesterday := e.record(t, e.cashier.Token, saleWith(saleCash(e.owner.StoreID, 1000), map[string]any{"occurredAt": time.Now().Add(-24 * time.Hour)}))

	tests := []struct {
		name  string
		query string
		in    map[string]any
	}{
		{"void a voided sale", saleVoid, void(s.ID)},
		{"refund a voided sale", saleRefund, saleRefundIn(s.ID, map[string]any{"amount": 100})},
		{"void after a partial refund", saleVoid, void(refunded.ID)},
		{"void a sale of an earlier business day", saleVoid, void(yesterday.ID)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saleWantErr(t, e.Exec(t, e.cashier.Token, tt.query, map[string]any{"i": tt.in}), "CONFLICT", "")
		})
	}
	// The earlier day's sale is refunded instead.
	r = e.refund(t, e.cashier.Token, saleRefund, saleRefundIn(yesterday.ID, map[string]any{"amount": 1000}))
	require.Equal(t, "REFUNDED", r.Sale.Status)
}

func TestSaleExchange(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	s := e.record(t, e.cashier.Token, saleOf(e.owner.StoreID,
		[]any{saleItem("Shirt", 1, 5000, 0), saleItem("Socks", 2, 500, 0)}, saleCard(6000, "ch_exchange")))
	shirt, socks := s.Lines[0].ID, s.Lines[1].ID
	// A dearer jacket for the shirt: the shirt's value pays first, the
	// customer pays the difference in cash.
	in := saleRefundIn(s.ID, map[string]any{
		"returnLines": []any{map[string]any{"saleLineId": shirt, "quantity": 1}},
		"newLines":    []any{saleItem("Jacket", 1, 8000, 0)},
		"tenders":     []any{map[string]any{"type": "CASH", "amount": 3000, "tendered": 5000}},
	})
	out := e.exchange(t, in)
	require.False(t, out.Replayed)
	require.Equal(t, "EXCHANGE", out.Refund.Kind)
	require.Equal(t, int64(5000), out.Refund.Amount)
	require.Equal(t, s.ID, out.OriginalSale.ID)
	require.Equal(t, s.ID, out.Refund.Sale.ID)
	require.Equal(t, out.Sale.ID, out.Refund.ExchangeSale.ID)
	require.Equal(t, "PARTIALLY_REFUNDED", out.OriginalSale.Status)
	require.Equal(t, int64(5000), out.OriginalSale.RefundedTotal)
	require.Equal(t, int64(8000), out.Sale.Total)
	require.Equal(t, int64(2000), out.Sale.ChangeDue)
	require.Equal(t, int64(2), out.Sale.ReceiptNumber)
	paid := map[string]int64{}
	for _, tn := range out.Sale.Tenders {
		paid[tn.Type] += tn.Amount
	}
	require.Equal(t, map[string]int64{"EXCHANGE": 5000, "CASH": 3000}, paid)

	again := e.exchange(t, in)
	require.True(t, again.Replayed)
	require.Equal(t, out.Sale.ID, again.Sale.ID)
	require.Equal(t, out.Refund.ID, again.Refund.ID)

	t.Run("tenders that do not pay the difference", func(t *testing.T) {
		bad := saleRefundIn(s.ID, map[string]any{
			"returnLines": []any{map[string]any{"saleLineId": socks, "quantity": 1}},
			"newLines":    []any{saleItem("Belt", 1, 2000, 0)},
			"tenders":     []any{map[string]any{"type": "CASH", "amount": 1000}},
		})
		saleWantErr(t, e.Exec(t, e.cashier.Token, saleExchange, map[string]any{"i": bad}), "BAD_USER_INPUT", "tenders")
		bad["newLines"] = []any{saleItem("Belt", 0, 2000, 0)}
		saleWantErr(t, e.Exec(t, e.cashier.Token, saleExchange, map[string]any{"i": bad}), "BAD_USER_INPUT", "newLines[0].quantity")
	})

	// A cheaper tie for the socks: the tie is paid from their value and the
	// rest goes back to the card.
	out = e.exchange(t, saleRefundIn(s.ID, map[string]any{
		"returnLines": []any{map[string]any{"saleLineId": socks, "quantity": 2}},
		"newLines":    []any{saleItem("Tie", 1, 600, 0)},
	}))
	require.Equal(t, int64(1000), out.Refund.Amount)
	back := map[string]int64{}
	for _, tn := range out.Refund.Tenders {
		back[tn.Type] += tn.Amount
	}
	require.Equal(t, map[string]int64{"EXCHANGE": 600, "CARD": 400}, back)
	require.Equal(t, int64(600), out.Sale.Total)
	require.Equal(t, "REFUNDED", out.OriginalSale.Status)
	require.Equal(t, int64(6000), out.OriginalSale.RefundedTotal)
	require.Equal(t, int64(400), out.OriginalSale.Tenders[0].RefundedAmount, "the card got back what no new item took")
}

func TestSaleFreeze(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	operator := e.Operator(t)
	rival := e.SignUp(t, "Rival Tea")
	s := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	const (
		freeze   = `mutation($i: FreezeSaleInput!) { freezeSale(input: $i) { sale { id frozen frozenReason } } }`
		unfreeze = `mutation($i: FreezeSaleInput!) { unfreezeSale(input: $i) { sale { id frozen frozenReason } } }`
	)
	change := func(t *testing.T, who *tilltest.Account, query string, frozen bool) {
		t.Helper()
		var out map[string]struct{ Sale saleSale }
		e.Exec(t, who.Token, query, map[string]any{"i": map[string]any{"saleId": s.ID, "reason": "chargeback dispute"}}).Decode(t, &out)
		for _, p := range out {
			require.Equal(t, frozen, p.Sale.Frozen)
		}
	}
	for _, refused := range []struct {
		name    string
		who     *tilltest.Account
		code    string
		payload map[string]any
	}{
		{"cashier", e.cashier, "FORBIDDEN", nil},
		{"manager", e.manager, "FORBIDDEN", nil},
		{"another merchant", rival, "NOT_FOUND", nil},
		{"without a reason", e.owner, "BAD_USER_INPUT", map[string]any{"reason": ""}},
	} {
		in := saleWith(map[string]any{"saleId": s.ID, "reason": "dispute"}, refused.payload)
		saleWantErr(t, e.Exec(t, refused.who.Token, freeze, map[string]any{"i": in}), refused.code, "")
	}

	change(t, e.owner, freeze, true)
	for _, q := range []struct {
		query string
		in    map[string]any
	}{
		{saleRefund, saleRefundIn(s.ID, map[string]any{"amount": 100})},
		{saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "oops"}},
	} {
		saleWantErr(t, e.Exec(t, e.owner.Token, q.query, map[string]any{"i": q.in}), "CONFLICT", "")
	}
	change(t, operator, unfreeze, false)
	change(t, operator, freeze, true)
	change(t, e.owner, unfreeze, false)
	r := e.refund(t, e.cashier.Token, saleRefund, saleRefundIn(s.ID, map[string]any{"amount": 100}))
	require.Equal(t, int64(100), r.Sale.RefundedTotal)

	var audit struct {
		AuditEntries struct {
			Edges []struct {
				Node struct {
					Action, ActorKind string
					ActorID           *string
				}
			}
		}
	}
	e.Exec(t, e.owner.Token, `query($w: AuditEntryWhereInput) { auditEntries(where: $w, first: 100, orderBy: {field: CREATED_AT}) {
		edges { node { action actorKind actorID } } } }`,
		map[string]any{"w": map[string]any{"targetID": s.ID, "actionHasPrefix": "sale.", "actionNEQ": "sale.recorded"}}).Decode(t, &audit)
	var got []string
	for _, edge := range audit.AuditEntries.Edges {
		n := edge.Node
		got = append(got, n.Action+" by "+n.ActorKind+" "+deref(n.ActorID))
	}
	require.Equal(t, []string{
		"sale.frozen by STAFF " + e.owner.ID,
		"sale.unfrozen by OPERATOR " + operator.ID,
		"sale.frozen by OPERATOR " + operator.ID,
		"sale.unfrozen by STAFF " + e.owner.ID,
		"sale.refund by STAFF " + e.cashier.ID,
	}, got)
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func TestSaleLimits(t *testing.T) {
	// Limits hold under concurrency too: the cashier's day and the
	// customer are locked while a refund or sale checks them.
	t.Parallel()
	e := newSaleEnv(t)
	e.settings(t, map[string]any{"maxRefundPerCashierDay": 1000, "customerDailyLimit": 2000})

	t.Run("refunds per cashier and day", func(t *testing.T) {
		t.Parallel()
		s := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 3000))
		e.refund(t, e.cashier.Token, saleRefund, saleRefundIn(s.ID, map[string]any{"amount": 600}))
		over := saleRefundIn(s.ID, map[string]any{"amount": 500})
		saleWantErr(t, e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": over}), "FORBIDDEN", "")
		r := e.refund(t, e.manager.Token, saleRefund, over)
		require.Equal(t, int64(1100), r.Sale.RefundedTotal, "a manager is not limited")
		e.refund(t, e.cashier.Token, saleRefund, saleRefundIn(s.ID, map[string]any{"amount": 400}))
	})
	t.Run("refunds per cashier and day, at once", func(t *testing.T) {
		t.Parallel()
		cashier := e.AddStaff(t, e.owner, "CASHIER")
		s := e.record(t, cashier.Token, saleCash(e.owner.StoreID, 5000))
		codes := saleConcurrently(10, func() string {
			return e.Exec(t, cashier.Token, saleRefund, map[string]any{"i": saleRefundIn(s.ID, map[string]any{"amount": 300})}).Code()
		})
		require.Equal(t, map[string]int{"": 3, "FORBIDDEN": 7}, codes, "3 × 300 fit under 1000, a fourth does not")
	})
	t.Run("an exchange pays nothing out", func(t *testing.T) {
		t.Parallel()
		cashier := e.AddStaff(t, e.owner, "CASHIER")
		s := e.record(t, cashier.Token, saleOf(e.owner.StoreID, []any{saleItem("Shirt", 1, 5000, 0)}, saleCard(5000, "ch_limit")))
		e.Exec(t, cashier.Token, saleExchange, map[string]any{"i": saleRefundIn(s.ID, map[string]any{
			"returnLines": []any{map[string]any{"saleLineId": s.Lines[0].ID, "quantity": 1}},
			"newLines":    []any{saleItem("Shirt L", 1, 5000, 0)},
		})}).Decode(t, &struct{}{})
		other := e.record(t, cashier.Token, saleCash(e.owner.StoreID, 3000))
		e.refund(t, cashier.Token, saleRefund, saleRefundIn(other.ID, map[string]any{"amount": 1000}))
	})
	t.Run("what a customer spends in a day, at once", func(t *testing.T) {
		t.Parallel()
		cust := e.customer(t, e.owner.Token, "Lin")
		codes := saleConcurrently(8, func() string {
			in := saleWith(saleCash(e.owner.StoreID, 600), map[string]any{"customerId": cust})
			return e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": in}).Code()
		})
		require.Equal(t, map[string]int{"": 3, "BAD_USER_INPUT": 5}, codes, "3 × 600 fit under 2000, a fourth does not")
	})
	t.Run("what a customer spends in a day", func(t *testing.T) {
		t.Parallel()
		cust := e.customer(t, e.owner.Token, "Mei")
		e.record(t, e.cashier.Token, saleWith(saleCash(e.owner.StoreID, 1500), map[string]any{"customerId": cust}))
		over := saleWith(saleCash(e.owner.StoreID, 600), map[string]any{"customerId": cust})
		saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": over}), "BAD_USER_INPUT", "customerId")
		e.record(t, e.cashier.Token, saleWith(saleCash(e.owner.StoreID, 500), map[string]any{"customerId": cust}))
		e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 600)) // no customer, no limit
	})
}

// A terminal that retries a refund while the first attempt is still being
// written gets that refund back, not a refusal for the money it took.
func TestSaleRefundConcurrentRetries(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	s := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	in := saleRefundIn(s.ID, map[string]any{"amount": 1000})
	results := saleParallel(10, func(int) *tilltest.Result {
		return e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": in})
	})
	ids := map[string]bool{}
	for _, res := range results {
		var out struct{ RefundSale saleRefundResult }
		res.Decode(t, &out)
		ids[out.RefundSale.Refund.ID] = true
		require.Equal(t, int64(1000), out.RefundSale.Sale.RefundedTotal)
	}
	require.Len(t, ids, 1, "one refund, replayed")
}

// Goods bought with exchange credit and returned are refunded in cash,
// against the exchange credit, however the merchant refunds cards.
func TestSaleRefundExchangeCredit(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	s := e.record(t, e.cashier.Token, saleOf(e.owner.StoreID,
		[]any{saleItem("Shirt", 1, 5000, 0), saleItem("Socks", 1, 1000, 0)}, saleCard(6000, "ch_credit")))
	swap := func(line int, newLines []any, tenders ...any) saleSale {
		return e.exchange(t, saleRefundIn(s.ID, map[string]any{
			"returnLines": []any{map[string]any{"saleLineId": s.Lines[line].ID, "quantity": 1}},
			"newLines":    newLines, "tenders": tenders,
		})).Sale
	}
	jacket := swap(0, []any{saleItem("Jacket", 1, 8000, 0)}, map[string]any{"type": "CASH", "amount": 3000})
	tie := swap(1, []any{saleItem("Tie", 1, 600, 0)})
	refundedBy := func(s saleSale) map[string]int64 {
		out := map[string]int64{}
		for _, tn := range s.Tenders {
			out[tn.Type] += tn.RefundedAmount
		}
		return out
	}

	r := e.refund(t, e.cashier.Token, saleRefund, saleRefundIn(tie.ID, map[string]any{"amount": 600}))
	require.Equal(t, map[string]int64{"CASH": 600}, r.refundTenders(), "the tie was paid with credit alone")
	require.Equal(t, map[string]int64{"EXCHANGE": 600}, refundedBy(r.Sale))

	for _, amount := range []int64{2000, 4000, 2000} {
		r = e.refund(t, e.cashier.Token, saleRefund, saleRefundIn(jacket.ID, map[string]any{"amount": amount}))
		require.Equal(t, map[string]int64{"CASH": amount}, r.refundTenders())
	}
	require.Equal(t, "REFUNDED", r.Sale.Status)
	require.Equal(t, map[string]int64{"EXCHANGE": 5000, "CASH": 3000}, refundedBy(r.Sale), "each tender carries what went back against it")
}

// saleConcurrently runs call n times at once and counts the error codes
// ("" for none).
func saleConcurrently(n int, call func() string) map[string]int {
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			code := call()
			mu.Lock()
			defer mu.Unlock()
			codes[code]++
		})
	}
	wg.Wait()
	return codes
}

// Cash without a tender named is refunded against what the sale took in
// cash; the rest of a card sale goes back to the card, not into the
// customer's hand, unless the merchant refunds cards in cash.
func TestSaleRefundToCash(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	s := e.record(t, e.cashier.Token, saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 1000, 0)},
		map[string]any{"type": "CASH", "amount": 1}, saleCard(999, "ch_cash")))
	cash, card := s.tenderOf("CASH"), s.tenderOf("CARD")
	toCash := func(amount int64) map[string]any {
		return saleRefundIn(s.ID, map[string]any{"amount": amount, "tenders": []any{map[string]any{"type": "CASH", "amount": amount}}})
	}

	saleWantErr(t, e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": toCash(1000)}), "BAD_USER_INPUT", "tenders[0].type")
	after := e.list(t, e.owner.Token, map[string]any{"id": s.ID}).Edges[0].Node
	require.Zero(t, after.RefundedTotal)
	require.Zero(t, after.Tenders[1].RefundedAmount, "the card is untouched")

	r := e.refund(t, e.cashier.Token, saleRefund, toCash(1))
	require.Len(t, r.Refund.Tenders, 1)
	require.Equal(t, cash, r.Refund.Tenders[0].Tender.ID, "the cash refund counts against the cash tender")
	require.Equal(t, int64(1), r.Sale.Tenders[0].RefundedAmount)
	saleWantErr(t, e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": toCash(1)}), "BAD_USER_INPUT", "tenders[0].type")

	r = e.refund(t, e.cashier.Token, saleRefund, saleRefundIn(s.ID, map[string]any{"amount": 999}))
	require.Equal(t, card, r.Refund.Tenders[0].Tender.ID)
	require.Equal(t, map[string]int64{"CARD": 999}, r.refundTenders())
	require.Equal(t, "REFUNDED", r.Sale.Status)

	t.Run("allowed by the merchant", func(t *testing.T) {
		e.settings(t, map[string]any{"refundToCashAllowed": true})
		s := e.record(t, e.cashier.Token, saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 1000, 0)},
			map[string]any{"type": "CASH", "amount": 1}, saleCard(999, "ch_cash_ok")))
		r := e.refund(t, e.cashier.Token, saleRefund, saleRefundIn(s.ID, map[string]any{"amount": 1000,
			"tenders": []any{map[string]any{"type": "CASH", "amount": 1000}}}))
		require.Equal(t, map[string]int64{"CASH": 1000}, r.refundTenders())
		require.Len(t, r.Refund.Tenders, 2, "1 against the cash tender, 999 in place of the card")
		require.Equal(t, []int64{1, 0}, []int64{r.Sale.Tenders[0].RefundedAmount, r.Sale.Tenders[1].RefundedAmount})
	})
}

// Refunds made on a terminal carry it; those made elsewhere carry none.
func TestSaleRefundTerminal(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	device, token := e.terminal(t, "SN-REFUND", "")
	s := e.record(t, token, saleCash(e.owner.StoreID, 1000))
	r := e.refund(t, token, saleRefund, saleRefundIn(s.ID, map[string]any{"amount": 300}))
	require.NotNil(t, r.Refund.DeviceID)
	require.Equal(t, device, *r.Refund.DeviceID)
	require.Equal(t, e.owner.StoreID, r.Refund.StoreID)
	r = e.refund(t, e.manager.Token, saleRefund, saleRefundIn(s.ID, map[string]any{"amount": 300}))
	require.Nil(t, r.Refund.DeviceID, "made in the back office")
	v := e.refund(t, token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": e.record(t, token, saleCash(e.owner.StoreID, 500)).ID, "reason": "wrong item"})
	require.Equal(t, device, *v.Refund.DeviceID)
}

// A void replays like any refund; a key used for a void is not a refund's,
// nor the other way round.
func TestSaleVoidIdempotent(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	s := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	void := map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "rang up the wrong item"}
	first := e.refund(t, e.cashier.Token, saleVoid, void)
	again := e.refund(t, e.cashier.Token, saleVoid, void)
	require.False(t, first.Replayed)
	require.True(t, again.Replayed)
	require.Equal(t, first.Refund.ID, again.Refund.ID)
	require.Equal(t, "VOIDED", again.Sale.Status)
	require.Equal(t, int64(1000), again.Sale.RefundedTotal, "voided once")

	asRefund := saleRefundIn(s.ID, map[string]any{"idempotencyKey": void["idempotencyKey"], "reason": void["reason"], "amount": 1000})
	saleWantErr(t, e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": asRefund}), "IDEMPOTENCY_CONFLICT", "idempotencyKey")

	other := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	refund := saleRefundIn(other.ID, map[string]any{"amount": 1000})
	e.refund(t, e.cashier.Token, saleRefund, refund)
	asVoid := map[string]any{"idempotencyKey": refund["idempotencyKey"], "saleId": other.ID, "reason": refund["reason"]}
	saleWantErr(t, e.Exec(t, e.cashier.Token, saleVoid, map[string]any{"i": asVoid}), "IDEMPOTENCY_CONFLICT", "idempotencyKey")
}

// A cashier's refunds (under a refund limit, which locks the cashier's
// day) and their sales to the same customer at the same time all go
// through: both lock the customer before the cashier's day, so neither
// waits on the other in a cycle (a deadlock PostgreSQL would break by
// failing one).
func TestSaleRefundAndSaleLockOrder(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	e.settings(t, map[string]any{"maxRefundPerCashierDay": 1_000_000})
	cust := e.customer(t, e.owner.Token, "Mei")
	const n = 12
	var sold []saleSale
	for range n {
		sold = append(sold, e.record(t, e.cashier.Token, saleWith(saleCash(e.owner.StoreID, 1000), map[string]any{"customerId": cust})))
	}
	results := saleParallel(2*n, func(i int) *tilltest.Result {
		if i%2 == 0 {
			return e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": saleRefundIn(sold[i/2].ID, map[string]any{"amount": 100})})
		}
		return e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": saleWith(saleCash(e.owner.StoreID, 1000), map[string]any{"customerId": cust})})
	})
	for i, res := range results {
		require.Empty(t, res.Errors, "call %d", i)
	}
	var c struct{ Node struct{ TotalSpent int64 } }
	e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on Customer { totalSpent } } }`, map[string]any{"id": cust}).Decode(t, &c)
	require.Equal(t, int64(2*n*1000-n*100), c.Node.TotalSpent)
}

// A full card number typed into a reason or a note is refused, wherever
// it is kept.
func TestSaleReasonsRefuseCardNumbers(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	const pan = "card 4111-1111-1111-1111 declined"
	s := e.record(t, e.cashier.Token, saleOf(e.owner.StoreID, []any{saleItem("Shirt", 1, 5000, 0)}, saleCard(5000, "ch_reasons")))
	other := e.record(t, e.cashier.Token, saleCash(e.owner.StoreID, 1000))
	tests := []struct {
		name, token, query string
		in                 map[string]any
		field              string
	}{
		{"refund", e.cashier.Token, saleRefund, saleRefundIn(s.ID, map[string]any{"amount": 100, "reason": pan}), "reason"},
		{"void", e.cashier.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": pan}, "reason"},
		{"exchange", e.cashier.Token, saleExchange, saleRefundIn(s.ID, map[string]any{"reason": pan,
			"returnLines": []any{map[string]any{"saleLineId": s.Lines[0].ID, "quantity": 1}}, "newLines": []any{saleItem("Shirt L", 1, 5000, 0)}}), "reason"},
		{"exchange note", e.cashier.Token, saleExchange, saleRefundIn(s.ID, map[string]any{"note": pan,
			"returnLines": []any{map[string]any{"saleLineId": s.Lines[0].ID, "quantity": 1}}, "newLines": []any{saleItem("Shirt L", 1, 5000, 0)}}), "note"},
		{"freeze", e.owner.Token, `mutation($i: FreezeSaleInput!) { freezeSale(input: $i) { sale { id } } }`,
			map[string]any{"saleId": s.ID, "reason": pan}, "reason"},
		{"review", e.owner.Token, saleReview, map[string]any{"saleId": other.ID, "outcome": "CLEARED", "note": pan}, "note"},
		{"risk list", e.owner.Token, `mutation($i: AddRiskListEntryInput!) { addRiskListEntry(input: $i) { riskListEntry { id } } }`,
			map[string]any{"kind": "CARD_REFERENCE", "value": "ch_bad", "reason": pan}, "reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := saleWantErr(t, e.Exec(t, tt.token, tt.query, map[string]any{"i": tt.in}), "BAD_USER_INPUT", tt.field)
			require.NotContains(t, err.Message, "1111")
		})
	}
	after := e.list(t, e.owner.Token, map[string]any{"id": s.ID}).Edges[0].Node
	require.Equal(t, []any{"COMPLETED", false, int64(0)}, []any{after.Status, after.Frozen, after.RefundedTotal}, "nothing was written")
	require.NotContains(t, e.Logs(), "4111-1111")
}

// An exchange whose new sale a risk rule declines is audited as a declined
// sale, like any other; the cashier is told the rule and not why the
// customer is on the list.
func TestSaleExchangeDeclineAudited(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	cust := e.customer(t, e.owner.Token, "Lin")
	withCustomer := e.record(t, e.cashier.Token, saleWith(saleOf(e.owner.StoreID, []any{saleItem("Shirt", 1, 5000, 0)}, saleCard(5000, "ch_swap")),
		map[string]any{"customerId": cust}))
	e.Exec(t, e.owner.Token, `mutation($i: AddRiskListEntryInput!) { addRiskListEntry(input: $i) { riskListEntry { id } } }`,
		map[string]any{"i": map[string]any{"kind": "CUSTOMER", "value": cust, "reason": "threatened staff"}}).Decode(t, &struct{}{})
	in := saleRefundIn(withCustomer.ID, map[string]any{
		"returnLines": []any{map[string]any{"saleLineId": withCustomer.Lines[0].ID, "quantity": 1}},
		"newLines":    []any{saleItem("Shirt L", 1, 5000, 0)},
	})
	err := saleWantErr(t, e.Exec(t, e.cashier.Token, saleExchange, map[string]any{"i": in}), "RISK_DECLINED", "")
	require.Equal(t, "blacklist_customer", err.Extensions["rule"])
	require.NotContains(t, err.Message, "threatened")
	var audit struct {
		AuditEntries struct {
			Edges []struct {
				Node struct{ Action, TargetID string }
			}
		}
	}
	e.Exec(t, e.owner.Token, `query($w: AuditEntryWhereInput) { auditEntries(where: $w, first: 10) { edges { node { action targetID } } } }`,
		map[string]any{"w": map[string]any{"action": "sale.declined"}}).Decode(t, &audit)
	require.Len(t, audit.AuditEntries.Edges, 1)
	require.Equal(t, withCustomer.ID, audit.AuditEntries.Edges[0].Node.TargetID, "about the sale the items came back to")
	require.Zero(t, e.list(t, e.owner.Token, map[string]any{"id": withCustomer.ID}).Edges[0].Node.RefundedTotal)
}
