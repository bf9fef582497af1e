package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/sales"
	"github.com/tillpos/till/server"
)

// Customer and device analysis through the API: segment shares, monthly
// cohorts, top customers and the store's device report; and retention:
// sales, refunds and audit records cannot be deleted.

const (
	anSegments = `{ customerSegmentReport { customers unscored totalSpent segments { segment count unscored spent revenueShare } } }`
	anCohorts  = `query($from: String!, $to: String!, $store: ID) { customerCohorts(fromMonth: $from, toMonth: $to, storeId: $store) {
		month size months { offset month customers retention } } }`
	anTop = `query($store: ID, $first: Int!, $by: TopCustomersBy!) { topCustomers(storeId: $store, first: $first, by: $by) {
		spent visits customer { id name phone contactMasked } } }`
	anDevices = `query($store: ID!, $from: Time!, $to: Time!) { deviceReport(storeId: $store, from: $from, to: $to) {
		device { id serialNumber } performance { salesCount salesAmount errors uptime } } }`
	anMerge = `mutation($i: MergeCustomersInput!) { mergeCustomers(input: $i) { customer { id } } }`
)

type anCohortMonth struct {
	Offset    int
	Month     string
	Customers int
	Retention float64
}

type anCohort struct {
	Month  string
	Size   int
	Months []anCohortMonth
}

type anTopCustomer struct {
	Spent    int64
	Visits   int
	Customer struct {
		ID, Name      string
		Phone         *string
		ContactMasked bool
	}
}

// anEnv is a sale environment whose sales service runs on a clock.
type anEnv struct {
	*saleEnv
	clock *tilltest.Clock
}

func newAnEnv(t *testing.T, at time.Time) *anEnv {
	t.Helper()
	clock := tilltest.NewClock(at)
	return &anEnv{saleEnv: newSaleEnv(t, server.WithSalesOptions(sales.WithClock(clock.Now))), clock: clock}
}

// buy records a cash sale of price for customer at store as the owner, at
// the clock's time.
func (e *anEnv) buy(t *testing.T, store, customer string, price int64) saleSale {
	t.Helper()
	return e.record(t, e.owner.Token, saleWith(saleCash(store, price), map[string]any{"customerId": customer}))
}

func (e *anEnv) cohorts(t *testing.T, token, from, to string, store *string) []anCohort {
	t.Helper()
	var out struct{ CustomerCohorts []anCohort }
	e.Exec(t, token, anCohorts, map[string]any{"from": from, "to": to, "store": store}).Decode(t, &out)
	return out.CustomerCohorts
}

func (e *anEnv) top(t *testing.T, token string, store *string, by string) []anTopCustomer {
	t.Helper()
	var out struct{ TopCustomers []anTopCustomer }
	e.Exec(t, token, anTop, map[string]any{"store": store, "first": 10, "by": by}).Decode(t, &out)
	return out.TopCustomers
}

// anMonths builds a cohort's months from its size and the customers who
// bought at each offset from month.
func anMonths(month string, size int, customers ...int) anCohort {
	c := anCohort{Month: month, Size: size}
	start, _ := time.Parse("2006-01", month)
	for o, n := range customers {
		m := anCohortMonth{Offset: o, Month: start.AddDate(0, o, 0).Format("2006-01"), Customers: n}
		if size > 0 {
			m.Retention = float64(n) / float64(size)
		}
		c.Months = append(c.Months, m)
	}
	return c
}

// shanghaiNoon is noon of a day in Asia/Shanghai, the test merchant's zone.
func shanghaiNoon(month time.Month, day int) time.Time {
	return time.Date(2026, month, day, 4, 0, 0, 0, time.UTC)
}

func TestAnalysisCohorts(t *testing.T) {
	e := newAnEnv(t, shanghaiNoon(time.September, 10))
	store, second := e.owner.StoreID, e.store(t, e.owner.Token, "Bund")
	a, b, c := e.customer(t, e.owner.Token, "Ada"), e.customer(t, e.owner.Token, "Bo"), e.customer(t, e.owner.Token, "Cy")
	d, dup, f := e.customer(t, e.owner.Token, "Di"), e.customer(t, e.owner.Token, "Di (card)"), e.customer(t, e.owner.Token, "Fe")
	e.customer(t, e.owner.Token, "Gu") // never buys

	// September: Ada and Bo buy; Cy's only sale is voided, so Cy did not.
	e.buy(t, store, a, 1000)
	bSep := e.buy(t, store, b, 2000)
	voided := e.buy(t, store, c, 5000)
	e.refund(t, e.owner.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": voided.ID, "reason": "wrong customer"})
	// A partial refund leaves the month counted.
	e.refund(t, e.owner.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": bSep.ID, "reason": "chipped", "amount": 500})

	// October: Ada again, Cy's first, and Di's duplicate card.
	e.clock.Set(shanghaiNoon(time.October, 8))
	e.buy(t, store, a, 1000)
	e.buy(t, store, c, 3000)
	e.buy(t, store, dup, 700)

	// November: Bo at the second store, Di; Fe's sale comes offline, made
	// at 04:00 on 1 November in Shanghai (still 31 October in UTC).
	e.clock.Set(shanghaiNoon(time.November, 5))
	e.buy(t, second, b, 4000)
	e.buy(t, store, d, 800)
	e.record(t, e.owner.Token, saleWith(saleCash(store, 600), map[string]any{
		"customerId": f, "occurredAt": time.Date(2026, time.October, 31, 20, 0, 0, 0, time.UTC).Format(time.RFC3339)}))

	// December: Ada; then the duplicate is merged into Di, whose first
	// purchase becomes October's.
	e.clock.Set(shanghaiNoon(time.December, 1))
	e.buy(t, store, a, 1000)
	e.Exec(t, e.manager.Token, anMerge, map[string]any{"i": map[string]any{"survivorId": d, "duplicateId": dup}}).Decode(t, &struct{}{})

	want := []anCohort{
		anMonths("2026-09", 2, 2, 1, 1, 1), // Ada, Bo: Ada in Oct and Dec, Bo in Nov
		anMonths("2026-10", 2, 2, 1, 0),    // Cy, Di: Di in Nov
		anMonths("2026-11", 1, 1, 0),       // Fe
	}
	for _, token := range []string{e.owner.Token, e.manager.Token} {
		require.Equal(t, want, e.cohorts(t, token, "2026-09", "2026-11", nil))
	}
	require.Equal(t, []anCohort{anMonths("2026-10", 2, 2, 1, 0)}, e.cohorts(t, e.owner.Token, "2026-10", "2026-10", nil))
	// At the second store only Bo bought, first in November.
	require.Equal(t, []anCohort{anMonths("2026-10", 0, 0, 0), anMonths("2026-11", 1, 1)},
		e.cohorts(t, e.owner.Token, "2026-10", "2026-11", &second))

	// A merged duplicate's months went to the survivor: none is left
	// under the duplicate.
	var left int
	require.NoError(t, e.DB.SQL.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM customer_months WHERE customer_id = $1`, dup).Scan(&left))
	require.Zero(t, left)

	// Top customers: lifetime, then at the second store.
	names := func(list []anTopCustomer) []string {
		out := []string{}
		for _, c := range list {
			out = append(out, c.Customer.Name)
		}
		return out
	}
	bySpend := e.top(t, e.manager.Token, nil, "SPEND")
	// Ada and Cy spent as much; Ada came more often.
	require.Equal(t, []string{"Bo", "Ada", "Cy", "Di", "Fe", "Gu"}, names(bySpend))
	require.Equal(t, int64(5500), bySpend[0].Spent)
	require.Equal(t, 2, bySpend[0].Visits)
	byVisits := e.top(t, e.owner.Token, nil, "VISITS")
	// Cy's voided sale is not a visit; Bo and Di came twice, Bo spent more.
	require.Equal(t, []string{"Ada", "Bo", "Di", "Cy", "Fe", "Gu"}, names(byVisits))
	require.Equal(t, 3, byVisits[0].Visits)
	require.Equal(t, int64(3000), byVisits[0].Spent)
	atSecond := e.top(t, e.owner.Token, &second, "SPEND")
	require.Len(t, atSecond, 1)
	require.Equal(t, "Bo", atSecond[0].Customer.Name)
	require.Equal(t, int64(4000), atSecond[0].Spent)
	require.Equal(t, 1, atSecond[0].Visits)

	// Segments: every active customer counted once, shares of their spend.
	var seg struct {
		CustomerSegmentReport struct {
			Customers, Unscored int
			TotalSpent          int64
			Segments            []struct {
				Segment         string
				Count, Unscored int
				Spent           int64
				RevenueShare    float64
			}
		}
	}
	e.Exec(t, e.owner.Token, anSegments, nil).Decode(t, &seg)
	var list struct {
		Customers struct {
			Edges []struct {
				Node struct {
					Segment     string
					TotalSpent  int64
					LastVisitAt *time.Time
				}
			}
		}
	}
	e.Exec(t, e.owner.Token, `{ customers(first: 100, where: {status: ACTIVE}) { edges { node { segment totalSpent lastVisitAt } } } }`, nil).Decode(t, &list)
	wantCount, wantSpent, wantUnscored := map[string]int{}, map[string]int64{}, map[string]int{}
	var total int64
	for _, edge := range list.Customers.Edges {
		wantCount[edge.Node.Segment]++
		wantSpent[edge.Node.Segment] += edge.Node.TotalSpent
		total += edge.Node.TotalSpent
		if edge.Node.LastVisitAt == nil {
			wantUnscored[edge.Node.Segment]++
		}
	}
	report := seg.CustomerSegmentReport
	require.Equal(t, 6, report.Customers, "the merged duplicate is not counted")
	require.Equal(t, 1, report.Unscored, "Gu never bought")
	require.Equal(t, total, report.TotalSpent)
	require.Equal(t, int64(1000+1000+1000+2000-500+4000+3000+700+800+600), report.TotalSpent)
	require.Len(t, report.Segments, 6)
	var shares float64
	for _, s := range report.Segments {
		require.Equal(t, wantCount[s.Segment], s.Count, s.Segment)
		require.Equal(t, wantSpent[s.Segment], s.Spent, s.Segment)
		require.Equal(t, wantUnscored[s.Segment], s.Unscored, s.Segment)
		require.InDelta(t, float64(wantSpent[s.Segment])/float64(total), s.RevenueShare, 1e-9, s.Segment)
		shares += s.RevenueShare
	}
	require.InDelta(t, 1, shares, 1e-9)
}

func TestAnalysisRefused(t *testing.T) {
	e := newAnEnv(t, time.Now().UTC())
	store := e.owner.StoreID
	a := e.customer(t, e.owner.Token, "Ada")
	e.buy(t, store, a, 1000)
	second := e.store(t, e.owner.Token, "Bund")
	now := time.Now().UTC()
	period := map[string]any{"store": store, "from": now.Add(-time.Hour).Format(time.RFC3339), "to": now.Add(time.Hour).Format(time.RFC3339)}
	month := now.Format("2006-01")
	queries := []struct {
		name, query string
		vars        map[string]any
	}{
		{"segments", anSegments, nil},
		{"cohorts", anCohorts, map[string]any{"from": month, "to": month}},
		{"top", anTop, map[string]any{"first": 10, "by": "SPEND"}},
		{"devices", anDevices, period},
	}
	for _, q := range queries {
		t.Run("cashier "+q.name, func(t *testing.T) {
			saleWantErr(t, e.Exec(t, e.cashier.Token, q.query, q.vars), "FORBIDDEN", "")
		})
	}
	// A manager only for the stores they work at.
	saleWantErr(t, e.Exec(t, e.manager.Token, anCohorts, map[string]any{"from": month, "to": month, "store": second}), "FORBIDDEN", "storeId")
	saleWantErr(t, e.Exec(t, e.manager.Token, anTop, map[string]any{"store": second, "first": 10, "by": "SPEND"}), "FORBIDDEN", "storeId")
	saleWantErr(t, e.Exec(t, e.manager.Token, anDevices, saleWith(period, map[string]any{"store": second})), "FORBIDDEN", "storeId")
	// Input checks.
	saleWantErr(t, e.Exec(t, e.owner.Token, anCohorts, map[string]any{"from": "2026-13", "to": month}), "BAD_USER_INPUT", "fromMonth")
	saleWantErr(t, e.Exec(t, e.owner.Token, anCohorts, map[string]any{"from": "2026-11", "to": "2026-10"}), "BAD_USER_INPUT", "toMonth")
	saleWantErr(t, e.Exec(t, e.owner.Token, anCohorts, map[string]any{"from": "2020-01", "to": "2026-10"}), "BAD_USER_INPUT", "toMonth")
	saleWantErr(t, e.Exec(t, e.owner.Token, anTop, map[string]any{"first": 101, "by": "SPEND"}), "BAD_USER_INPUT", "first")
	saleWantErr(t, e.Exec(t, e.owner.Token, anDevices, saleWith(period, map[string]any{"to": period["from"]})), "BAD_USER_INPUT", "to")

	// Another merchant sees none of this one's.
	other := e.SignUp(t, "Other Tea")
	var seg struct {
		CustomerSegmentReport struct {
			Customers  int
			TotalSpent int64
		}
	}
	e.Exec(t, other.Token, anSegments, nil).Decode(t, &seg)
	require.Zero(t, seg.CustomerSegmentReport.Customers)
	require.Zero(t, seg.CustomerSegmentReport.TotalSpent)
	require.Empty(t, e.top(t, other.Token, nil, "SPEND"))
	require.Equal(t, []anCohort{anMonths(month, 0, 0)}, e.cohorts(t, other.Token, month, month, nil))
	for _, q := range []struct{ query string }{{anCohorts}, {anTop}, {anDevices}} {
		vars := saleWith(period, map[string]any{"from": period["from"], "first": 10, "by": "SPEND"})
		if q.query == anCohorts {
			vars = map[string]any{"from": month, "to": month, "store": store}
		}
		saleWantErr(t, e.Exec(t, other.Token, q.query, vars), "NOT_FOUND", "storeId")
	}
}

func TestAnalysisDeviceReport(t *testing.T) {
	e := newSaleEnv(t)
	first, firstToken := e.terminal(t, "SN-A", "")
	second, secondToken := e.terminal(t, "SN-B", "")
	idle, _ := e.terminal(t, "SN-C", "")
	store := e.owner.StoreID
	e.record(t, firstToken, saleCash(store, 500))
	e.record(t, secondToken, saleCash(store, 300))
	e.record(t, secondToken, saleCash(store, 400))
	voided := e.record(t, firstToken, saleCash(store, 900))
	e.refund(t, e.owner.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": voided.ID, "reason": "test"})
	// Another store's device is not in this store's report.
	e.store(t, e.owner.Token, "Bund")

	now := time.Now().UTC()
	var out struct {
		DeviceReport []struct {
			Device      struct{ ID, SerialNumber string }
			Performance struct {
				SalesCount  int
				SalesAmount int64
				Errors      int
				Uptime      float64
			}
		}
	}
	for _, token := range []string{e.owner.Token, e.manager.Token} {
		e.Exec(t, token, anDevices, map[string]any{"store": store, "from": now.Add(-time.Hour).Format(time.RFC3339), "to": now.Add(time.Hour).Format(time.RFC3339)}).Decode(t, &out)
		got := [][3]any{}
		for _, r := range out.DeviceReport {
			got = append(got, [3]any{r.Device.ID, r.Performance.SalesCount, r.Performance.SalesAmount})
		}
		require.Equal(t, [][3]any{{second, 2, int64(700)}, {first, 1, int64(500)}, {idle, 0, int64(0)}}, got)
	}
}

func TestRetentionNoDeletes(t *testing.T) {
	e := newSaleEnv(t)
	cust := e.customer(t, e.owner.Token, "Ada")
	s := e.record(t, e.owner.Token, saleWith(saleCash(e.owner.StoreID, 1000), map[string]any{"customerId": cust}))
	e.refund(t, e.owner.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "chipped", "amount": 100})
	// Erasing the customer keeps the sale, anonymous.
	e.Exec(t, e.owner.Token, `mutation($i: CustomerIdInput!) { eraseCustomer(input: $i) { customer { id } } }`,
		map[string]any{"i": map[string]any{"customerId": cust}}).Decode(t, &struct{}{})

	client := e.DB.Client
	viewers := map[string]context.Context{
		"owner": viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindStaff, ID: pulid.ID(e.owner.ID),
			MerchantID: pulid.ID(e.owner.MerchantID), Role: viewer.RoleOwner}),
		"operator": viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindOperator, Role: viewer.RoleOperator}),
		"system":   viewer.NewSystemContext(t.Context(), "retention-test"),
	}
	deletes := map[string]func(context.Context) error{
		"Sale":          func(ctx context.Context) error { _, err := client.Sale.Delete().Exec(ctx); return err },
		"SaleOne":       func(ctx context.Context) error { return client.Sale.DeleteOneID(pulid.ID(s.ID)).Exec(ctx) },
		"SaleLine":      func(ctx context.Context) error { _, err := client.SaleLine.Delete().Exec(ctx); return err },
		"Tender":        func(ctx context.Context) error { _, err := client.Tender.Delete().Exec(ctx); return err },
		"Refund":        func(ctx context.Context) error { _, err := client.Refund.Delete().Exec(ctx); return err },
		"RefundLine":    func(ctx context.Context) error { _, err := client.RefundLine.Delete().Exec(ctx); return err },
		"RefundTender":  func(ctx context.Context) error { _, err := client.RefundTender.Delete().Exec(ctx); return err },
		"AuditEntry":    func(ctx context.Context) error { _, err := client.AuditEntry.Delete().Exec(ctx); return err },
		"PlatformAudit": func(ctx context.Context) error { _, err := client.PlatformAuditEntry.Delete().Exec(ctx); return err },
	}
	for who, ctx := range viewers {
		for what, del := range deletes {
			t.Run(who+" "+what, func(t *testing.T) {
				err := del(ctx)
				require.Error(t, err)
				if who == "system" {
					// Privacy allows the system everything; the retention
					// hook still refuses.
					require.ErrorContains(t, err, "cannot be deleted")
				}
			})
		}
	}
	for _, table := range []string{"sales", "sale_lines", "tenders", "refunds", "refund_tenders", "audit_entries"} {
		var n int
		require.NoError(t, e.DB.SQL.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM `+table).Scan(&n))
		require.NotZero(t, n, table)
	}
	var got struct{ Node struct{ CustomerID *string } }
	e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on Sale { customerID } } }`, map[string]any{"id": s.ID}).Decode(t, &got)
	require.Equal(t, &cust, got.Node.CustomerID, "the sale stays, with the anonymous customer")

	// No mutation of the API deletes a retained record.
	var schema struct {
		Schema struct {
			MutationType struct{ Fields []struct{ Name string } }
		} `json:"__schema"`
	}
	e.Exec(t, e.owner.Token, `{ __schema { mutationType { fields { name } } } }`, nil).Decode(t, &schema)
	require.NotEmpty(t, schema.Schema.MutationType.Fields)
	for _, f := range schema.Schema.MutationType.Fields {
		name := strings.ToLower(f.Name)
		if !strings.HasPrefix(name, "delete") && !strings.HasPrefix(name, "remove") && !strings.HasPrefix(name, "purge") {
			continue
		}
		for _, retained := range []string{"sale", "refund", "tender", "audit", "settlement", "dayclose", "shift"} {
			require.NotContains(t, name, retained, "mutation %s", f.Name)
		}
	}
}
