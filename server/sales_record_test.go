package server_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/internal/tilltest"
)

// recordSale: the server's figures, what it refuses, idempotent retries,
// receipt numbers, offline uploads and the printed receipt.

func TestSaleRecordTotals(t *testing.T) {
	t.Parallel()
	type line struct{ orderDiscount, tax, total int64 }
	tests := []struct {
		name     string
		settings map[string]any
		in       func(store string) map[string]any
		// want: subtotal, discountTotal, taxTotal, total, changeDue
		subtotal, discounts, tax, total, change int64
		lines                                   []line
		pricesIncludeTax                        bool
	}{
		{
			// Tea 2 × 10.00 at 6% less 1.00, cake 5.00 at 13%, 1.00 off the
			// order: the order discount goes 79/20 by amount, the odd unit to
			// the larger line; the tax is inside the prices.
			name: "tax included, line and order discounts, cash change",
			in: func(store string) map[string]any {
				in := saleOf(store, []any{
					map[string]any{"name": "Tea", "quantity": 2, "unitPrice": 1000, "taxRateBp": 600, "lineDiscount": 100},
					saleItem("Cake", 1, 500, 1300),
				}, map[string]any{"type": "CASH", "amount": 2300, "tendered": 3000})
				in["orderDiscount"], in["expectedTotal"] = 100, 2300
				return in
			},
			subtotal: 2500, discounts: 200, tax: 158, total: 2300, change: 700, pricesIncludeTax: true,
			lines: []line{{80, 103, 1820}, {20, 55, 480}},
		},
		{
			name:     "tax on top of the prices",
			settings: map[string]any{"pricesIncludeTax": false},
			in: func(store string) map[string]any {
				in := saleOf(store, []any{
					map[string]any{"name": "Tea", "quantity": 2, "unitPrice": 1000, "taxRateBp": 600, "lineDiscount": 100},
					saleItem("Cake", 1, 500, 1300),
				}, map[string]any{"type": "CASH", "amount": 2471})
				in["orderDiscount"], in["expectedTotal"] = 100, 2471
				return in
			},
			subtotal: 2500, discounts: 200, tax: 171, total: 2471,
			lines: []line{{80, 109, 1929}, {20, 62, 542}},
		},
		{
			name: "equal lines share an order discount exactly",
			in: func(store string) map[string]any {
				in := saleOf(store, []any{saleItem("A", 1, 100, 0), saleItem("B", 1, 100, 0), saleItem("C", 1, 100, 0)},
					map[string]any{"type": "CASH", "amount": 200})
				in["orderDiscount"] = 100
				return in
			},
			subtotal: 300, discounts: 100, total: 200, pricesIncludeTax: true,
			lines: []line{{34, 0, 66}, {33, 0, 67}, {33, 0, 67}},
		},
		{
			name: "split over cash, card and wallet",
			in: func(store string) map[string]any {
				return saleOf(store, []any{saleItem("Set", 3, 1000, 600)},
					map[string]any{"type": "CASH", "amount": 500, "tendered": 1000},
					saleCard(1500, "ch_split"),
					map[string]any{"type": "MOBILE_WALLET", "amount": 1000, "wallet": "WECHAT_PAY", "reference": "4200001234567890123456789012"})
			},
			subtotal: 3000, tax: 170, total: 3000, change: 500, pricesIncludeTax: true,
			lines: []line{{0, 170, 3000}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newSaleEnv(t)
			if tt.settings != nil {
				e.settings(t, tt.settings)
			}
			in := tt.in(e.owner.StoreID)
			s := e.record(t, e.cashier.Token, in)
			require.Equal(t, []int64{tt.subtotal, tt.discounts, tt.tax, tt.total, tt.change},
				[]int64{s.Subtotal, s.DiscountTotal, s.TaxTotal, s.Total, s.ChangeDue}, "subtotal, discounts, tax, total, change")
			require.Equal(t, tt.pricesIncludeTax, s.PricesIncludeTax)
			require.Equal(t, "COMPLETED", s.Status)
			require.Equal(t, e.cashier.ID, s.CashierID)
			got := []line{}
			var shares int64
			for _, l := range s.Lines {
				got = append(got, line{l.OrderDiscount, l.Tax, l.Total})
				shares += l.OrderDiscount
			}
			require.Equal(t, tt.lines, got, "each line's order discount, tax and total")
			require.Equal(t, s.OrderDiscount, shares, "the shares add up to the order discount")
			var paid int64
			for _, tn := range s.Tenders {
				paid += tn.Amount
			}
			require.Equal(t, s.Total, paid, "the tenders pay the total")
			require.Len(t, s.Tenders, len(in["tenders"].([]any)))
		})
	}
}

func TestSaleRecordRefused(t *testing.T) {
	t.Parallel()
	base := newSaleEnv(t)
	now := time.Now().UTC()
	card := func(changes map[string]any) map[string]any { return saleWith(saleCard(1000, "ch_1"), changes) }
	tests := []struct {
		name     string
		settings map[string]any
		tenders  []any // instead of exact cash
		changes  map[string]any
		code     string
		field    string
	}{
		{name: "expected total differs", changes: map[string]any{"expectedTotal": 999}, code: "BAD_USER_INPUT", field: "expectedTotal"},
		{name: "tenders pay too little", tenders: []any{map[string]any{"type": "CASH", "amount": 900}}, code: "BAD_USER_INPUT", field: "tenders"},
		{name: "tenders pay too much", tenders: []any{map[string]any{"type": "CASH", "amount": 600}, card(nil)}, code: "BAD_USER_INPUT", field: "tenders"},
		{name: "card without last four", tenders: []any{card(map[string]any{"cardLast4": nil})}, code: "BAD_USER_INPUT", field: "tenders[0].cardLast4"},
		{name: "disabled tender type", settings: map[string]any{"acceptedTenders": []string{"CASH"}}, tenders: []any{card(nil)}, code: "BAD_USER_INPUT", field: "tenders[0].type"},
		{name: "stored value without a customer", tenders: []any{map[string]any{"type": "STORED_VALUE", "amount": 1000}}, code: "BAD_USER_INPUT", field: "tenders[0].type"},
		{name: "loyalty without a program", tenders: []any{map[string]any{"type": "LOYALTY", "amount": 1000}}, code: "BAD_USER_INPUT", field: "tenders[0].type"},
		{name: "exchange credit", tenders: []any{map[string]any{"type": "EXCHANGE", "amount": 1000}}, code: "BAD_USER_INPUT", field: "tenders[0].type"},
		{name: "in the future", changes: map[string]any{"occurredAt": now.Add(time.Hour)}, code: "BAD_USER_INPUT", field: "occurredAt"},
		{name: "too old to upload", changes: map[string]any{"occurredAt": now.AddDate(0, 0, -31)}, code: "BAD_USER_INPUT", field: "occurredAt"},
		{name: "no lines", changes: map[string]any{"lines": []any{}}, code: "BAD_USER_INPUT", field: "lines"},
		{name: "over the merchant's limit", settings: map[string]any{"maxSaleAmount": 999}, code: "BAD_USER_INPUT"},
		{name: "no idempotency key", changes: map[string]any{"idempotencyKey": " "}, code: "BAD_USER_INPUT", field: "idempotencyKey"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				e := base
				if tt.settings != nil {
					e = newSaleEnv(t)
					e.settings(t, tt.settings)
				}
				in := saleWith(saleCash(e.owner.StoreID, 1000), tt.changes)
				if tt.tenders != nil {
					in["tenders"] = tt.tenders
				}
				saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": in}), tt.code, tt.field)
			})
		}
	})
	require.Equal(t, 0, base.list(t, base.owner.Token, nil).TotalCount, "no refused sale was written")
}

// A full card number is refused wherever it is typed, and is never
// written: not in the log, not in any table.
func TestSaleRecordRefusesCardNumbers(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	const pan = "4111 1111 1111 1111"
	card := saleCard(1000, "ch_ok")
	tests := []struct {
		name   string
		in     map[string]any
		field  string
		tender map[string]any
	}{
		{name: "as last four", tender: saleWith(card, map[string]any{"cardLast4": pan}), field: "tenders[0].cardLast4"},
		{name: "as reference", tender: saleWith(card, map[string]any{"reference": pan}), field: "tenders[0].reference"},
		{name: "without spaces", tender: saleWith(card, map[string]any{"reference": strings.ReplaceAll(pan, " ", "")}), field: "tenders[0].reference"},
		{name: "as brand", tender: saleWith(card, map[string]any{"cardBrand": pan}), field: "tenders[0].cardBrand"},
		{name: "in the note", in: map[string]any{"note": "card " + pan}, field: "note"},
		{name: "as an item", in: map[string]any{"lines": []any{saleItem(pan, 1, 1000, 0)}}, field: "lines[0].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := saleWith(saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 1000, 0)}, card), tt.in)
			if tt.tender != nil {
				in["tenders"] = []any{tt.tender}
			}
			res := e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": in})
			err := saleWantErr(t, res, "BAD_USER_INPUT", tt.field)
			require.NotContains(t, err.Message, "1111")
		})
	}
	ok := e.record(t, e.cashier.Token, saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 1000, 0)}, card))
	require.Equal(t, "4242", *ok.Tenders[0].CardLast4)

	needles := []string{pan, strings.ReplaceAll(pan, " ", "")}
	for _, needle := range needles {
		require.NotContains(t, e.Logs(), needle)
	}
	tables := `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	if e.DB.Dialect == dialect.SQLite {
		tables = `SELECT name FROM sqlite_master WHERE type = 'table'`
	}
	names := saleQueryStrings(t, e, tables)
	require.Contains(t, names, "tenders")
	var tenders int
	for _, table := range names {
		for _, row := range saleQueryStrings(t, e, `SELECT * FROM "`+table+`"`) {
			for _, needle := range needles {
				require.NotContains(t, row, needle, "%s holds a card number", table)
			}
			tenders += strings.Count(row, "ch_ok")
		}
	}
	require.Positive(t, tenders, "the scan reads the stored values")
}

// saleQueryStrings runs q on the test database and returns each row's
// columns as text, joined by tabs.
func saleQueryStrings(t *testing.T, e *saleEnv, q string) []string {
	t.Helper()
	rows, err := e.DB.SQL.QueryContext(t.Context(), q)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		// database/sql turns every column type into text for a string.
		text := make([]sql.NullString, len(cols))
		dest := make([]any, len(cols))
		for i := range text {
			dest[i] = &text[i]
		}
		require.NoError(t, rows.Scan(dest...))
		var row []string
		for _, v := range text {
			row = append(row, v.String)
		}
		out = append(out, strings.Join(row, "\t"))
	}
	require.NoError(t, rows.Err())
	return out
}

func TestSaleRecordOffline(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	at := time.Now().UTC().Add(-50 * time.Hour).Truncate(time.Second)
	in := saleWith(saleCash(e.owner.StoreID, 1000), map[string]any{"occurredAt": at})
	s := e.record(t, e.cashier.Token, in)
	require.True(t, s.OccurredAt.Equal(at), "occurredAt %s, want %s", s.OccurredAt, at)
	require.WithinDuration(t, time.Now(), s.CreatedAt, time.Hour, "createdAt is when the server heard of it")
	require.Equal(t, at.In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly), s.BusinessDate, "the store's local day")
}

// Who may sell where: the staff of the store, within their merchant.
func TestSaleRecordAccess(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	other := e.store(t, e.owner.Token, "Second Store")
	rival := e.SignUp(t, "Rival Tea")
	rivalCustomer := e.customer(t, rival.Token, "Rival Customer")
	tests := []struct {
		name, token string
		in          map[string]any
		code, field string
	}{
		{name: "cashier at a store they do not work at", token: e.cashier.Token, in: saleCash(other, 1000), code: "FORBIDDEN", field: "storeId"},
		{name: "manager at a store they do not work at", token: e.manager.Token, in: saleCash(other, 1000), code: "FORBIDDEN", field: "storeId"},
		{name: "another merchant's store", token: e.owner.Token, in: saleCash(rival.StoreID, 1000), code: "NOT_FOUND", field: "storeId"},
		{name: "another merchant's customer", token: e.cashier.Token,
			in: saleWith(saleCash(e.owner.StoreID, 1000), map[string]any{"customerId": rivalCustomer}), code: "NOT_FOUND", field: "customerId"},
		{name: "unauthenticated", in: saleCash(e.owner.StoreID, 1000), code: "UNAUTHENTICATED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			saleWantErr(t, e.Exec(t, tt.token, saleRecord, map[string]any{"i": tt.in}), tt.code, tt.field)
		})
	}
	t.Run("the owner sells at every store", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, other, e.record(t, e.owner.Token, saleCash(other, 1000)).StoreID)
	})
}

func TestSaleRecordIdempotent(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	in := saleCash(e.owner.StoreID, 1800)
	first, replayed := saleRecordOK(t, e.Env, e.cashier.Token, in)
	require.False(t, replayed)
	again, replayed := saleRecordOK(t, e.Env, e.cashier.Token, in)
	require.True(t, replayed)
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, first.ReceiptNumber, again.ReceiptNumber)

	t.Run("the same time in another offset is the same sale", func(t *testing.T) {
		at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		timed := saleWith(saleCash(e.owner.StoreID, 700), map[string]any{"occurredAt": at.Format(time.RFC3339)})
		s, _ := saleRecordOK(t, e.Env, e.cashier.Token, timed)
		shanghai := saleWith(timed, map[string]any{"occurredAt": at.In(time.FixedZone("CST", 8*3600)).Format(time.RFC3339)})
		again, replayed := saleRecordOK(t, e.Env, e.cashier.Token, shanghai)
		require.True(t, replayed)
		require.Equal(t, s.ID, again.ID)
	})

	changed := saleWith(in, map[string]any{"lines": []any{saleItem("Tea", 2, 900, 0)}})
	saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": changed}), "IDEMPOTENCY_CONFLICT", "idempotencyKey")
	require.Equal(t, 2, e.list(t, e.owner.Token, nil).TotalCount)

	t.Run("another merchant may use the same key", func(t *testing.T) {
		rival := e.SignUp(t, "Rival Tea")
		s, replayed := saleRecordOK(t, e.Env, rival.Token, saleWith(in, map[string]any{"storeId": rival.StoreID}))
		require.False(t, replayed)
		require.NotEqual(t, first.ID, s.ID)
	})
}

// Fifty terminals retrying one sale at once make one sale, even when a
// second sale would pass the customer's daily limit.
func TestSaleRecordConcurrentRetries(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	e.settings(t, map[string]any{"customerDailyLimit": 2000})
	in := saleWith(saleCash(e.owner.StoreID, 1800), map[string]any{"customerId": e.customer(t, e.owner.Token, "Mei")})
	results := saleParallel(50, func(int) *tilltest.Result {
		return e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": in})
	})
	ids := map[string]int{}
	created := 0
	for _, res := range results {
		var out struct {
			RecordSale struct {
				Replayed bool
				Sale     struct{ ID string }
			}
		}
		res.Decode(t, &out)
		ids[out.RecordSale.Sale.ID]++
		if !out.RecordSale.Replayed {
			created++
		}
	}
	require.Len(t, ids, 1, "every answer names the same sale")
	require.Equal(t, 1, created, "one answer made it, the others replayed it")
	require.Equal(t, 1, e.list(t, e.owner.Token, nil).TotalCount)
	var c struct {
		Node struct {
			VisitsCount int
			TotalSpent  int64
		}
	}
	e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on Customer { visitsCount totalSpent } } }`,
		map[string]any{"id": in["customerId"]}).Decode(t, &c)
	require.Equal(t, 1, c.Node.VisitsCount, "the customer's visit counted once")
	require.Equal(t, int64(1800), c.Node.TotalSpent)
}

// Receipt numbers run 1, 2, 3… per store, without gaps or repeats, however
// many cashiers sell at once; a declined sale takes no number.
func TestSaleReceiptNumbers(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	second := e.store(t, e.owner.Token, "Second Store")
	cashiers := []*tilltest.Account{e.cashier, e.manager, e.owner, e.AddStaff(t, e.owner, "CASHIER")}
	const n = 40
	results := saleParallel(n, func(i int) *tilltest.Result {
		store := e.owner.StoreID
		if i%5 == 0 {
			store = second // the owner's sales at the second store
			return e.Exec(t, e.owner.Token, saleRecord, map[string]any{"i": saleCash(store, 100)})
		}
		return e.Exec(t, cashiers[i%len(cashiers)].Token, saleRecord, map[string]any{"i": saleCash(store, int64(100+i))})
	})
	numbers := map[string][]int64{}
	for _, res := range results {
		var out struct{ RecordSale struct{ Sale saleSale } }
		res.Decode(t, &out)
		s := out.RecordSale.Sale
		numbers[s.StoreID] = append(numbers[s.StoreID], s.ReceiptNumber)
	}
	seq := func(n int) []int64 {
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(i + 1)
		}
		return out
	}
	require.ElementsMatch(t, seq(n*4/5), numbers[e.owner.StoreID])
	require.ElementsMatch(t, seq(n/5), numbers[second], "the second store numbers its own")
}

func TestSaleUpload(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	e.settings(t, map[string]any{"maxSaleAmount": 5000})
	yesterday := time.Now().UTC().Add(-26 * time.Hour).Truncate(time.Second)
	uploaded := saleWith(saleCash(e.owner.StoreID, 500), map[string]any{"occurredAt": yesterday})
	e.record(t, e.cashier.Token, uploaded)

	fresh := saleWith(saleCash(e.owner.StoreID, 700), map[string]any{"occurredAt": yesterday.Add(time.Minute)})
	short := saleWith(saleCash(e.owner.StoreID, 900), map[string]any{"tenders": []any{map[string]any{"type": "CASH", "amount": 800}}})
	reused := saleWith(uploaded, map[string]any{"note": "changed"})
	later := saleCash(e.owner.StoreID, 1100)
	big := saleCash(e.owner.StoreID, 6000)
	e.Exec(t, e.owner.Token, `mutation($i: AddRiskListEntryInput!) { addRiskListEntry(input: $i) { riskListEntry { id } } }`,
		map[string]any{"i": map[string]any{"kind": "CARD_REFERENCE", "value": "ch_stolen", "reason": "chargebacks"}}).Decode(t, &struct{}{})
	stolen := saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 1000, 0)}, saleCard(1000, "ch_stolen"))
	var out struct {
		UploadSales struct {
			Results []struct {
				IdempotencyKey string
				Status         string
				Error          *struct {
					Code, Message string
					Field, Rule   *string
				}
				Sale *saleSale
			}
		}
	}
	e.Exec(t, e.cashier.Token, saleUpload, map[string]any{"i": map[string]any{"sales": []any{fresh, uploaded, short, reused, later, big, stolen}}}).Decode(t, &out)
	got := out.UploadSales.Results
	require.Len(t, got, 7)
	type result struct{ key, status, code, field string }
	want := []result{
		{fresh["idempotencyKey"].(string), "CREATED", "", ""},
		{uploaded["idempotencyKey"].(string), "REPLAYED", "", ""},
		{short["idempotencyKey"].(string), "FAILED", "BAD_USER_INPUT", "sales[2].tenders"},
		{reused["idempotencyKey"].(string), "FAILED", "IDEMPOTENCY_CONFLICT", "sales[3].idempotencyKey"},
		{later["idempotencyKey"].(string), "CREATED", "", ""},
		// Over a limit, or declined by a rule, an offline sale has happened
		// all the same: it is recorded for review, not lost.
		{big["idempotencyKey"].(string), "CREATED", "", ""},
		{stolen["idempotencyKey"].(string), "CREATED", "", ""},
	}
	for i, r := range got {
		g := result{key: r.IdempotencyKey, status: r.Status}
		if r.Error != nil {
			g.code = r.Error.Code
			if r.Error.Field != nil {
				g.field = *r.Error.Field
			}
		}
		require.Equal(t, want[i], g, "sales[%d]", i)
		require.Equal(t, r.Status != "FAILED", r.Sale != nil, "sales[%d] names its sale", i)
	}
	for i, rule := range map[int]string{5: "max_sale_amount FLAG", 6: "blacklist_card FLAG"} {
		require.Equal(t, []string{rule}, got[i].Sale.hitRules(), "sales[%d]", i)
		require.Equal(t, "FLAG", got[i].Sale.RiskDecision)
		require.Equal(t, "PENDING", got[i].Sale.ReviewStatus, "sales[%d] waits for review", i)
	}
	require.Empty(t, got[4].Sale.hitRules())
	require.True(t, got[0].Sale.Offline)
	require.True(t, got[0].Sale.OccurredAt.Equal(yesterday.Add(time.Minute)))
	require.Equal(t, []int64{700, 1100}, []int64{got[0].Sale.Total, got[4].Sale.Total})
	require.Equal(t, 5, e.list(t, e.owner.Token, nil).TotalCount, "the first sale and the four new ones")
	saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": saleCash(e.owner.StoreID, 6000)}), "BAD_USER_INPUT", "")

	t.Run("retrying the whole upload replays", func(t *testing.T) {
		var again struct {
			UploadSales struct{ Results []struct{ Status string } }
		}
		e.Exec(t, e.cashier.Token, saleUpload, map[string]any{"i": map[string]any{"sales": []any{fresh, later}}}).Decode(t, &again)
		require.Equal(t, "REPLAYED", again.UploadSales.Results[0].Status)
		require.Equal(t, "REPLAYED", again.UploadSales.Results[1].Status)
	})
	t.Run("at most 500", func(t *testing.T) {
		many := make([]any, 501)
		for i := range many {
			many[i] = saleCash(e.owner.StoreID, 100)
		}
		saleWantErr(t, e.Exec(t, e.cashier.Token, saleUpload, map[string]any{"i": map[string]any{"sales": many}}), "BAD_USER_INPUT", "sales")
		require.Equal(t, 5, e.list(t, e.owner.Token, nil).TotalCount)
	})
}

func TestSaleReceipt(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	in := saleOf(e.owner.StoreID, []any{saleItem("Oolong Tea", 2, 1250, 600), saleItem("Mooncake", 1, 800, 1300)},
		saleCard(2000, "ch_receipt"), map[string]any{"type": "CASH", "amount": 1300, "tendered": 2000})
	s := e.record(t, e.cashier.Token, in)
	const q = `query($id: ID!, $w: Int) { node(id: $id) { ... on Sale { receipt { number storeName cashierName merchantName total changeDue
		lines { name quantity unitPrice discount total } tenders { type label amount tendered change } text(width: $w) } } } }`
	var out struct {
		Node struct {
			Receipt struct {
				Number, StoreName, CashierName, MerchantName string
				Total, ChangeDue                             int64
				Lines                                        []struct {
					Name                       string
					Quantity                   int
					UnitPrice, Discount, Total int64
				}
				Tenders []struct {
					Type, Label string
					Amount      int64
					Tendered    *int64
					Change      int64
				}
				Text string
			}
		}
	}
	e.Exec(t, e.cashier.Token, q, map[string]any{"id": s.ID, "w": 32}).Decode(t, &out)
	r := out.Node.Receipt
	require.Equal(t, "000001", r.Number)
	require.Equal(t, "Lotus Tea", r.MerchantName)
	require.NotEmpty(t, r.StoreName)
	require.True(t, strings.HasPrefix(r.CashierName, "CASHIER"), r.CashierName)
	require.Equal(t, int64(3300), r.Total)
	require.Equal(t, int64(700), r.ChangeDue)
	require.Len(t, r.Lines, 2)
	require.Equal(t, "Oolong Tea", r.Lines[0].Name)
	require.Equal(t, int64(2500), r.Lines[0].Total)
	require.Equal(t, []string{"VISA credit •••• 4242", "Cash"}, []string{r.Tenders[0].Label, r.Tenders[1].Label})
	require.Equal(t, int64(700), r.Tenders[1].Change)

	lines := strings.Split(strings.TrimSuffix(r.Text, "\n"), "\n")
	for _, l := range lines {
		require.LessOrEqual(t, len([]rune(l)), 32, "line %q", l)
	}
	for _, want := range []string{"000001", "Oolong Tea", "TOTAL CNY", "33.00", "VISA credit •••• 4242", "20.00", "Change", "7.00"} {
		require.Contains(t, r.Text, want)
	}
	require.NotContains(t, r.Text, "ch_receipt")

	for _, width := range []int{10, 23, 65} {
		saleWantErr(t, e.Exec(t, e.cashier.Token, q, map[string]any{"id": s.ID, "w": width}), "BAD_USER_INPUT", "width")
	}
}

// A terminal's sale prints where the terminal stands, or its serial
// number; however narrow the paper and however long the names, every line
// fits.
func TestSaleReceiptNarrow(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	e.Exec(t, e.owner.Token, `mutation($i: UpdateStaffInput!) { updateStaff(input: $i) { staff { id } } }`,
		map[string]any{"i": map[string]any{"staffId": e.cashier.ID, "name": "Maximiliana Evangelina Montgomery-Featherstonehaugh"}}).Decode(t, &struct{}{})
	_, labelled := e.terminal(t, "SN-RECEIPT-0001", "Front counter by the window")
	s := e.record(t, labelled, saleOf(e.owner.StoreID,
		[]any{saleItem("Supercalifragilisticexpialidocious oolong from the high mountains", 3, 123456, 600)},
		saleCard(370368, "ch_narrow")))
	const q = `query($id: ID!, $w: Int) { node(id: $id) { ... on Sale { receipt { terminal text(width: $w) } } } }`
	var out struct {
		Node struct {
			Receipt struct {
				Terminal *string
				Text     string
			}
		}
	}
	for _, width := range []int{24, 32, 64} {
		e.Exec(t, e.owner.Token, q, map[string]any{"id": s.ID, "w": width}).Decode(t, &out)
		r := out.Node.Receipt
		require.Equal(t, "Front counter by the window", *r.Terminal)
		for _, line := range strings.Split(strings.TrimSuffix(r.Text, "\n"), "\n") {
			require.LessOrEqual(t, len([]rune(line)), width, "width %d: %q", width, line)
		}
		for _, want := range []string{"Montgomery-", "Front counter", "3703.68", "VISA credit"} {
			require.Contains(t, r.Text, want, "width %d", width)
		}
		require.NotContains(t, r.Text, "dev_", "the terminal is named, not its ID")
	}

	e.Exec(t, e.owner.Token, `mutation($i: UpdateStaffInput!) { updateStaff(input: $i) { staff { id } } }`,
		map[string]any{"i": map[string]any{"staffId": e.cashier.ID, "name": "Mei"}}).Decode(t, &struct{}{})
	_, unlabelled := e.terminal(t, "SN-RECEIPT-0002", "")
	s = e.record(t, unlabelled, saleCash(e.owner.StoreID, 100))
	e.Exec(t, e.owner.Token, q, map[string]any{"id": s.ID, "w": 24}).Decode(t, &out)
	require.Equal(t, "SN-RECEIPT-0002", *out.Node.Receipt.Terminal, "without a label, the serial number")
	require.Contains(t, out.Node.Receipt.Text, "SN-RECEIPT-0002")
}

// The sale.completed event (and risk.flagged for a flagged sale) is
// written with the sale, and not at all when the sale's transaction rolls
// back, even after writing it.
func TestSaleOutboxEvents(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	e.settings(t, map[string]any{"blacklistAction": "FLAG", "maxRefundPerCashierDay": 100})
	cust := e.customer(t, e.owner.Token, "Lin")
	plain := e.record(t, e.cashier.Token, saleWith(saleOf(e.owner.StoreID, []any{saleItem("Shirt", 1, 5000, 0)}, saleCard(5000, "ch_events")),
		map[string]any{"customerId": cust}))
	require.Equal(t, []string{"sale.completed " + plain.ID}, e.outbox(t))

	e.Exec(t, e.owner.Token, `mutation($i: AddRiskListEntryInput!) { addRiskListEntry(input: $i) { riskListEntry { id } } }`,
		map[string]any{"i": map[string]any{"kind": "CUSTOMER", "value": cust, "reason": "chargebacks"}}).Decode(t, &struct{}{})
	flagged := e.record(t, e.cashier.Token, saleWith(saleCash(e.owner.StoreID, 1000), map[string]any{"customerId": cust}))
	require.Equal(t, "FLAG", flagged.RiskDecision)
	want := []string{"sale.completed " + plain.ID, "sale.completed " + flagged.ID, "risk.flagged " + flagged.ID}
	require.Equal(t, want, e.outbox(t))

	// Refused before anything is written: no event.
	saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": saleCash(e.owner.StoreID, -1)}), "BAD_USER_INPUT", "")
	// An exchange writes its new sale (flagged: the customer is listed)
	// with both events, then fails on the cashier's refund limit for the
	// 4400 going back to the card: everything rolls back, events too.
	swap := saleRefundIn(plain.ID, map[string]any{
		"returnLines": []any{map[string]any{"saleLineId": plain.Lines[0].ID, "quantity": 1}},
		"newLines":    []any{saleItem("Tie", 1, 600, 0)},
	})
	saleWantErr(t, e.Exec(t, e.cashier.Token, saleExchange, map[string]any{"i": swap}), "FORBIDDEN", "")
	require.Equal(t, want, e.outbox(t), "the rolled-back sale left no event")
	require.Equal(t, 2, e.list(t, e.owner.Token, nil).TotalCount)
}

// An upload of the most sales allowed, as a terminal sends them after a
// day offline (a few lines and a split tender each), fits the request
// size and complexity limits and records every sale.
func TestSaleUploadFull(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	start := time.Now().UTC().Add(-20 * time.Hour).Truncate(time.Second)
	batch := make([]any, 500)
	for i := range batch {
		batch[i] = map[string]any{
			"idempotencyKey": fmt.Sprintf("%s-%04d", saleKey(), i), "storeId": e.owner.StoreID,
			"occurredAt": start.Add(time.Duration(i) * time.Minute),
			"lines": []any{
				saleItem("Jasmine tea, loose, 100 g", 2, 1800, 600),
				saleItem("Mooncake, lotus seed paste", 1, 2500, 1300),
				map[string]any{"name": "Gift wrapping", "quantity": 1, "unitPrice": 500, "lineDiscount": 100},
			},
			"tenders": []any{
				map[string]any{"type": "CASH", "amount": 3000, "tendered": 5000},
				saleCard(3500, fmt.Sprintf("ch_offline_%04d", i)),
			},
			"note": "recorded offline",
		}
	}
	body, err := json.Marshal(map[string]any{"query": saleUpload, "variables": map[string]any{"i": map[string]any{"sales": batch}}})
	require.NoError(t, err)
	require.Less(t, len(body), 1<<20, "the request fits the 1 MiB body limit")
	var out struct {
		UploadSales struct {
			Results []struct {
				Status string
				Error  *struct{ Code, Message string }
			}
		}
	}
	e.Exec(t, e.cashier.Token, saleUpload, map[string]any{"i": map[string]any{"sales": batch}}).Decode(t, &out)
	require.Len(t, out.UploadSales.Results, 500)
	for i, r := range out.UploadSales.Results {
		require.Equal(t, "CREATED", r.Status, "sales[%d]: %+v", i, r.Error)
	}
	require.Equal(t, 500, e.list(t, e.owner.Token, nil).TotalCount)
}

// Offline sales are judged by when they happened: one card used once a
// day for three days, uploaded at once, is no burst; three uses within
// minutes are, and a rule or limit that would decline an online sale
// flags the offline one for review instead of losing it.
func TestSaleOfflineRisk(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	e.settings(t, map[string]any{"velocityMax": 2, "velocityWindowMinutes": 10, "velocityAction": "DECLINE",
		"acceptedTenders": []string{"CASH", "CARD"}, "customerDailyLimit": 1500})
	now := time.Now().UTC().Truncate(time.Second)
	card := func(at time.Time) map[string]any {
		return saleWith(saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 1000, 0)}, saleCard(1000, "ch_daily")), map[string]any{"occurredAt": at})
	}
	type result struct {
		Status string
		Error  *struct{ Code, Message string }
		Sale   *saleSale
	}
	upload := func(t *testing.T, sales ...any) []result {
		t.Helper()
		var out struct{ UploadSales struct{ Results []result } }
		e.Exec(t, e.cashier.Token, saleUpload, map[string]any{"i": map[string]any{"sales": sales}}).Decode(t, &out)
		return out.UploadSales.Results
	}

	days := upload(t, card(now.Add(-72*time.Hour)), card(now.Add(-48*time.Hour)), card(now.Add(-24*time.Hour)))
	for i, r := range days {
		require.Equal(t, "CREATED", r.Status, "day %d: %+v", i, r.Error)
		require.Empty(t, r.Sale.hitRules(), "day %d", i)
	}

	// Uploaded out of order, a burst is still a burst: the last one in
	// sees the other two within the window.
	burst := upload(t, card(now.Add(-5*time.Hour+4*time.Minute)), card(now.Add(-5*time.Hour)), card(now.Add(-5*time.Hour+2*time.Minute)))
	require.Equal(t, "CREATED", burst[2].Status)
	require.Equal(t, []string{"velocity FLAG"}, burst[2].Sale.hitRules(), "declined online, flagged offline")
	require.Equal(t, "PENDING", burst[2].Sale.ReviewStatus)

	cust := e.customer(t, e.owner.Token, "Mei")
	wallet := saleWith(saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 2000, 0)},
		map[string]any{"type": "MOBILE_WALLET", "amount": 2000, "wallet": "WECHAT_PAY", "reference": "4200000000000000000000000001"}),
		map[string]any{"occurredAt": now.Add(-3 * time.Hour), "customerId": cust})
	got := upload(t, wallet)
	require.Equal(t, "CREATED", got[0].Status, "%+v", got[0].Error)
	require.ElementsMatch(t, []string{"tender_not_accepted FLAG", "customer_daily_limit FLAG"}, got[0].Sale.hitRules())

	// A terminal that syncs later by recordSale, with the time the sale
	// happened, is treated the same.
	late := card(now.Add(-5*time.Hour + time.Minute))
	require.Equal(t, []string{"velocity FLAG"}, e.record(t, e.cashier.Token, late).hitRules())
	// Online, the rule declines the third use within the window.
	e.record(t, e.cashier.Token, card(now.Add(-2*time.Minute)))
	e.record(t, e.cashier.Token, card(now.Add(-time.Minute)))
	e.wantDeclined(t, card(now), "velocity")
	saleWantErr(t, e.Exec(t, e.cashier.Token, saleRecord, map[string]any{"i": saleWith(wallet, map[string]any{"idempotencyKey": saleKey(), "occurredAt": nil})}),
		"BAD_USER_INPUT", "tenders[0].type")
}
