package server_test

import (
	"crypto/rand"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/server"
)

// Sales through the API, as a terminal records them: totals the server
// computes, tenders, idempotent retries, offline uploads, receipts,
// refunds, voids, exchanges, freezing, limits and risk rules.

const (
	saleFields = `id idempotencyKey receiptNumber status currency subtotal orderDiscount discountTotal taxTotal total changeDue
		refundedTotal pricesIncludeTax occurredAt createdAt businessDate offline note frozen frozenReason riskDecision reviewStatus
		riskHits { rule action detail } storeID cashierID deviceID customerID
		lines { id name sku quantity unitPrice lineDiscount orderDiscount taxRateBp tax total refundedQuantity refundedAmount productID }
		tenders { id type amount tendered change cardType cardBrand cardLast4 wallet reference refundedAmount }`

	saleRecord  = `mutation($i: RecordSaleInput!) { recordSale(input: $i) { replayed sale { ` + saleFields + ` } } }`
	saleUpload  = `mutation($i: UploadSalesInput!) { uploadSales(input: $i) { results { idempotencyKey status error { code message field rule } sale { ` + saleFields + ` } } } }`
	saleRefund  = `mutation($i: RefundSaleInput!) { refundSale(input: $i) { replayed refund { id kind amount tax reason storeID deviceID lines { quantity amount } tenders { type amount tender { id } } } sale { ` + saleFields + ` } } }`
	saleVoid    = `mutation($i: VoidSaleInput!) { voidSale(input: $i) { replayed refund { id kind amount storeID deviceID } sale { ` + saleFields + ` } } }`
	saleProduct = `mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } } }`
)

type saleLine struct {
	ID               string
	Name             string
	Sku              *string
	Quantity         int
	UnitPrice        int64
	LineDiscount     int64
	OrderDiscount    int64
	TaxRateBp        int
	Tax              int64
	Total            int64
	RefundedQuantity int
	RefundedAmount   int64
	ProductID        *string
}

type saleTender struct {
	ID             string
	Type           string
	Amount         int64
	Tendered       *int64
	Change         int64
	CardType       *string
	CardBrand      *string
	CardLast4      *string
	Wallet         *string
	Reference      *string
	RefundedAmount int64
}

type saleSale struct {
	ID               string
	IdempotencyKey   string
	ReceiptNumber    int64
	Status           string
	Currency         string
	Subtotal         int64
	OrderDiscount    int64
	DiscountTotal    int64
	TaxTotal         int64
	Total            int64
	ChangeDue        int64
	RefundedTotal    int64
	PricesIncludeTax bool
	OccurredAt       time.Time
	CreatedAt        time.Time
	BusinessDate     string
	Offline          bool
	Note             *string
	Frozen           bool
	FrozenReason     *string
	RiskDecision     string
	ReviewStatus     string
	RiskHits         []struct{ Rule, Action, Detail string }
	StoreID          string
	CashierID        string
	DeviceID         *string
	CustomerID       *string
	Lines            []saleLine
	Tenders          []saleTender
}

// saleKey returns a fresh idempotency key.
func saleKey() string { return rand.Text() }

// saleCash is a sale of one free-text item paid in exact cash.
func saleCash(store string, price int64) map[string]any {
	return map[string]any{
		"idempotencyKey": saleKey(), "storeId": store,
		"lines":   []any{map[string]any{"name": "Tea", "quantity": 1, "unitPrice": price}},
		"tenders": []any{map[string]any{"type": "CASH", "amount": price}},
	}
}

func saleRecordOK(t testing.TB, env *tilltest.Env, token string, in map[string]any) (saleSale, bool) {
	t.Helper()
	var out struct {
		RecordSale struct {
			Replayed bool
			Sale     saleSale
		}
	}
	env.Exec(t, token, saleRecord, map[string]any{"i": in}).Decode(t, &out)
	return out.RecordSale.Sale, out.RecordSale.Replayed
}

// saleRefundResult is what refundSale and voidSale answer.
type saleRefundResult struct {
	Replayed bool
	Refund   struct {
		ID       string
		Kind     string
		Amount   int64
		Tax      int64
		Reason   string
		StoreID  string
		DeviceID *string
		Lines    []struct {
			Quantity int
			Amount   int64
		}
		Tenders []struct {
			Type   string
			Amount int64
			Tender *struct{ ID string }
		}
	}
	Sale saleSale
}

// salePage is a page of the sales connection.
type salePage struct {
	TotalCount int
	Edges      []struct{ Node saleSale }
}

// ids are the page's sale IDs, in order.
func (p salePage) ids() []string {
	ids := []string{}
	for _, e := range p.Edges {
		ids = append(ids, e.Node.ID)
	}
	return ids
}

// saleEnv is a test server with merchant "Lotus Tea" (CNY, Asia/Shanghai),
// its owner, and a manager and a cashier who work at its first store.
type saleEnv struct {
	*tilltest.Env
	owner, manager, cashier *tilltest.Account
}

func newSaleEnv(t testing.TB, opts ...server.Option) *saleEnv {
	t.Helper()
	env := tilltest.New(t, nil, opts...)
	owner := env.SignUp(t, "Lotus Tea")
	return &saleEnv{Env: env, owner: owner, manager: env.AddStaff(t, owner, "MANAGER"), cashier: env.AddStaff(t, owner, "CASHIER")}
}

// settings changes the merchant's sales settings as the owner.
func (e *saleEnv) settings(t *testing.T, patch map[string]any) {
	t.Helper()
	e.Exec(t, e.owner.Token, `mutation($i: UpdateSalesSettingsInput!) { updateSalesSettings(input: $i) { salesSettings { id } } }`,
		map[string]any{"i": patch}).Decode(t, &struct{}{})
}

// record records in as the holder of token, failing t on any error.
func (e *saleEnv) record(t testing.TB, token string, in map[string]any) saleSale {
	t.Helper()
	s, _ := saleRecordOK(t, e.Env, token, in)
	return s
}

// refund runs refundSale (or, with query saleVoid, voidSale) as the holder
// of token, failing t on any error.
func (e *saleEnv) refund(t *testing.T, token, query string, in map[string]any) saleRefundResult {
	t.Helper()
	var out map[string]saleRefundResult
	e.Exec(t, token, query, map[string]any{"i": in}).Decode(t, &out)
	for _, r := range out {
		return r
	}
	t.Fatal("no refund in the answer")
	return saleRefundResult{}
}

// list reads the first 100 sales matching where as the holder of token.
func (e *saleEnv) list(t *testing.T, token string, where map[string]any) salePage {
	t.Helper()
	var out struct{ Sales salePage }
	e.Exec(t, token, `query($w: SaleWhereInput) { sales(first: 100, where: $w) { totalCount edges { node { `+saleFields+` } } } }`,
		map[string]any{"w": where}).Decode(t, &out)
	return out.Sales
}

// customer registers a customer of the merchant of token and returns its ID.
func (e *saleEnv) customer(t *testing.T, token, name string) string {
	t.Helper()
	var out struct {
		CreateCustomer struct{ Customer struct{ ID string } }
	}
	e.Exec(t, token, `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`,
		map[string]any{"i": map[string]any{"name": name}}).Decode(t, &out)
	return out.CreateCustomer.Customer.ID
}

// store opens another store of the merchant of token and returns its ID.
func (e *saleEnv) store(t *testing.T, token, name string) string {
	t.Helper()
	var out struct {
		CreateStore struct{ Store struct{ ID string } }
	}
	e.Exec(t, token, `mutation($i: CreateStoreInput!) { createStore(input: $i) { store { id } } }`,
		map[string]any{"i": map[string]any{"name": name, "timeZone": "Asia/Shanghai"}}).Decode(t, &out)
	return out.CreateStore.Store.ID
}

// terminal pairs a terminal named serial to the merchant's first store,
// labelled label (unless ""), and logs the cashier in on it with a PIN; it
// returns the device's ID and the cashier's session token on it.
func (e *saleEnv) terminal(t *testing.T, serial, label string) (deviceID, token string) {
	t.Helper()
	var code struct{ CreatePairingCode struct{ Code string } }
	e.Exec(t, e.manager.Token, `mutation($i: CreatePairingCodeInput!) { createPairingCode(input: $i) { code } }`,
		map[string]any{"i": map[string]any{"storeId": e.owner.StoreID}}).Decode(t, &code)
	var paired struct {
		PairDevice struct {
			Credential string
			Device     struct{ ID string }
		}
	}
	e.Exec(t, "", `mutation($i: PairDeviceInput!) { pairDevice(input: $i) { credential device { id } } }`,
		map[string]any{"i": map[string]any{"idempotencyKey": "pair-" + serial, "code": code.CreatePairingCode.Code, "serialNumber": serial, "model": "P2 Pro"}}).Decode(t, &paired)
	deviceID = paired.PairDevice.Device.ID
	if label != "" {
		e.Exec(t, e.manager.Token, `mutation($i: MoveDeviceInput!) { moveDevice(input: $i) { device { id } } }`,
			map[string]any{"i": map[string]any{"deviceId": deviceID, "storeId": e.owner.StoreID, "locationLabel": label}}).Decode(t, &struct{}{})
	}
	e.Exec(t, e.cashier.Token, `mutation($i: SetStaffPinInput!) { setStaffPin(input: $i) { staff { id } } }`,
		map[string]any{"i": map[string]any{"staffId": e.cashier.ID, "pin": "2580"}}).Decode(t, &struct{}{})
	var session struct{ LogInWithPin struct{ AccessToken string } }
	e.Exec(t, "", `mutation($i: LogInWithPinInput!) { logInWithPin(input: $i) { accessToken } }`,
		map[string]any{"i": map[string]any{"deviceCredential": paired.PairDevice.Credential, "staffId": e.cashier.ID, "pin": "2580"}}).Decode(t, &session)
	return deviceID, session.LogInWithPin.AccessToken
}

// outbox lists the events written so far, as "topic subject", oldest
// first.
func (e *saleEnv) outbox(t *testing.T) []string {
	t.Helper()
	rows, err := e.DB.SQL.QueryContext(t.Context(), `SELECT topic, subject_id FROM outbox_events ORDER BY id`)
	require.NoError(t, err)
	defer rows.Close()
	events := []string{}
	for rows.Next() {
		var topic, subject string
		require.NoError(t, rows.Scan(&topic, &subject))
		events = append(events, topic+" "+subject)
	}
	require.NoError(t, rows.Err())
	return events
}

// saleWantErr checks that res failed with code and, unless field is "",
// names field in extensions.field; it returns the error.
func saleWantErr(t *testing.T, res *tilltest.Result, code, field string) tilltest.Error {
	t.Helper()
	require.NotEmpty(t, res.Errors, "want %s, got data %s", code, res.Data)
	e := res.Errors[0]
	require.Equal(t, code, e.Extensions["code"], "error %+v", e)
	if field != "" {
		require.Equal(t, field, e.Extensions["field"], "error %+v", e)
	}
	return e
}

// saleItem is a free-text line.
func saleItem(name string, quantity int, unitPrice int64, taxRateBp int) map[string]any {
	return map[string]any{"name": name, "quantity": quantity, "unitPrice": unitPrice, "taxRateBp": taxRateBp}
}

// saleCard is a VISA credit card tender with the processor's reference.
func saleCard(amount int64, reference string) map[string]any {
	return map[string]any{"type": "CARD", "amount": amount, "cardBrand": "visa", "cardType": "CREDIT", "cardLast4": "4242", "reference": reference}
}

// saleOf is a sale at store of lines paid with tenders, under a fresh key.
func saleOf(store string, lines []any, tenders ...any) map[string]any {
	return map[string]any{"idempotencyKey": saleKey(), "storeId": store, "lines": lines, "tenders": tenders}
}

// saleWith is a copy of in with changes made (nil values delete).
func saleWith(in, changes map[string]any) map[string]any {
	out := maps.Clone(in)
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// saleParallel runs n calls of do at once (do(i) for i in 0..n-1) and
// returns their results in order. do must not call t.Fatal.
func saleParallel(n int, do func(i int) *tilltest.Result) []*tilltest.Result {
	results := make([]*tilltest.Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = do(i) })
	}
	wg.Wait()
	return results
}

func TestSaleRecordSmoke(t *testing.T) {
	t.Parallel()
	env := tilltest.New(t, nil)
	owner := env.SignUp(t, "Lotus Tea")
	s, replayed := saleRecordOK(t, env, owner.Token, saleCash(owner.StoreID, 1800))
	require.False(t, replayed)
	require.Equal(t, int64(1), s.ReceiptNumber)
	require.Equal(t, int64(1800), s.Total)
	require.Equal(t, "CNY", s.Currency)
}
