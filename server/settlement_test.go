package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/internal/tilltest"
)

// Cash drawer shifts, the end-of-day close with its settlements per
// channel, the day locked against voids, and statement reconciliation.

const (
	stlShiftFields = `id status storeID deviceID openingFloat cashSales cashRefunds paidIn paidOut expected counted difference differenceReason
		openedByID closedByID openedAt closedAt movements { kind amount reason staffID }`
	stlOpen   = `mutation($i: OpenShiftInput!) { openShift(input: $i) { replayed shift { ` + stlShiftFields + ` } } }`
	stlMove   = `mutation($i: RecordCashMovementInput!) { recordCashMovement(input: $i) { movement { kind amount } shift { paidIn paidOut } } }`
	stlClose  = `mutation($i: CloseShiftInput!) { closeShift(input: $i) { shift { ` + stlShiftFields + ` } } }`
	stlFields = `channel count salesAmount refundCount refundsAmount amount feeRateBp fixedFee fees netToBank businessDate`
	stlDay    = `mutation($i: CloseDayInput!) { closeDay(input: $i) { dayClose { id businessDate currency count amount fees netToBank closedByID
		settlements { ` + stlFields + ` } } } }`
	stlSetChannel = `mutation($i: SetSettlementChannelInput!) { setSettlementChannel(input: $i) { settlementChannel { id channel feeRateBp fixedFee
		statement { referenceColumn amountColumn dateColumn feeColumn amountFormat delimiter hasHeader } } } }`
	stlLineFields = `line outcome reference date theirAmount ourAmount fee tenderId saleId`
	stlImport     = `mutation($i: ImportSettlementStatementInput!) { importSettlementStatement(input: $i) {
		statementImport { id channel fromDate toDate lineCount matched missingOnOurSide missingOnTheirs amountMismatches
			lines { ` + stlLineFields + ` } days { date statementAmount settledAmount matches } }
		matched { ` + stlLineFields + ` } missingOnOurSide { ` + stlLineFields + ` }
		missingOnTheirs { ` + stlLineFields + ` } amountMismatches { ` + stlLineFields + ` } } }`
)

type stlShift struct {
	ID, Status, StoreID, DeviceID                         string
	OpeningFloat, CashSales, CashRefunds, PaidIn, PaidOut int64
	Expected, Counted, Difference                         *int64
	DifferenceReason                                      *string
	OpenedByID                                            string
	ClosedByID                                            *string
	OpenedAt                                              time.Time
	ClosedAt                                              *time.Time
	Movements                                             []struct {
		Kind            string
		Amount          int64
		Reason, StaffID string
	}
}

type stlSettlement struct {
	Channel                   string
	Count                     int
	SalesAmount               int64
	RefundCount               int
	RefundsAmount, Amount     int64
	FeeRateBp                 int
	FixedFee, Fees, NetToBank int64
	BusinessDate              string
}

type stlDayClose struct {
	ID, BusinessDate, Currency string
	Count                      int
	Amount, Fees, NetToBank    int64
	ClosedByID                 string
	Settlements                []stlSettlement
}

type stlLine struct {
	Line                        int
	Outcome, Reference          string
	Date                        *string
	TheirAmount, OurAmount, Fee *int64
	TenderID, SaleID            *string
}

// stlToday is the business date now at the test merchant's stores.
func stlToday(t *testing.T) string {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	return time.Now().In(loc).Format(time.DateOnly)
}

func (e *saleEnv) stlOpenShift(t *testing.T, token string, in map[string]any) stlShift {
	t.Helper()
	var out struct{ OpenShift struct{ Shift stlShift } }
	e.Exec(t, token, stlOpen, map[string]any{"i": in}).Decode(t, &out)
	return out.OpenShift.Shift
}

func (e *saleEnv) stlCloseDay(t *testing.T, token, store, date string) stlDayClose {
	t.Helper()
	var out struct {
		CloseDay struct{ DayClose stlDayClose }
	}
	e.Exec(t, token, stlDay, map[string]any{"i": map[string]any{"storeId": store, "businessDate": date}}).Decode(t, &out)
	return out.CloseDay.DayClose
}

func (e *saleEnv) stlChannel(t *testing.T, channel string, bp int, fixed int64, statement map[string]any) {
	t.Helper()
	if statement == nil {
		statement = map[string]any{"referenceColumn": "1", "amountColumn": "2", "amountFormat": "MINOR", "hasHeader": false}
	}
	e.Exec(t, e.owner.Token, stlSetChannel, map[string]any{"i": map[string]any{
		"channel": channel, "feeRateBp": bp, "fixedFee": fixed, "statement": statement,
	}}).Decode(t, &struct{}{})
}

// stlWallet is a mobile wallet tender.
func stlWallet(amount int64, wallet, reference string) map[string]any {
	return map[string]any{"type": "MOBILE_WALLET", "amount": amount, "wallet": wallet, "reference": reference}
}

func TestSettlementShift(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	device, terminal := e.terminal(t, "SHIFT-1", "")
	store := e.owner.StoreID

	sh := e.stlOpenShift(t, terminal, map[string]any{"storeId": store, "openingFloat": 10000})
	require.Equal(t, "OPEN", sh.Status)
	require.Equal(t, device, sh.DeviceID)
	require.Equal(t, e.cashier.ID, sh.OpenedByID)
	saleWantErr(t, e.Exec(t, terminal, stlOpen, map[string]any{"i": map[string]any{"storeId": store, "openingFloat": 0}}), "CONFLICT", "")

	// Cash with change: the drawer keeps 1800 of the 2000 handed over.
	e.record(t, terminal, saleOf(store, []any{saleItem("Tea", 1, 1800, 0)}, map[string]any{"type": "CASH", "amount": 1800, "tendered": 2000}))
	split := e.record(t, terminal, saleOf(store, []any{saleItem("Cake", 1, 8500, 0)}, map[string]any{"type": "CASH", "amount": 3500}, saleCard(5000, "SH-C1")))
	// Sales elsewhere are not this drawer's: the back office's cash.
	e.record(t, e.owner.Token, saleCash(store, 999))
	e.refund(t, terminal, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": split.ID, "reason": "stale", "amount": 500,
		"tenders": []any{map[string]any{"type": "CASH", "amount": 500}}})
	for _, m := range []map[string]any{
		{"shiftId": sh.ID, "kind": "PAID_IN", "amount": 1000, "reason": "more coins"},
		{"shiftId": sh.ID, "kind": "PAID_OUT", "amount": 300, "reason": "milk"},
	} {
		e.Exec(t, terminal, stlMove, map[string]any{"i": m}).Decode(t, &struct{}{})
	}
	saleWantErr(t, e.Exec(t, terminal, stlMove, map[string]any{"i": map[string]any{"shiftId": sh.ID, "kind": "PAID_OUT", "amount": 0, "reason": "x"}}), "BAD_USER_INPUT", "amount")

	// 10000 float + 1800 + 3500 cash sales - 500 cash refund + 1000 in - 300 out.
	res := e.Exec(t, terminal, stlClose, map[string]any{"i": map[string]any{"shiftId": sh.ID, "countedCash": 15400}})
	saleWantErr(t, res, "BAD_USER_INPUT", "differenceReason")
	var closed struct{ CloseShift struct{ Shift stlShift } }
	e.Exec(t, terminal, stlClose, map[string]any{"i": map[string]any{"shiftId": sh.ID, "countedCash": 15400, "differenceReason": "a coin rolled away"}}).Decode(t, &closed)
	got := closed.CloseShift.Shift
	require.Equal(t, "CLOSED", got.Status)
	require.Equal(t, int64(5300), got.CashSales)
	require.Equal(t, int64(500), got.CashRefunds)
	require.Equal(t, int64(1000), got.PaidIn)
	require.Equal(t, int64(300), got.PaidOut)
	require.Equal(t, int64(15500), *got.Expected)
	require.Equal(t, int64(15400), *got.Counted)
	require.Equal(t, int64(-100), *got.Difference)
	require.Equal(t, "a coin rolled away", *got.DifferenceReason)
	require.Equal(t, e.cashier.ID, *got.ClosedByID)
	require.Len(t, got.Movements, 2)
	saleWantErr(t, e.Exec(t, terminal, stlMove, map[string]any{"i": map[string]any{"shiftId": sh.ID, "kind": "PAID_IN", "amount": 5, "reason": "late"}}), "CONFLICT", "")

	// The next shift balances without a reason; the list shows both.
	next := e.stlOpenShift(t, e.manager.Token, map[string]any{"storeId": store, "deviceId": device, "openingFloat": 2000, "idempotencyKey": "shift-2"})
	var replay struct {
		OpenShift struct {
			Replayed bool
			Shift    stlShift
		}
	}
	e.Exec(t, e.manager.Token, stlOpen, map[string]any{"i": map[string]any{"storeId": store, "deviceId": device, "openingFloat": 2000, "idempotencyKey": "shift-2"}}).Decode(t, &replay)
	require.True(t, replay.OpenShift.Replayed)
	require.Equal(t, next.ID, replay.OpenShift.Shift.ID)
	e.Exec(t, terminal, stlClose, map[string]any{"i": map[string]any{"shiftId": next.ID, "countedCash": 2000}}).Decode(t, &closed)
	require.Equal(t, int64(0), *closed.CloseShift.Shift.Difference)

	var list struct {
		Shifts struct {
			Edges []struct{ Node struct{ ID, Status string } }
		}
	}
	e.Exec(t, e.cashier.Token, `query($s: ID!) { shifts(storeId: $s, status: CLOSED, first: 10) { edges { node { id status } } } }`,
		map[string]any{"s": store}).Decode(t, &list)
	require.Len(t, list.Shifts.Edges, 2)
}

func TestSettlementConcurrentOpenShift(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	device, _ := e.terminal(t, "SHIFT-RACE", "")
	results := saleParallel(4, func(int) *tilltest.Result {
		return e.Exec(t, e.owner.Token, stlOpen, map[string]any{"i": map[string]any{"storeId": e.owner.StoreID, "deviceId": device, "openingFloat": 500}})
	})
	opened := 0
	for _, r := range results {
		if len(r.Errors) == 0 {
			opened++
			continue
		}
		require.Equal(t, "CONFLICT", r.Errors[0].Extensions["code"], "%+v", r.Errors)
	}
	require.Equal(t, 1, opened)
}

func TestSettlementCloseDay(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store, today := e.owner.StoreID, stlToday(t)
	e.stlChannel(t, "CARD", 250, 10, nil)
	e.stlChannel(t, "ALIPAY", 60, 0, nil)

	e.record(t, e.cashier.Token, saleOf(store, []any{saleItem("Tea", 1, 1800, 0)}, map[string]any{"type": "CASH", "amount": 1800, "tendered": 2000}))
	card := e.record(t, e.cashier.Token, saleOf(store, []any{saleItem("Pot", 1, 10000, 0)}, saleCard(10000, "CD-1")))
	e.record(t, e.cashier.Token, saleOf(store, []any{saleItem("Cup", 1, 3333, 0)}, saleCard(3333, "CD-2")))
	e.record(t, e.cashier.Token, saleOf(store, []any{saleItem("Leaf", 1, 5000, 0)}, stlWallet(5000, "ALIPAY", "AP-1")))
	e.record(t, e.cashier.Token, saleOf(store, []any{saleItem("Set", 1, 3000, 0)}, map[string]any{"type": "CASH", "amount": 1000}, stlWallet(2000, "WECHAT_PAY", "WX-1")))
	voided := e.record(t, e.cashier.Token, saleOf(store, []any{saleItem("Oops", 1, 7777, 0)}, saleCard(7777, "CD-V")))
	e.refund(t, e.cashier.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": voided.ID, "reason": "wrong item"})
	e.refund(t, e.cashier.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": card.ID, "reason": "chipped", "amount": 1000})
	later := e.record(t, e.cashier.Token, saleCash(store, 600))

	day := map[string]any{"storeId": store, "businessDate": today}
	saleWantErr(t, e.Exec(t, e.cashier.Token, stlDay, map[string]any{"i": day}), "FORBIDDEN", "")
	tomorrow, err := time.Parse(time.DateOnly, today)
	require.NoError(t, err)
	saleWantErr(t, e.Exec(t, e.manager.Token, stlDay, map[string]any{"i": map[string]any{"storeId": store, "businessDate": tomorrow.AddDate(0, 0, 1).Format(time.DateOnly)}}), "BAD_USER_INPUT", "businessDate")

	dc := e.stlCloseDay(t, e.manager.Token, store, today)
	// CARD fees: 10000 × 2.5% + 10 = 260, 3333 × 2.5% = 83.325 → 83 + 10 = 93.
	// The close lists its settlements in no order; settlements() by day and channel.
	slices.SortFunc(dc.Settlements, func(a, b stlSettlement) int { return strings.Compare(a.Channel, b.Channel) })
	require.Equal(t, []stlSettlement{
		{Channel: "ALIPAY", Count: 1, SalesAmount: 5000, Amount: 5000, FeeRateBp: 60, Fees: 30, NetToBank: 4970, BusinessDate: today},
		{Channel: "CARD", Count: 2, SalesAmount: 13333, RefundCount: 1, RefundsAmount: 1000, Amount: 12333, FeeRateBp: 250, FixedFee: 10, Fees: 353, NetToBank: 11980, BusinessDate: today},
		{Channel: "CASH", Count: 3, SalesAmount: 3400, Amount: 3400, NetToBank: 3400, BusinessDate: today},
		{Channel: "WECHAT_PAY", Count: 1, SalesAmount: 2000, Amount: 2000, NetToBank: 2000, BusinessDate: today},
	}, dc.Settlements)
	require.Equal(t, 7, dc.Count)
	require.Equal(t, int64(3400+12333+2000+5000), dc.Amount)
	require.Equal(t, int64(383), dc.Fees)
	require.Equal(t, dc.Amount-383, dc.NetToBank)
	require.Equal(t, "CNY", dc.Currency)
	require.Equal(t, e.manager.ID, dc.ClosedByID)

	res := e.Exec(t, e.owner.Token, stlDay, map[string]any{"i": day})
	require.Contains(t, saleWantErr(t, res, "CONFLICT", "").Message, "was closed")

	// The day is locked against voids; refunds go on.
	res = e.Exec(t, e.cashier.Token, saleVoid, map[string]any{"i": map[string]any{"idempotencyKey": saleKey(), "saleId": later.ID, "reason": "late void"}})
	require.Contains(t, saleWantErr(t, res, "CONFLICT", "").Message, "closed")
	refunded := e.refund(t, e.cashier.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": later.ID, "reason": "late", "amount": 600})
	require.Equal(t, "REFUNDED", refunded.Sale.Status)

	var read struct {
		DayClose    *stlDayClose
		Settlements []stlSettlement
	}
	e.Exec(t, e.manager.Token, `query($s: ID!, $d: String!) { dayClose(storeId: $s, businessDate: $d) { id amount }
		settlements(storeId: $s, from: $d, to: $d) { `+stlFields+` } }`, map[string]any{"s": store, "d": today}).Decode(t, &read)
	require.Equal(t, dc.ID, read.DayClose.ID)
	require.Equal(t, dc.Settlements, read.Settlements)
	saleWantErr(t, e.Exec(t, e.cashier.Token, `query($s: ID!, $d: String!) { settlements(storeId: $s, from: $d, to: $d) { amount } }`,
		map[string]any{"s": store, "d": today}), "FORBIDDEN", "")
}

func TestSettlementCloseEmptyDay(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	dc := e.stlCloseDay(t, e.owner.Token, e.owner.StoreID, stlToday(t))
	require.Empty(t, dc.Settlements)
	require.Zero(t, dc.Amount)
}

func TestSettlementReconciliation(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store, today := e.owner.StoreID, stlToday(t)
	e.stlChannel(t, "CARD", 250, 10, map[string]any{
		"referenceColumn": "Reference", "amountColumn": "Amount", "dateColumn": "Date", "feeColumn": "Fee",
		"amountFormat": "DECIMAL", "hasHeader": true,
	})
	s1 := e.record(t, e.cashier.Token, saleOf(store, []any{saleItem("Pot", 1, 10000, 0)}, saleCard(10000, "RC-1")))
	s2 := e.record(t, e.cashier.Token, saleOf(store, []any{saleItem("Cup", 1, 3333, 0)}, saleCard(3333, "RC-2")))
	s3 := e.record(t, e.cashier.Token, saleOf(store, []any{saleItem("Jar", 1, 2000, 0)}, saleCard(2000, "RC-3")))
	// Another channel's tender is no concern of the card statement.
	e.record(t, e.cashier.Token, saleOf(store, []any{saleItem("Leaf", 1, 900, 0)}, stlWallet(900, "ALIPAY", "RC-4")))
	e.stlCloseDay(t, e.owner.Token, store, today)

	statement := "Date,Reference,Amount,Fee\n" +
		today + ",RC-1,100.00,2.60\n" +
		today + ",RC-2,33.30,0.93\n" +
		today + ",RC-9,5.00,0.10\n"
	var out struct {
		ImportSettlementStatement struct {
			StatementImport struct {
				ID, Channel, FromDate, ToDate                                           string
				LineCount, Matched, MissingOnOurSide, MissingOnTheirs, AmountMismatches int
				Lines                                                                   []stlLine
				Days                                                                    []struct {
					Date            string
					StatementAmount int64
					SettledAmount   *int64
					Matches         bool
				}
			}
			Matched, MissingOnOurSide, MissingOnTheirs, AmountMismatches []stlLine
		}
	}
	e.Exec(t, e.manager.Token, stlImport, map[string]any{"i": map[string]any{"channel": "CARD", "storeId": store, "csv": statement}}).Decode(t, &out)
	got := out.ImportSettlementStatement
	i64 := func(v int64) *int64 { return &v }
	tenderOf := func(s saleSale) *string { return &s.Tenders[0].ID }
	require.Equal(t, []stlLine{{Line: 2, Outcome: "MATCHED", Reference: "RC-1", Date: &today, TheirAmount: i64(10000), OurAmount: i64(10000), Fee: i64(260), TenderID: tenderOf(s1), SaleID: &s1.ID}}, got.Matched)
	require.Equal(t, []stlLine{{Line: 3, Outcome: "AMOUNT_MISMATCH", Reference: "RC-2", Date: &today, TheirAmount: i64(3330), OurAmount: i64(3333), Fee: i64(93), TenderID: tenderOf(s2), SaleID: &s2.ID}}, got.AmountMismatches)
	require.Equal(t, []stlLine{{Line: 4, Outcome: "MISSING_ON_OUR_SIDE", Reference: "RC-9", Date: &today, TheirAmount: i64(500), Fee: i64(10)}}, got.MissingOnOurSide)
	require.Equal(t, []stlLine{{Line: 0, Outcome: "MISSING_ON_THEIRS", Reference: "RC-3", Date: &today, OurAmount: i64(2000), TenderID: tenderOf(s3), SaleID: &s3.ID}}, got.MissingOnTheirs)

	imp := got.StatementImport
	require.Equal(t, "CARD", imp.Channel)
	require.Equal(t, [2]string{today, today}, [2]string{imp.FromDate, imp.ToDate})
	require.Equal(t, []int{3, 1, 1, 1, 1}, []int{imp.LineCount, imp.Matched, imp.MissingOnOurSide, imp.MissingOnTheirs, imp.AmountMismatches})
	require.Len(t, imp.Lines, 4)
	require.Len(t, imp.Days, 1)
	require.Equal(t, today, imp.Days[0].Date)
	require.Equal(t, int64(10000+3330+500), imp.Days[0].StatementAmount)
	require.Equal(t, int64(10000+3333+2000), *imp.Days[0].SettledAmount)
	require.False(t, imp.Days[0].Matches)

	// The kept import reads back as a node.
	var node struct{ Node struct{ Matched int } }
	e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on StatementImport { matched } } }`, map[string]any{"id": imp.ID}).Decode(t, &node)
	require.Equal(t, 1, node.Node.Matched)

	bad := "Date,Reference,Amount,Fee\n" + today + ",RC-1,100.001,0\n" + today + ",,1.00,0\n"
	res := e.Exec(t, e.owner.Token, stlImport, map[string]any{"i": map[string]any{"channel": "CARD", "csv": bad}})
	msg := saleWantErr(t, res, "BAD_USER_INPUT", "csv").Message
	require.Contains(t, msg, "line 2:")
	require.Contains(t, msg, "line 3:")
	saleWantErr(t, e.Exec(t, e.cashier.Token, stlImport, map[string]any{"i": map[string]any{"channel": "CARD", "storeId": store, "csv": statement}}), "FORBIDDEN", "")
}

func TestSettlementTenancy(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store, today := e.owner.StoreID, stlToday(t)
	e.record(t, e.cashier.Token, saleCash(store, 1200))
	device, _ := e.terminal(t, "SHIFT-T", "")
	sh := e.stlOpenShift(t, e.owner.Token, map[string]any{"storeId": store, "deviceId": device, "openingFloat": 100})
	e.stlCloseDay(t, e.owner.Token, store, today)

	// Staff of the merchant act only at the stores they work at.
	second := e.store(t, e.owner.Token, "Second")
	saleWantErr(t, e.Exec(t, e.manager.Token, stlDay, map[string]any{"i": map[string]any{"storeId": second, "businessDate": today}}), "FORBIDDEN", "storeId")
	saleWantErr(t, e.Exec(t, e.cashier.Token, stlOpen, map[string]any{"i": map[string]any{"storeId": second, "deviceId": device, "openingFloat": 0}}), "FORBIDDEN", "storeId")

	other := e.SignUp(t, "Other Tea")
	saleWantErr(t, e.Exec(t, other.Token, stlDay, map[string]any{"i": map[string]any{"storeId": store, "businessDate": today}}), "NOT_FOUND", "storeId")
	vars := map[string]any{"s": store, "d": today}
	saleWantErr(t, e.Exec(t, other.Token, `query($s: ID!, $d: String!) { settlements(storeId: $s, from: $d, to: $d) { amount } }`, vars), "NOT_FOUND", "storeId")
	saleWantErr(t, e.Exec(t, other.Token, `query($s: ID!, $d: String!) { dayClose(storeId: $s, businessDate: $d) { id } }`, vars), "NOT_FOUND", "storeId")
	saleWantErr(t, e.Exec(t, other.Token, `query($s: ID!) { shifts(storeId: $s) { totalCount } }`, map[string]any{"s": store}), "NOT_FOUND", "storeId")
	saleWantErr(t, e.Exec(t, other.Token, stlClose, map[string]any{"i": map[string]any{"shiftId": sh.ID, "countedCash": 100}}), "NOT_FOUND", "shiftId")
	saleWantErr(t, e.Exec(t, other.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": sh.ID}), "NOT_FOUND", "")
	var own struct{ SettlementChannels []struct{ Channel string } }
	e.Exec(t, other.Token, `{ settlementChannels { channel } }`, nil).Decode(t, &own)
	require.Empty(t, own.SettlementChannels)
}

// A void and the close of its day, at once: either the void lands first
// and the close leaves the sale out, or the close does and the void is
// refused. Never a voided sale inside a settlement.
func TestSettlementCloseDayRacesVoid(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store, today := e.owner.StoreID, stlToday(t)
	sl := e.record(t, e.cashier.Token, saleCash(store, 4200))
	results := saleParallel(2, func(i int) *tilltest.Result {
		if i == 0 {
			return e.Exec(t, e.cashier.Token, saleVoid, map[string]any{"i": map[string]any{"idempotencyKey": saleKey(), "saleId": sl.ID, "reason": "race"}})
		}
		return e.Exec(t, e.owner.Token, stlDay, map[string]any{"i": map[string]any{"storeId": store, "businessDate": today}})
	})
	void, closed := results[0], results[1]
	require.Empty(t, closed.Errors)
	var out struct {
		CloseDay struct{ DayClose stlDayClose }
	}
	closed.Decode(t, &out)
	if len(void.Errors) == 0 {
		require.Zero(t, out.CloseDay.DayClose.Amount, "the void came first")
	} else {
		require.Equal(t, "CONFLICT", void.Code(), "%+v", void.Errors)
		require.Equal(t, int64(4200), out.CloseDay.DayClose.Amount, "the close came first")
	}
}
