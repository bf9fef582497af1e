package reports_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // the store's time zone resolves on hosts without zoneinfo

	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/salesfacetday"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/store"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/reports"
)

// BenchmarkDashboard measures the dashboard's queries (salesSummary for
// THIS_MONTH, with the previous period, and salesTrend by DAY) for a
// merchant with 1,000 sales and one with 1,000,000, over the year before
// the benchmark's today. It runs on SQLite, or on the PostgreSQL named by
// TILL_TEST_DATABASE_URL:
//
//	go test -run '^$' -bench Dashboard -benchtime 200x ./reports/
//
// Seeding happens only under -bench: the sales are generated (seeded
// RNG: hour of day, tenders, cashier, terminal, products) and summed into
// exactly the rollup rows the sale hooks would write for them, which are
// bulk inserted; the sales themselves are not written, since no report
// reads them.
func BenchmarkDashboard(b *testing.B) {
	now := time.Date(2026, 11, 20, 4, 0, 0, 0, time.UTC) // noon in Shanghai
	for _, n := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("sales=%d", n), func(b *testing.B) {
			d := tilltest.OpenDB(b)
			ctx, storeID := benchMerchant(b, d)
			start := time.Now()
			rows := benchSeed(b, d, ctx, storeID, n, now)
			b.Logf("%s: %d sales as %d rollup rows, seeded in %s", d.Dialect, n, rows, time.Since(start).Round(time.Millisecond))
			svc := reports.New(d.Client, reports.WithClock(func() time.Time { return now }))
			month := reports.PeriodInput{Preset: reports.ThisMonth}
			b.ResetTimer()
			for b.Loop() {
				if _, err := svc.Summary(ctx, &storeID, month); err != nil {
					b.Fatal(err)
				}
				if _, err := svc.Trend(ctx, &storeID, month, reports.Day); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchMerchant signs a merchant up and returns its owner's context and
// its store.
func benchMerchant(b *testing.B, d *db.DB) (context.Context, pulid.ID) {
	owner, err := merchants.New(d.Client, password.NewHasher(bcrypt.MinCost)).SignUp(b.Context(), merchants.SignUpInput{
		MerchantName: "Lotus Tea", OwnerName: "Owner", Email: tilltest.UniqueEmail("owner"),
		Password: tilltest.Password, Currency: "CNY", TimeZone: "Asia/Shanghai", Locale: "zh-CN",
	})
	if err != nil {
		b.Fatalf("signing up: %v", err)
	}
	storeID, err := d.Store.Query().Where(store.MerchantID(owner.MerchantID)).OnlyID(viewer.NewSystemContext(b.Context(), "bench"))
	if err != nil {
		b.Fatalf("finding the store: %v", err)
	}
	ctx := viewer.NewContext(b.Context(), &viewer.Viewer{
		Kind: viewer.KindStaff, ID: owner.ID, MerchantID: owner.MerchantID, Role: viewer.Role(owner.Role), SessionID: "bench",
	})
	return ctx, storeID
}

// benchSeed writes the rollup rows of n sales over the 365 days to now and
// returns how many rows that is.
func benchSeed(b *testing.B, d *db.DB, ctx context.Context, storeID pulid.ID, n int, now time.Time) int {
	type hourKey struct {
		date string
		hour int
	}
	type facetKey struct {
		date, dim, key string
	}
	type productKey struct {
		date string
		p    int
	}
	type figures struct{ count, total, tax, items int64 }
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	hours, facets, products := map[hourKey]*figures{}, map[facetKey]*figures{}, map[productKey]*figures{}
	add := func(f *figures, total, tax, items int64) {
		f.count++
		f.total += total
		f.tax += tax
		f.items += items
	}
	tenders := []string{"CASH", "CARD", "MOBILE_WALLET", "STORED_VALUE"}
	for range n {
		date := now.AddDate(0, 0, -rng.IntN(365)).Format(time.DateOnly)
		hour := 8 + rng.IntN(14)
		var total, tax, items int64
		for range 1 + rng.IntN(3) {
			p, qty := rng.IntN(50), int64(1+rng.IntN(3))
			price := int64(500 + 100*p)
			pf := products[productKey{date, p}]
			if pf == nil {
				pf = &figures{}
				products[productKey{date, p}] = pf
			}
			add(pf, qty*price, qty*price*6/106, qty)
			total += qty * price
			tax += qty * price * 6 / 106
			items += qty
		}
		hk := hourKey{date, hour}
		if hours[hk] == nil {
			hours[hk] = &figures{}
		}
		add(hours[hk], total, tax, items)
		for _, k := range []facetKey{
			{date, "TENDER", tenders[rng.IntN(len(tenders))]},
			{date, "STAFF", fmt.Sprint("stf", rng.IntN(5))},
			{date, "DEVICE", fmt.Sprint("dev", rng.IntN(3))},
		} {
			if facets[k] == nil {
				facets[k] = &figures{}
			}
			add(facets[k], total, tax, items)
		}
	}
	sys := viewer.NewSystemContext(ctx, "bench seed")
	merchantID := viewer.FromContext(ctx).MerchantID
	const batch = 500
	var hourRows []*ent.SalesHourCreate
	for k, f := range hours {
		hourRows = append(hourRows, d.SalesHour.Create().SetMerchantID(merchantID).SetStoreID(storeID).SetBusinessDate(k.date).SetHour(k.hour).
			SetSalesCount(f.count).SetSalesTotal(f.total).SetTaxTotal(f.tax).SetItemsSold(f.items))
	}
	var facetRows []*ent.SalesFacetDayCreate
	for k, f := range facets {
		facetRows = append(facetRows, d.SalesFacetDay.Create().SetMerchantID(merchantID).SetStoreID(storeID).SetBusinessDate(k.date).
			SetDimension(salesfacetday.Dimension(k.dim)).SetKey(k.key).SetSalesCount(f.count).SetSalesTotal(f.total).SetTaxTotal(f.tax).SetItemsSold(f.items))
	}
	var productRows []*ent.ProductDayCreate
	for k, f := range products {
		productRows = append(productRows, d.ProductDay.Create().SetMerchantID(merchantID).SetStoreID(storeID).SetBusinessDate(k.date).
			SetProductKey(fmt.Sprint("prd", k.p)).SetName(fmt.Sprint("Tea ", k.p)).SetCategory("Tea").
			SetUnits(f.items).SetRevenue(f.total-f.tax).SetCost(f.total/3))
	}
	for i := 0; i < len(hourRows); i += batch {
		if err := d.SalesHour.CreateBulk(hourRows[i:min(i+batch, len(hourRows))]...).Exec(sys); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < len(facetRows); i += batch {
		if err := d.SalesFacetDay.CreateBulk(facetRows[i:min(i+batch, len(facetRows))]...).Exec(sys); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < len(productRows); i += batch {
		if err := d.ProductDay.CreateBulk(productRows[i:min(i+batch, len(productRows))]...).Exec(sys); err != nil {
			b.Fatal(err)
		}
	}
	return len(hourRows) + len(facetRows) + len(productRows)
}
