package server_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/internal/tilltest"
)

// Stored value through the API: top-ups with the merchant's bonus,
// idempotent retries, paying with the STORED_VALUE tender, refunds and
// voids back to the balance, the ledger, liabilities, merges, exports and
// who may do what.

const (
	svBalanceFields = `balance paidIn bonus updatedAt`
	svEntryFields   = `id kind amount bonusAmount storeID staffID deviceID topUpID saleID tenderID refundID reason createdAt`
	svTopUpFields   = `id idempotencyKey customerID storeID staffID deviceID amount bonus currency change
		bonusTier { minAmount bonus percentBp maxBonus }
		tender { type amount tendered cardType cardBrand cardLast4 wallet reference }`

	svTopUp = `mutation($i: TopUpStoredValueInput!) { topUpStoredValue(input: $i) { replayed
		topUp { ` + svTopUpFields + ` } storedValue { ` + svBalanceFields + ` } } }`
	svAdjust = `mutation($i: AdjustStoredValueInput!) { adjustStoredValue(input: $i) { replayed
		entry { ` + svEntryFields + ` } storedValue { ` + svBalanceFields + ` } } }`
	svSettings = `mutation($i: UpdateStoredValueSettingsInput!) { updateStoredValueSettings(input: $i) {
		storedValueSettings { bonusTiers { minAmount bonus percentBp maxBonus } refundToBalanceAllowed } } }`
	svLiabilities = `{ storedValueLiabilities { currency outstanding paidIn bonus accounts asOf
		byStore { store { id } outstanding paidIn bonus accounts } } }`
	svCustomer = `query($id: ID!) { node(id: $id) { ... on Customer { storedValue { ` + svBalanceFields + `
		entries(first: 100) { totalCount edges { node { ` + svEntryFields + ` } } } } } } }`
)

type svBalance struct {
	Balance   int64
	PaidIn    int64
	Bonus     int64
	UpdatedAt *string
}

type svEntry struct {
	ID          string
	Kind        string
	Amount      int64
	BonusAmount int64
	StoreID     *string
	StaffID     string
	DeviceID    *string
	TopUpID     *string
	SaleID      *string
	TenderID    *string
	RefundID    *string
	Reason      *string
}

type svTier struct {
	MinAmount int64  `json:"minAmount"`
	Bonus     *int64 `json:"bonus,omitempty"`
	PercentBp *int   `json:"percentBp,omitempty"`
	MaxBonus  *int64 `json:"maxBonus,omitempty"`
}

type svTopUpResult struct {
	Replayed bool
	TopUp    struct {
		ID             string
		IdempotencyKey string
		CustomerID     string
		StoreID        string
		StaffID        string
		DeviceID       *string
		Amount         int64
		Bonus          int64
		Currency       string
		Change         int64
		BonusTier      *svTier
		Tender         struct {
			Type      string
			Amount    int64
			Tendered  *int64
			CardType  *string
			CardBrand *string
			CardLast4 *string
			Wallet    *string
			Reference *string
		}
	}
	StoredValue svBalance
}

// svLedger is a customer's stored value and ledger, newest first.
type svLedger struct {
	svBalance
	Entries struct {
		TotalCount int
		Edges      []struct{ Node svEntry }
	}
}

// entries are the ledger's entries, newest first.
func (l svLedger) entries() []svEntry {
	out := []svEntry{}
	for _, e := range l.Entries.Edges {
		out = append(out, e.Node)
	}
	return out
}

// kinds are the ledger's entry kinds, newest first.
func (l svLedger) kinds() []string {
	out := []string{}
	for _, e := range l.entries() {
		out = append(out, e.Kind)
	}
	return out
}

// sum adds up the ledger's amounts and bonus parts.
func (l svLedger) sum() (amount, bonus int64) {
	for _, e := range l.entries() {
		amount += e.Amount
		bonus += e.BonusAmount
	}
	return amount, bonus
}

// svCash is a top-up of amount in cash for customer at store, under a
// fresh key.
func svCash(customer, store string, amount int64) map[string]any {
	return map[string]any{
		"idempotencyKey": saleKey(), "customerId": customer, "storeId": store, "amount": amount,
		"tender": map[string]any{"type": "CASH"},
	}
}

// topUp tops up as the holder of token, failing t on any error.
func (e *saleEnv) topUp(t *testing.T, token string, in map[string]any) svTopUpResult {
	t.Helper()
	var out struct{ TopUpStoredValue svTopUpResult }
	e.Exec(t, token, svTopUp, map[string]any{"i": in}).Decode(t, &out)
	return out.TopUpStoredValue
}

// ledger reads customer's stored value and ledger as the holder of token.
func (e *saleEnv) ledger(t *testing.T, token, customer string) svLedger {
	t.Helper()
	var out struct {
		Node struct{ StoredValue svLedger }
	}
	e.Exec(t, token, svCustomer, map[string]any{"id": customer}).Decode(t, &out)
	return out.Node.StoredValue
}

// svSet changes the stored value settings as the owner.
func (e *saleEnv) svSet(t *testing.T, patch map[string]any) {
	t.Helper()
	e.Exec(t, e.owner.Token, svSettings, map[string]any{"i": patch}).Decode(t, &struct{}{})
}

// requireLedgerAdds checks that l's cached balance and bonus are the sums
// of its entries, and never negative.
func requireLedgerAdds(t *testing.T, l svLedger) {
	t.Helper()
	amount, bonus := l.sum()
	require.Equal(t, l.Balance, amount, "the balance is the sum of the ledger")
	require.Equal(t, l.Bonus, bonus, "the bonus part is the sum of the entries' bonus parts")
	require.Equal(t, l.Balance, l.PaidIn+l.Bonus)
	require.GreaterOrEqual(t, l.Bonus, int64(0))
	require.GreaterOrEqual(t, l.PaidIn, int64(0))
}

func i64(v int64) *int64 { return &v }

func TestStoredValueTopUpWithBonus(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	mei := e.customer(t, e.cashier.Token, "Mei")
	e.svSet(t, map[string]any{"bonusTiers": []any{
		map[string]any{"minAmount": 100000, "percentBp": 1000, "maxBonus": 15000},
		map[string]any{"minAmount": 50000, "bonus": 5000},
	}})

	// Pay 500, get 550: in cash, 700 handed over.
	in := svCash(mei, e.owner.StoreID, 50000)
	in["tender"] = map[string]any{"type": "CASH", "tendered": 70000}
	in["expectedBonus"] = 5000
	r := e.topUp(t, e.cashier.Token, in)
	require.False(t, r.Replayed)
	require.Equal(t, int64(50000), r.TopUp.Amount)
	require.Equal(t, int64(5000), r.TopUp.Bonus)
	require.Equal(t, "CNY", r.TopUp.Currency)
	require.Equal(t, int64(20000), r.TopUp.Change)
	require.Equal(t, "CASH", r.TopUp.Tender.Type)
	require.Equal(t, int64(70000), *r.TopUp.Tender.Tendered)
	require.Equal(t, &svTier{MinAmount: 50000, Bonus: i64(5000)}, r.TopUp.BonusTier, "the tier in force is kept with the top-up")
	require.Equal(t, e.cashier.ID, r.TopUp.StaffID)
	require.Equal(t, e.owner.StoreID, r.TopUp.StoreID)
	require.Nil(t, r.TopUp.DeviceID, "taken in the back office")
	require.Equal(t, svBalance{Balance: 55000, PaidIn: 50000, Bonus: 5000, UpdatedAt: r.StoredValue.UpdatedAt}, r.StoredValue)

	l := e.ledger(t, e.cashier.Token, mei)
	require.Equal(t, []string{"BONUS", "TOP_UP"}, l.kinds(), "newest first; the bonus is an entry of its own")
	require.Equal(t, int64(5000), l.entries()[0].BonusAmount)
	require.Equal(t, int64(0), l.entries()[1].BonusAmount, "the top-up itself is paid money")
	require.Equal(t, r.TopUp.ID, *l.entries()[1].TopUpID)
	requireLedgerAdds(t, l)

	t.Run("a percentage tier, capped; below the first tier no bonus", func(t *testing.T) {
		card := svCash(mei, e.owner.StoreID, 200000)
		card["tender"] = map[string]any{"type": "CARD", "cardType": "DEBIT", "cardBrand": " unionpay ", "cardLast4": "6222", "reference": "ch_9"}
		r := e.topUp(t, e.manager.Token, card)
		require.Equal(t, int64(15000), r.TopUp.Bonus, "10% of 2000 is 200, capped at 150")
		require.Equal(t, "unionpay", *r.TopUp.Tender.CardBrand)
		require.Equal(t, "DEBIT", *r.TopUp.Tender.CardType)
		require.Equal(t, "ch_9", *r.TopUp.Tender.Reference)
		pct := 1000
		require.Equal(t, &svTier{MinAmount: 100000, PercentBp: &pct, MaxBonus: i64(15000)}, r.TopUp.BonusTier)
		wallet := svCash(mei, e.owner.StoreID, 120000)
		wallet["tender"] = map[string]any{"type": "MOBILE_WALLET", "wallet": "ALIPAY", "reference": "2025"}
		require.Equal(t, int64(12000), e.topUp(t, e.cashier.Token, wallet).TopUp.Bonus, "10% of 1200")
		small := e.topUp(t, e.cashier.Token, svCash(mei, e.owner.StoreID, 49999))
		require.Equal(t, int64(0), small.TopUp.Bonus)
		require.Nil(t, small.TopUp.BonusTier)
		l := e.ledger(t, e.cashier.Token, mei)
		require.Equal(t, int64(55000+215000+132000+49999), l.Balance)
		require.Equal(t, int64(5000+15000+12000), l.Bonus)
		requireLedgerAdds(t, l)
	})

	t.Run("a bonus the terminal did not show is refused", func(t *testing.T) {
		e.svSet(t, map[string]any{"bonusTiers": []any{map[string]any{"minAmount": 50000, "bonus": 8000}}})
		before := e.ledger(t, e.owner.Token, mei)
		in := svCash(mei, e.owner.StoreID, 50000)
		in["expectedBonus"] = 5000
		saleWantErr(t, e.Exec(t, e.cashier.Token, svTopUp, map[string]any{"i": in}), "BAD_USER_INPUT", "expectedBonus")
		in["expectedBonus"] = 8000
		require.Equal(t, int64(8000), e.topUp(t, e.cashier.Token, in).TopUp.Bonus, "the tiers in force now")
		require.Equal(t, before.Balance+58000, e.ledger(t, e.owner.Token, mei).Balance)
		var first struct{ Node struct{ Bonus int64 } }
		e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on StoredValueTopUp { bonus } } }`,
			map[string]any{"id": r.TopUp.ID}).Decode(t, &first)
		require.Equal(t, int64(5000), first.Node.Bonus, "an earlier top-up keeps the bonus it got")
	})

	t.Run("bad tenders and amounts are refused and write nothing", func(t *testing.T) {
		before := e.ledger(t, e.owner.Token, mei)
		card := func(changes map[string]any) map[string]any {
			base := map[string]any{"type": "CARD", "cardBrand": "visa", "cardLast4": "4242", "reference": "ch_1"}
			return saleWith(base, changes)
		}
		tests := []struct {
			name   string
			amount int64
			tender map[string]any
			field  string
		}{
			{"a full card number as reference", 1000, card(map[string]any{"reference": "4111 1111 1111 1111"}), "tender.reference"},
			{"a full card number as last four", 1000, card(map[string]any{"cardLast4": "4111111111111111"}), "tender.cardLast4"},
			{"a full card number as brand", 1000, card(map[string]any{"cardBrand": "4111111111111111"}), "tender.cardBrand"},
			{"a card without last four", 1000, card(map[string]any{"cardLast4": nil}), "tender.cardLast4"},
			{"a wallet unnamed", 1000, map[string]any{"type": "MOBILE_WALLET"}, "tender.wallet"},
			{"cash short", 1000, map[string]any{"type": "CASH", "tendered": 999}, "tender.tendered"},
			{"a balance tender", 1000, map[string]any{"type": "STORED_VALUE"}, "tender.type"},
			{"exchange credit", 1000, map[string]any{"type": "EXCHANGE"}, "tender.type"},
			{"nothing", 0, map[string]any{"type": "CASH"}, "amount"},
			{"a negative amount", -100, map[string]any{"type": "CASH"}, "amount"},
			{"too much", 1_000_000_000_001, map[string]any{"type": "CASH"}, "amount"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := svCash(mei, e.owner.StoreID, tt.amount)
				in["tender"] = tt.tender
				saleWantErr(t, e.Exec(t, e.cashier.Token, svTopUp, map[string]any{"i": in}), "BAD_USER_INPUT", tt.field)
			})
		}
		after := e.ledger(t, e.owner.Token, mei)
		require.Equal(t, before.Balance, after.Balance)
		require.Equal(t, before.Entries.TotalCount, after.Entries.TotalCount)
		require.NotContains(t, e.Logs(), "4111111111111111")
	})

	t.Run("a tender type the merchant switched off", func(t *testing.T) {
		e.settings(t, map[string]any{"acceptedTenders": []string{"CASH"}})
		in := svCash(mei, e.owner.StoreID, 1000)
		in["tender"] = map[string]any{"type": "MOBILE_WALLET", "wallet": "WECHAT_PAY"}
		saleWantErr(t, e.Exec(t, e.cashier.Token, svTopUp, map[string]any{"i": in}), "BAD_USER_INPUT", "tender.type")
	})

	t.Run("the event and the audit entry", func(t *testing.T) {
		require.Contains(t, e.outbox(t), "storedvalue.topped_up "+r.TopUp.ID)
		var audit struct {
			AuditEntries struct {
				Edges []struct {
					Node struct {
						Action, TargetID string
						Details          map[string]any
					}
				}
			}
		}
		e.Exec(t, e.owner.Token, `{ auditEntries(where: {action: "storedvalue.topped_up"}, first: 100, orderBy: {field: CREATED_AT}) {
			edges { node { action targetID details } } } }`, nil).Decode(t, &audit)
		require.NotEmpty(t, audit.AuditEntries.Edges)
		first := audit.AuditEntries.Edges[0].Node
		require.Equal(t, mei, first.TargetID)
		require.Equal(t, r.TopUp.ID, first.Details["topUpId"])
	})
}

func TestStoredValueTopUpIdempotent(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	mei := e.customer(t, e.cashier.Token, "Mei")
	e.svSet(t, map[string]any{"bonusTiers": []any{map[string]any{"minAmount": 10000, "bonus": 1000}}})
	in := svCash(mei, e.owner.StoreID, 10000)
	first := e.topUp(t, e.cashier.Token, in)
	again := e.topUp(t, e.cashier.Token, in)
	require.True(t, again.Replayed)
	require.Equal(t, first.TopUp.ID, again.TopUp.ID)
	require.Equal(t, int64(11000), again.StoredValue.Balance, "the retry added nothing")

	changed := saleWith(in, map[string]any{"amount": 20000})
	saleWantErr(t, e.Exec(t, e.cashier.Token, svTopUp, map[string]any{"i": changed}), "IDEMPOTENCY_CONFLICT", "idempotencyKey")
	saleWantErr(t, e.Exec(t, e.cashier.Token, svTopUp, map[string]any{"i": saleWith(in, map[string]any{"idempotencyKey": " "})}),
		"BAD_USER_INPUT", "idempotencyKey")

	t.Run("fifty at once make one top-up", func(t *testing.T) {
		in := svCash(mei, e.owner.StoreID, 10000)
		results := saleParallel(50, func(int) *tilltest.Result {
			return e.Exec(t, e.cashier.Token, svTopUp, map[string]any{"i": in})
		})
		ids := map[string]int{}
		created := 0
		for _, res := range results {
			var out struct{ TopUpStoredValue svTopUpResult }
			res.Decode(t, &out)
			ids[out.TopUpStoredValue.TopUp.ID]++
			if !out.TopUpStoredValue.Replayed {
				created++
			}
		}
		require.Len(t, ids, 1, "every answer names the same top-up")
		require.Equal(t, 1, created, "one answer made it, the others replayed it")
		l := e.ledger(t, e.owner.Token, mei)
		require.Equal(t, int64(22000), l.Balance)
		require.Equal(t, 4, l.Entries.TotalCount)
		requireLedgerAdds(t, l)
	})

	t.Run("another merchant may use the same key", func(t *testing.T) {
		rival := newSaleEnv(t)
		theirs := rival.customer(t, rival.owner.Token, "Jun")
		r := rival.topUp(t, rival.owner.Token, saleWith(in, map[string]any{"customerId": theirs, "storeId": rival.owner.StoreID}))
		require.False(t, r.Replayed)
	})
}

// svSale is a sale of one item of price at store for customer, paid with
// tenders.
func svSale(store, customer string, price int64, tenders ...any) map[string]any {
	in := saleOf(store, []any{saleItem("Tea", 1, price, 0)}, tenders...)
	in["customerId"] = customer
	return in
}

func svTender(amount int64) map[string]any {
	return map[string]any{"type": "STORED_VALUE", "amount": amount}
}

func TestStoredValuePay(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	mei := e.customer(t, e.cashier.Token, "Mei")
	e.topUp(t, e.cashier.Token, svCash(mei, e.owner.StoreID, 10000))

	s := e.record(t, e.cashier.Token, svSale(e.owner.StoreID, mei, 3000, map[string]any{"type": "CASH", "amount": 1000}, svTender(2000)))
	require.Equal(t, "STORED_VALUE", s.Tenders[1].Type)
	l := e.ledger(t, e.cashier.Token, mei)
	require.Equal(t, int64(8000), l.Balance)
	require.Equal(t, []string{"PAYMENT", "TOP_UP"}, l.kinds())
	pay := l.entries()[0]
	require.Equal(t, int64(-2000), pay.Amount)
	require.Equal(t, s.ID, *pay.SaleID)
	require.Equal(t, s.Tenders[1].ID, *pay.TenderID)
	require.Equal(t, e.cashier.ID, pay.StaffID)
	requireLedgerAdds(t, l)

	t.Run("more than the balance is refused and nothing is written", func(t *testing.T) {
		sales := e.list(t, e.owner.Token, nil).TotalCount
		in := svSale(e.owner.StoreID, mei, 9000, map[string]any{"type": "CASH", "amount": 500}, svTender(8500))
		res := saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": in}), "BAD_USER_INPUT", "tenders[1].amount")
		require.Contains(t, res.Message, "8000")
		require.Equal(t, sales, e.list(t, e.owner.Token, nil).TotalCount, "no sale")
		after := e.ledger(t, e.cashier.Token, mei)
		require.Equal(t, int64(8000), after.Balance)
		require.Equal(t, l.Entries.TotalCount, after.Entries.TotalCount, "no entry")
		// The whole balance pays.
		e.record(t, e.cashier.Token, svSale(e.owner.StoreID, mei, 8000, svTender(8000)))
		require.Equal(t, int64(0), e.ledger(t, e.cashier.Token, mei).Balance)
	})

	t.Run("a customer without a balance, or no customer", func(t *testing.T) {
		jun := e.customer(t, e.cashier.Token, "Jun")
		saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": svSale(e.owner.StoreID, jun, 100, svTender(100))}),
			"BAD_USER_INPUT", "tenders[0].amount")
		in := saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 100, 0)}, svTender(100))
		saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": in}), "BAD_USER_INPUT", "tenders[0].type")
	})

	t.Run("an offline upload that would overdraw fails alone", func(t *testing.T) {
		jun := e.customer(t, e.cashier.Token, "Jun")
		e.topUp(t, e.cashier.Token, svCash(jun, e.owner.StoreID, 500))
		var out struct {
			UploadSales struct {
				Results []struct {
					Status string
					Error  *struct{ Code, Field string }
				}
			}
		}
		e.Exec(t, e.cashier.Token, saleUpload, map[string]any{"i": map[string]any{"sales": []any{
			svSale(e.owner.StoreID, jun, 400, svTender(400)),
			svSale(e.owner.StoreID, jun, 400, svTender(400)),
		}}}).Decode(t, &out)
		require.Equal(t, "CREATED", out.UploadSales.Results[0].Status)
		require.Equal(t, "FAILED", out.UploadSales.Results[1].Status)
		require.Equal(t, "BAD_USER_INPUT", out.UploadSales.Results[1].Error.Code)
		require.Equal(t, int64(100), e.ledger(t, e.cashier.Token, jun).Balance)
	})
}

func TestStoredValueRefunds(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	mei := e.customer(t, e.cashier.Token, "Mei")
	e.svSet(t, map[string]any{"bonusTiers": []any{map[string]any{"minAmount": 10000, "bonus": 2500}}})
	e.topUp(t, e.cashier.Token, svCash(mei, e.owner.StoreID, 10000)) // 12500, a fifth of it bonus

	// Three teas paid 1000 in cash and 2000 from the balance: 400 of it bonus money.
	in := saleOf(e.owner.StoreID, []any{saleItem("Tea", 3, 1000, 0)}, map[string]any{"type": "CASH", "amount": 1000}, svTender(2000))
	in["customerId"] = mei
	s := e.record(t, e.cashier.Token, in)
	l := e.ledger(t, e.cashier.Token, mei)
	require.Equal(t, svBalance{Balance: 10500, PaidIn: 8400, Bonus: 2100, UpdatedAt: l.UpdatedAt}, l.svBalance)
	require.Equal(t, int64(-400), l.entries()[0].BonusAmount, "the payment takes bonus money in proportion")

	t.Run("partial refunds back to the balance give back the bonus they took, exactly", func(t *testing.T) {
		sv := s.Tenders[1].ID
		r := e.refund(t, e.cashier.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "cold",
			"amount": 700, "tenders": []any{map[string]any{"tenderId": sv, "type": "STORED_VALUE", "amount": 700}}})
		require.Equal(t, "STORED_VALUE", r.Refund.Tenders[0].Type)
		l := e.ledger(t, e.cashier.Token, mei)
		require.Equal(t, int64(11200), l.Balance)
		back := l.entries()[0]
		require.Equal(t, "REFUND", back.Kind)
		require.Equal(t, int64(700), back.Amount)
		require.Equal(t, int64(140), back.BonusAmount)
		require.Equal(t, r.Refund.ID, *back.RefundID)
		require.Equal(t, sv, *back.TenderID)
		for _, amount := range []int64{333, 967} {
			e.refund(t, e.cashier.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "cold",
				"amount": amount, "tenders": []any{map[string]any{"tenderId": sv, "type": "STORED_VALUE", "amount": amount}}})
		}
		l = e.ledger(t, e.cashier.Token, mei)
		require.Equal(t, svBalance{Balance: 12500, PaidIn: 10000, Bonus: 2500, UpdatedAt: l.UpdatedAt}, l.svBalance,
			"the whole payment back: the balance as it was before the sale")
		requireLedgerAdds(t, l)
		saleWantErr(t, e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID,
			"reason": "again", "amount": 1, "tenders": []any{map[string]any{"tenderId": sv, "type": "STORED_VALUE", "amount": 1}}}}),
			"BAD_USER_INPUT", "tenders[0].amount")
	})

	t.Run("a refund by lines goes back to the tenders in order", func(t *testing.T) {
		s := e.record(t, e.cashier.Token, svSale(e.owner.StoreID, mei, 3000, svTender(3000)))
		e.refund(t, e.cashier.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "spilt",
			"lines": []any{map[string]any{"saleLineId": s.Lines[0].ID, "quantity": 1}}})
		l := e.ledger(t, e.cashier.Token, mei)
		require.Equal(t, int64(12500), l.Balance)
		require.Equal(t, "REFUND", l.entries()[0].Kind)
		requireLedgerAdds(t, l)
	})

	t.Run("a void pays the whole balance tender back", func(t *testing.T) {
		s := e.record(t, e.cashier.Token, svSale(e.owner.StoreID, mei, 4321, map[string]any{"type": "CASH", "amount": 321}, svTender(4000)))
		require.Equal(t, int64(8500), e.ledger(t, e.cashier.Token, mei).Balance)
		v := e.refund(t, e.cashier.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "wrong customer"})
		require.Equal(t, "VOIDED", v.Sale.Status)
		l := e.ledger(t, e.cashier.Token, mei)
		require.Equal(t, svBalance{Balance: 12500, PaidIn: 10000, Bonus: 2500, UpdatedAt: l.UpdatedAt}, l.svBalance)
		require.Equal(t, v.Refund.ID, *l.entries()[0].RefundID)
		requireLedgerAdds(t, l)
	})

	t.Run("refund to balance of a cash sale only when the merchant allows it", func(t *testing.T) {
		jun := e.customer(t, e.cashier.Token, "Jun")
		s := e.record(t, e.cashier.Token, svSale(e.owner.StoreID, jun, 2000, map[string]any{"type": "CASH", "amount": 2000}))
		toBalance := map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "keeps it as credit",
			"amount": 1500, "tenders": []any{map[string]any{"type": "STORED_VALUE", "amount": 1500}}}
		saleWantErr(t, e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": toBalance}), "BAD_USER_INPUT", "tenders")
		require.Equal(t, int64(0), e.list(t, e.owner.Token, map[string]any{"id": s.ID}).Edges[0].Node.RefundedTotal, "nothing written")
		require.Equal(t, 0, e.ledger(t, e.cashier.Token, jun).Entries.TotalCount)

		e.svSet(t, map[string]any{"refundToBalanceAllowed": true})
		r := e.refund(t, e.cashier.Token, saleRefund, toBalance)
		require.Nil(t, r.Refund.Tenders[0].Tender, "no tender of the sale is paid back")
		l := e.ledger(t, e.cashier.Token, jun)
		require.Equal(t, svBalance{Balance: 1500, PaidIn: 1500, UpdatedAt: l.UpdatedAt}, l.svBalance, "the first credit opens the account, as paid money")
		require.Equal(t, []string{"REFUND"}, l.kinds())
		// It pays like any balance.
		e.record(t, e.cashier.Token, svSale(e.owner.StoreID, jun, 1500, svTender(1500)))
		require.Equal(t, int64(0), e.ledger(t, e.cashier.Token, jun).Balance)
	})
}

// Twenty payments from one balance at once, from two terminals, never
// take it below zero: exactly as many as the balance pays go through.
func TestStoredValueConcurrentPayments(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	_, till1 := e.terminal(t, "SV-T1", "")
	_, till2 := e.terminal(t, "SV-T2", "")
	mei := e.customer(t, e.cashier.Token, "Mei")
	e.topUp(t, e.cashier.Token, svCash(mei, e.owner.StoreID, 1000))

	results := saleParallel(20, func(i int) *tilltest.Result {
		token := till1
		if i%2 == 1 {
			token = till2
		}
		return e.Exec(t, token, saleRecord, map[string]any{"i": svSale(e.owner.StoreID, mei, 100, svTender(100))})
	})
	paid := 0
	for _, res := range results {
		if len(res.Errors) == 0 {
			paid++
			continue
		}
		saleWantErr(t, res, "BAD_USER_INPUT", "tenders[0].amount")
	}
	require.Equal(t, 10, paid, "the balance paid ten teas")
	require.Equal(t, 10, e.list(t, e.owner.Token, nil).TotalCount)
	l := e.ledger(t, e.owner.Token, mei)
	require.Equal(t, int64(0), l.Balance)
	require.Equal(t, 11, l.Entries.TotalCount)
	requireLedgerAdds(t, l)
}

func TestStoredValueLiabilities(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	second := e.store(t, e.owner.Token, "Second Street")
	e.svSet(t, map[string]any{"bonusTiers": []any{map[string]any{"minAmount": 10000, "bonus": 1000}}})
	mei, jun, li := e.customer(t, e.owner.Token, "Mei"), e.customer(t, e.owner.Token, "Jun"), e.customer(t, e.owner.Token, "Li")
	e.topUp(t, e.owner.Token, svCash(mei, e.owner.StoreID, 10000))
	e.topUp(t, e.owner.Token, svCash(mei, second, 5000)) // Mei's account stays with the first store
	e.topUp(t, e.owner.Token, svCash(jun, second, 20000))
	e.topUp(t, e.owner.Token, svCash(li, e.owner.StoreID, 3000))
	e.record(t, e.owner.Token, svSale(e.owner.StoreID, li, 3000, svTender(3000))) // Li's is spent

	var out struct {
		StoredValueLiabilities struct {
			Currency    string
			Outstanding int64
			PaidIn      int64
			Bonus       int64
			Accounts    int
			AsOf        string
			ByStore     []struct {
				Store       struct{ ID string }
				Outstanding int64
				PaidIn      int64
				Bonus       int64
				Accounts    int
			}
		}
	}
	e.Exec(t, e.manager.Token, svLiabilities, nil).Decode(t, &out)
	got := out.StoredValueLiabilities
	require.Equal(t, "CNY", got.Currency)
	require.Equal(t, int64(11000+5000+21000), got.Outstanding)
	require.Equal(t, int64(2000), got.Bonus)
	require.Equal(t, got.Outstanding-got.Bonus, got.PaidIn)
	require.Equal(t, 2, got.Accounts, "an account without a balance owes nothing")
	require.NotEmpty(t, got.AsOf)
	byStore := map[string]int64{}
	for _, s := range got.ByStore {
		byStore[s.Store.ID] = s.Outstanding
		require.Equal(t, 1, s.Accounts)
	}
	require.Equal(t, map[string]int64{e.owner.StoreID: 16000, second: 21000}, byStore)

	saleWantErr(t, e.Exec(t, e.cashier.Token, svLiabilities, nil), "FORBIDDEN", "")
	rival := e.SignUp(t, "Rival Tea")
	var theirs struct{ StoredValueLiabilities struct{ Outstanding int64 } }
	e.Exec(t, rival.Token, svLiabilities, nil).Decode(t, &theirs)
	require.Equal(t, int64(0), theirs.StoredValueLiabilities.Outstanding, "another merchant owes nothing of these")
}

func TestStoredValueMerge(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	e.svSet(t, map[string]any{"bonusTiers": []any{map[string]any{"minAmount": 10000, "bonus": 1000}}})
	mei, dup := e.customer(t, e.owner.Token, "Mei"), e.customer(t, e.owner.Token, "Mei W")
	e.topUp(t, e.cashier.Token, svCash(mei, e.owner.StoreID, 10000))
	dupTopUp := e.topUp(t, e.cashier.Token, svCash(dup, e.owner.StoreID, 10000))
	e.record(t, e.cashier.Token, svSale(e.owner.StoreID, dup, 2000, svTender(2000)))

	merge := func(survivor, duplicate string) {
		e.Exec(t, e.manager.Token, `mutation($i: MergeCustomersInput!) { mergeCustomers(input: $i) { customer { id } } }`,
			map[string]any{"i": map[string]any{"survivorId": survivor, "duplicateId": duplicate}}).Decode(t, &struct{}{})
	}
	merge(mei, dup)
	l := e.ledger(t, e.cashier.Token, mei)
	// Mei 11000 (1000 bonus); the duplicate 11000 less 2000 paid, 181 of it bonus money.
	require.Equal(t, svBalance{Balance: 20000, PaidIn: 18181, Bonus: 1819, UpdatedAt: l.UpdatedAt}, l.svBalance, "the balances add up")
	require.Equal(t, 5, l.Entries.TotalCount, "the duplicate's ledger joins the survivor's")
	requireLedgerAdds(t, l)
	gone := e.ledger(t, e.cashier.Token, dup)
	require.Equal(t, int64(0), gone.Balance)
	require.Nil(t, gone.UpdatedAt)
	require.Equal(t, 0, gone.Entries.TotalCount)
	var topUp struct{ Node struct{ CustomerID string } }
	e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on StoredValueTopUp { customerID } } }`,
		map[string]any{"id": dupTopUp.TopUp.ID}).Decode(t, &topUp)
	require.Equal(t, mei, topUp.Node.CustomerID, "the duplicate's top-ups name the survivor")

	// A terminal still holding the duplicate's id pays from the survivor's balance.
	e.record(t, e.cashier.Token, svSale(e.owner.StoreID, dup, 20000, svTender(20000)))
	require.Equal(t, int64(0), e.ledger(t, e.cashier.Token, mei).Balance)

	t.Run("a survivor without an account takes the duplicate's", func(t *testing.T) {
		jun, junDup := e.customer(t, e.owner.Token, "Jun"), e.customer(t, e.owner.Token, "Jun L")
		e.topUp(t, e.cashier.Token, svCash(junDup, e.owner.StoreID, 5000))
		merge(jun, junDup)
		l := e.ledger(t, e.cashier.Token, jun)
		require.Equal(t, int64(5000), l.Balance)
		require.Equal(t, []string{"TOP_UP"}, l.kinds())
	})

	t.Run("the export has the stored value", func(t *testing.T) {
		var out struct {
			ExportCustomerData struct{ Data map[string]json.RawMessage }
		}
		e.Exec(t, e.owner.Token, `mutation($i: CustomerIdInput!) { exportCustomerData(input: $i) { customerId data } }`,
			map[string]any{"i": map[string]any{"customerId": mei}}).Decode(t, &out)
		var sv struct {
			Balance int64
			Entries []struct {
				Kind   string
				Amount int64
			}
			TopUps []struct{ ID string }
		}
		require.NoError(t, json.Unmarshal(out.ExportCustomerData.Data["storedValue"], &sv))
		require.Equal(t, int64(0), sv.Balance)
		require.Len(t, sv.Entries, 6)
		require.Equal(t, "TOP_UP", sv.Entries[0].Kind, "oldest first")
		require.Len(t, sv.TopUps, 2)
	})
}

func TestStoredValueAdjust(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	mei := e.customer(t, e.owner.Token, "Mei")
	e.svSet(t, map[string]any{"bonusTiers": []any{map[string]any{"minAmount": 10000, "bonus": 10000}}})
	e.topUp(t, e.cashier.Token, svCash(mei, e.owner.StoreID, 10000)) // 20000, half bonus

	adjust := func(amount int64, reason string) map[string]any {
		return map[string]any{"idempotencyKey": saleKey(), "customerId": mei, "amount": amount, "reason": reason}
	}
	var out struct {
		AdjustStoredValue struct {
			Replayed    bool
			Entry       svEntry
			StoredValue svBalance
		}
	}
	take := adjust(-3001, "double top-up on the 3rd")
	e.Exec(t, e.owner.Token, svAdjust, map[string]any{"i": take}).Decode(t, &out)
	require.Equal(t, "ADJUST", out.AdjustStoredValue.Entry.Kind)
	require.Equal(t, "double top-up on the 3rd", *out.AdjustStoredValue.Entry.Reason)
	require.Equal(t, int64(-1500), out.AdjustStoredValue.Entry.BonusAmount, "taken from paid and bonus money in proportion, bonus rounded down")
	require.Equal(t, int64(16999), out.AdjustStoredValue.StoredValue.Balance)
	e.Exec(t, e.owner.Token, svAdjust, map[string]any{"i": take}).Decode(t, &out)
	require.True(t, out.AdjustStoredValue.Replayed)
	require.Equal(t, int64(16999), out.AdjustStoredValue.StoredValue.Balance)
	saleWantErr(t, e.Exec(t, e.owner.Token, svAdjust, map[string]any{"i": saleWith(take, map[string]any{"amount": -1})}), "IDEMPOTENCY_CONFLICT", "idempotencyKey")

	e.Exec(t, e.owner.Token, svAdjust, map[string]any{"i": adjust(500, "goodwill")}).Decode(t, &out)
	require.Equal(t, int64(500), out.AdjustStoredValue.Entry.BonusAmount, "money given, not paid in")

	saleWantErr(t, e.Exec(t, e.owner.Token, svAdjust, map[string]any{"i": adjust(-17500, "too much")}), "BAD_USER_INPUT", "amount")
	saleWantErr(t, e.Exec(t, e.owner.Token, svAdjust, map[string]any{"i": adjust(100, " ")}), "BAD_USER_INPUT", "reason")
	saleWantErr(t, e.Exec(t, e.owner.Token, svAdjust, map[string]any{"i": adjust(100, "card 4111 1111 1111 1111")}), "BAD_USER_INPUT", "reason")
	saleWantErr(t, e.Exec(t, e.owner.Token, svAdjust, map[string]any{"i": adjust(0, "nothing")}), "BAD_USER_INPUT", "amount")
	l := e.ledger(t, e.owner.Token, mei)
	require.Equal(t, int64(17499), l.Balance)
	requireLedgerAdds(t, l)

	var audit struct{ AuditEntries struct{ TotalCount int } }
	e.Exec(t, e.owner.Token, `{ auditEntries(where: {action: "storedvalue.adjusted", targetID: "`+mei+`"}) { totalCount } }`, nil).Decode(t, &audit)
	require.Equal(t, 2, audit.AuditEntries.TotalCount)
}

// Who may do what, and another merchant's customers are not there.
func TestStoredValueAccess(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	op := e.Operator(t)
	mei := e.customer(t, e.owner.Token, "Mei")
	second := e.store(t, e.owner.Token, "Second Street")
	tiers := map[string]any{"bonusTiers": []any{map[string]any{"minAmount": 100, "bonus": 10}}}
	adjust := func() map[string]any {
		return map[string]any{"idempotencyKey": saleKey(), "customerId": mei, "amount": 100, "reason": "goodwill"}
	}
	settingsRead := `query($id: ID!) { node(id: $id) { ... on Merchant { storedValueSettings { bonusTiers { minAmount bonus } } } } }`
	balanceRead := `query($id: ID!) { node(id: $id) { ... on Customer { storedValue { balance } } } }`

	type call struct {
		query string
		vars  func() map[string]any
	}
	calls := map[string]call{
		"topUp":          {svTopUp, func() map[string]any { return map[string]any{"i": svCash(mei, e.owner.StoreID, 100)} }},
		"adjust":         {svAdjust, func() map[string]any { return map[string]any{"i": adjust()} }},
		"updateSettings": {svSettings, func() map[string]any { return map[string]any{"i": tiers} }},
		"liabilities":    {svLiabilities, func() map[string]any { return nil }},
		"readSettings":   {settingsRead, func() map[string]any { return map[string]any{"id": e.owner.MerchantID} }},
		"readBalance":    {balanceRead, func() map[string]any { return map[string]any{"id": mei} }},
	}
	allowed := map[string][]string{
		"OWNER":    {"topUp", "adjust", "updateSettings", "liabilities", "readSettings", "readBalance"},
		"MANAGER":  {"topUp", "liabilities", "readSettings", "readBalance"},
		"CASHIER":  {"topUp", "readSettings", "readBalance"},
		"OPERATOR": {},
	}
	tokens := map[string]string{"OWNER": e.owner.Token, "MANAGER": e.manager.Token, "CASHIER": e.cashier.Token, "OPERATOR": op.Token}
	for role, token := range tokens {
		for name, c := range calls {
			t.Run(role+" "+name, func(t *testing.T) {
				res := e.Exec(t, token, c.query, c.vars())
				for _, ok := range allowed[role] {
					if ok == name {
						require.Empty(t, res.Errors, "%s may %s", role, name)
						return
					}
				}
				saleWantErr(t, res, "FORBIDDEN", "")
			})
		}
	}

	t.Run("a store the cashier does not work at", func(t *testing.T) {
		saleWantErr(t, e.Exec(t, e.cashier.Token, svTopUp, map[string]any{"i": svCash(mei, second, 100)}), "FORBIDDEN", "storeId")
		e.topUp(t, e.owner.Token, svCash(mei, second, 100))
	})

	t.Run("a terminal tops up at its own store only, and is recorded", func(t *testing.T) {
		device, till := e.terminal(t, "SV-ACCESS", "")
		r := e.topUp(t, till, svCash(mei, e.owner.StoreID, 100))
		require.Equal(t, device, *r.TopUp.DeviceID)
		l := e.ledger(t, e.owner.Token, mei)
		require.Equal(t, device, *l.entries()[0].DeviceID)
	})

	t.Run("another merchant's customer is not found", func(t *testing.T) {
		rival := e.SignUp(t, "Rival Tea")
		saleWantErr(t, e.Exec(t, rival.Token, svTopUp, map[string]any{"i": svCash(mei, rival.StoreID, 100)}), "NOT_FOUND", "customerId")
		saleWantErr(t, e.Exec(t, rival.Token, svAdjust, map[string]any{"i": adjust()}), "NOT_FOUND", "customerId")
		saleWantErr(t, e.Exec(t, rival.Token, balanceRead, map[string]any{"id": mei}), "NOT_FOUND", "")
		l := e.ledger(t, e.owner.Token, mei)
		res := e.Exec(t, rival.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": l.entries()[0].ID})
		saleWantErr(t, res, "NOT_FOUND", "")
	})
}
