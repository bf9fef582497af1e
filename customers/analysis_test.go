package customers_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/refund"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
)

// TestCohortsFromMonths: the sale hooks keep customer months, and cohorts
// read them: a void takes a month back, a store narrows the cohorts.
func TestCohortsFromMonths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.owner)
	a := e.create(t, ctx, customers.Profile{Name: ptr("Ada")})
	b := e.create(t, ctx, customers.Profile{Name: ptr("Bo")})
	sale := func(c *ent.Customer, store pulid.ID, date string, total int64) *ent.Sale {
		return &ent.Sale{MerchantID: e.merchantID, CustomerID: &c.ID, StoreID: store, BusinessDate: date, Total: total}
	}
	inTx := func(fn func(tx *ent.Tx) error) {
		t.Helper()
		require.NoError(t, db.WithTx(ctx, e.client, fn))
	}
	voided := sale(b, e.store1, "2026-01-20", 900)
	for _, sl := range []*ent.Sale{
		sale(a, e.store1, "2026-01-03", 100), sale(a, e.store2, "2026-03-31", 100),
		voided, sale(b, e.store2, "2026-02-01", 300),
	} {
		inTx(func(tx *ent.Tx) error { return customers.RecordMonth(ctx, tx, sl, nil) })
	}
	inTx(func(tx *ent.Tx) error {
		return customers.RefundMonth(ctx, tx, voided, &ent.Refund{Kind: refund.KindVOID, Amount: 900})
	})
	// A sale without a customer counts nowhere.
	inTx(func(tx *ent.Tx) error {
		return customers.RecordMonth(ctx, tx, &ent.Sale{MerchantID: e.merchantID, StoreID: e.store1, BusinessDate: "2026-01-05"}, nil)
	})

	month := func(offset int, m string, n int, r float64) *customers.CohortMonth {
		return &customers.CohortMonth{Offset: offset, Month: m, Customers: n, Retention: r}
	}
	got, err := e.svc.Cohorts(ctx, "2026-01", "2026-02", nil)
	require.NoError(t, err)
	require.Equal(t, []*customers.Cohort{
		{Month: "2026-01", Size: 1, Months: []*customers.CohortMonth{month(0, "2026-01", 1, 1), month(1, "2026-02", 0, 0), month(2, "2026-03", 1, 1)}},
		{Month: "2026-02", Size: 1, Months: []*customers.CohortMonth{month(0, "2026-02", 1, 1), month(1, "2026-03", 0, 0)}},
	}, got)

	got, err = e.svc.Cohorts(ctx, "2026-03", "2026-03", &e.store2)
	require.NoError(t, err)
	require.Equal(t, []*customers.Cohort{{Month: "2026-03", Size: 1, Months: []*customers.CohortMonth{month(0, "2026-03", 1, 1)}}}, got,
		"Ada's first purchase at store2 was in March")

	for _, bad := range []struct{ from, to, field string }{
		{"2026-1", "2026-02", "fromMonth"}, {"2026-01", "x", "toMonth"}, {"2026-03", "2026-02", "toMonth"}, {"2023-01", "2026-01", "toMonth"},
	} {
		_, err := e.svc.Cohorts(ctx, bad.from, bad.to, nil)
		requireField(t, err, errs.BadUserInput, bad.field)
	}
	_, err = e.svc.Cohorts(as(t, e.cashier), "2026-01", "2026-01", nil)
	requireCode(t, err, errs.Forbidden)
	_, err = e.svc.Cohorts(operator(t), "2026-01", "2026-01", nil)
	requireCode(t, err, errs.Forbidden)
}
