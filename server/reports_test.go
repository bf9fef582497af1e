package server_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/reports"
	"github.com/tillpos/till/sales"
	"github.com/tillpos/till/server"
)

// Reports through the API: every dashboard figure, computed from the
// rollups the sales keep, against the same figure computed here from the
// raw sales read back through the sales connection.

// repFigures are what a set of sales, refunds and voids adds up to.
type repFigures struct {
	sales, total, discount, tax, items         int64
	refunds, refundAmount, refundTax, returned int64
	voids, voidAmount, newCustomers, returning int64
}

func (f *repFigures) add(o repFigures) {
	f.sales += o.sales
	f.total += o.total
	f.discount += o.discount
	f.tax += o.tax
	f.items += o.items
	f.refunds += o.refunds
	f.refundAmount += o.refundAmount
	f.refundTax += o.refundTax
	f.returned += o.returned
	f.voids += o.voids
	f.voidAmount += o.voidAmount
	f.newCustomers += o.newCustomers
	f.returning += o.returning
}

func (f repFigures) gross() int64    { return f.total - f.tax + f.discount }
func (f repFigures) refunded() int64 { return f.refundAmount - f.refundTax }
func (f repFigures) net() int64      { return f.gross() - f.discount - f.refunded() }

// repProduct is a product's (or free-text item's) sales less returns.
type repProduct struct {
	name, category                   string
	productID                        *string
	units, revenue, cost, noCost     int64
	unitsBack, revenueBack, costBack int64
}

// repRaw is the raw sales, summed by store, local day and hour; by day and
// tender type, staff member or device; and by day and product.
type repRaw struct {
	hours    map[[3]string]*repFigures // store, date, hour
	facets   map[[4]string]*repFigures // store, date, dimension, key
	products map[[3]string]*repProduct // store, date, product key
}

type repSale struct {
	ID, StoreID, CashierID, Status, BusinessDate string
	DeviceID, CustomerID                         *string
	Total, TaxTotal, DiscountTotal               int64
	OccurredAt, CreatedAt                        time.Time
	Lines                                        []struct {
		ID, Name, Category string
		ProductID          *string
		Quantity           int64
		Tax, Total         int64
		UnitCost           *int64
	}
	Tenders []struct {
		Type   string
		Amount int64
	}
	Refunds []struct {
		Kind, BusinessDate, StaffID string
		DeviceID                    *string
		Amount, Tax                 int64
		CreatedAt                   time.Time
		Lines                       []struct {
			Quantity int64
			Amount   int64
			SaleLine struct{ ID string }
		}
		Tenders []struct {
			Type   string
			Amount int64
		}
	}
}

const repSaleFields = `id storeID cashierID deviceID customerID status businessDate total taxTotal discountTotal occurredAt createdAt
	lines { id name category productID quantity tax total unitCost } tenders { type amount }
	refunds { kind businessDate staffID deviceID amount tax createdAt lines { quantity amount saleLine { id } } tenders { type amount } }`

// repReadRaw reads every sale of the merchant through the API and sums it
// up as the dashboard defines its figures.
func repReadRaw(t *testing.T, e *saleEnv, zones map[string]*time.Location) *repRaw {
	t.Helper()
	var all []repSale
	var after *string
	for {
		var out struct {
			Sales struct {
				PageInfo struct {
					HasNextPage bool
					EndCursor   *string
				}
				Edges []struct{ Node repSale }
			}
		}
		e.Exec(t, e.owner.Token, `query($after: Cursor) { sales(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { `+repSaleFields+` } } } }`,
			map[string]any{"after": after}).Decode(t, &out)
		for _, edge := range out.Sales.Edges {
			all = append(all, edge.Node)
		}
		if !out.Sales.PageInfo.HasNextPage {
			break
		}
		after = out.Sales.PageInfo.EndCursor
	}
	// A customer's sale is new when no sale of theirs recorded before it
	// stands (every void in the data set comes before the customer's next
	// sale).
	slices.SortFunc(all, func(a, b repSale) int { return a.CreatedAt.Compare(b.CreatedAt) })
	seen := map[string]bool{}
	raw := &repRaw{hours: map[[3]string]*repFigures{}, facets: map[[4]string]*repFigures{}, products: map[[3]string]*repProduct{}}
	hour := func(store, date string, at time.Time) *repFigures {
		k := [3]string{store, date, fmt.Sprint(at.In(zones[store]).Hour())}
		if raw.hours[k] == nil {
			raw.hours[k] = &repFigures{}
		}
		return raw.hours[k]
	}
	facet := func(store, date, dim, key string) *repFigures {
		k := [4]string{store, date, dim, key}
		if raw.facets[k] == nil {
			raw.facets[k] = &repFigures{}
		}
		return raw.facets[k]
	}
	product := func(store, date, key, name, category string, id *string) *repProduct {
		k := [3]string{store, date, key}
		if raw.products[k] == nil {
			raw.products[k] = &repProduct{name: name, category: category, productID: id}
		}
		return raw.products[k]
	}
	for _, s := range all {
		lineByID := map[string]int{}
		for i, l := range s.Lines {
			lineByID[l.ID] = i
		}
		keyOf := func(i int) string {
			if id := s.Lines[i].ProductID; id != nil {
				return *id
			}
			return "name:" + s.Lines[i].Name
		}
		people := []*repFigures{facet(s.StoreID, s.BusinessDate, "STAFF", s.CashierID)}
		if s.DeviceID != nil {
			people = append(people, facet(s.StoreID, s.BusinessDate, "DEVICE", *s.DeviceID))
		}
		if s.Status == "VOIDED" {
			v := repFigures{voids: 1, voidAmount: s.Total}
			hour(s.StoreID, s.BusinessDate, s.OccurredAt).add(v)
			for _, p := range people {
				p.add(v)
			}
			for _, tn := range s.Tenders {
				facet(s.StoreID, s.BusinessDate, "TENDER", tn.Type).add(repFigures{voids: 1, voidAmount: tn.Amount})
			}
			continue
		}
		f := repFigures{sales: 1, total: s.Total, discount: s.DiscountTotal, tax: s.TaxTotal}
		if s.CustomerID != nil {
			if seen[*s.CustomerID] {
				f.returning = 1
			} else {
				f.newCustomers = 1
			}
			seen[*s.CustomerID] = true
		}
		for i, l := range s.Lines {
			f.items += l.Quantity
			p := product(s.StoreID, s.BusinessDate, keyOf(i), l.Name, l.Category, l.ProductID)
			p.units += l.Quantity
			p.revenue += l.Total - l.Tax
			if l.UnitCost != nil {
				p.cost += *l.UnitCost * l.Quantity
			} else {
				p.noCost += l.Quantity
			}
		}
		hour(s.StoreID, s.BusinessDate, s.OccurredAt).add(f)
		for _, p := range people {
			p.add(f)
		}
		for _, tn := range s.Tenders {
			facet(s.StoreID, s.BusinessDate, "TENDER", tn.Type).add(repFigures{sales: 1, total: tn.Amount})
		}
		for _, r := range s.Refunds {
			rf := repFigures{refunds: 1, refundAmount: r.Amount, refundTax: r.Tax}
			for _, rl := range r.Lines {
				rf.returned += rl.Quantity
				i := lineByID[rl.SaleLine.ID]
				l := s.Lines[i]
				p := product(s.StoreID, r.BusinessDate, keyOf(i), l.Name, l.Category, l.ProductID)
				p.unitsBack += rl.Quantity
				p.revenueBack += rl.Amount - l.Tax*rl.Amount/l.Total
				if l.UnitCost != nil {
					p.costBack += *l.UnitCost * rl.Quantity
				} else {
					p.noCost -= rl.Quantity
				}
			}
			hour(s.StoreID, r.BusinessDate, r.CreatedAt).add(rf)
			facet(s.StoreID, r.BusinessDate, "STAFF", r.StaffID).add(rf)
			if r.DeviceID != nil {
				facet(s.StoreID, r.BusinessDate, "DEVICE", *r.DeviceID).add(rf)
			}
			for _, tn := range r.Tenders {
				facet(s.StoreID, r.BusinessDate, "TENDER", tn.Type).add(repFigures{refunds: 1, refundAmount: tn.Amount})
			}
		}
	}
	return raw
}

// repDates are the days from..to.
func repDates(from, to string) []string {
	var out []string
	d, _ := time.Parse(time.DateOnly, from)
	end, _ := time.Parse(time.DateOnly, to)
	for ; !d.After(end); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out
}

// sum adds up the hours of stores on the days from..to that keep.
func (r *repRaw) sum(stores []string, from, to string, keep func(date string, hour int) bool) repFigures {
	var f repFigures
	for k, v := range r.hours {
		var h int
		fmt.Sscan(k[2], &h)
		if slices.Contains(stores, k[0]) && k[1] >= from && k[1] <= to && (keep == nil || keep(k[1], h)) {
			f.add(*v)
		}
	}
	return f
}

// facetSum adds up the facets of a dimension by key.
func (r *repRaw) facetSum(stores []string, from, to, dim string) map[string]*repFigures {
	out := map[string]*repFigures{}
	for k, v := range r.facets {
		if slices.Contains(stores, k[0]) && k[1] >= from && k[1] <= to && k[2] == dim {
			if out[k[3]] == nil {
				out[k[3]] = &repFigures{}
			}
			out[k[3]].add(*v)
		}
	}
	return out
}

type repPeriod struct{ From, To string }

type repVoids struct{ Count, Amount int64 }

type repTender struct {
	Tender                       string
	Count, Amount, Refunded, Net int64
	Share                        float64
}

type repSalesFigures struct {
	Period                                                                repPeriod
	GrossSales, Discounts, Refunds, NetSales, Tax, TotalCollected         int64
	Transactions, AverageTicket, ItemsSold, NewCustomers, ReturningVisits int64
	Voids                                                                 repVoids
	TenderMix                                                             []repTender
}

const repFiguresFields = `period { from to } grossSales discounts refunds netSales tax totalCollected transactions averageTicket
	itemsSold voids { count amount } newCustomers returningVisits tenderMix { tender count amount refunded net share }`

// wantFigures is what the dashboard must show for stores over from..to.
func (r *repRaw) wantFigures(stores []string, from, to string) repSalesFigures {
	f := r.sum(stores, from, to, nil)
	out := repSalesFigures{
		Period: repPeriod{from, to}, GrossSales: f.gross(), Discounts: f.discount, Refunds: f.refunded(), NetSales: f.net(),
		Tax: f.tax - f.refundTax, Transactions: f.sales, ItemsSold: f.items - f.returned,
		NewCustomers: f.newCustomers, ReturningVisits: f.returning, Voids: repVoids{f.voids, f.voidAmount},
		TenderMix: []repTender{},
	}
	out.TotalCollected = out.NetSales + out.Tax
	if f.sales > 0 {
		out.AverageTicket = f.total / f.sales
	}
	var all int64
	for typ, tf := range r.facetSum(stores, from, to, "TENDER") {
		net := tf.total - tf.refundAmount
		all += net
		out.TenderMix = append(out.TenderMix, repTender{Tender: typ, Count: tf.sales, Amount: tf.total, Refunded: tf.refundAmount, Net: net})
	}
	for i := range out.TenderMix {
		out.TenderMix[i].Share = float64(out.TenderMix[i].Net) / float64(all)
	}
	slices.SortFunc(out.TenderMix, func(a, b repTender) int { return cmp.Or(cmp.Compare(b.Net, a.Net), cmp.Compare(a.Tender, b.Tender)) })
	return out
}

// requireFigures compares dashboard figures, shares to float precision.
func requireFigures(t *testing.T, want, got repSalesFigures, what string) {
	t.Helper()
	require.Len(t, got.TenderMix, len(want.TenderMix), what)
	for i := range want.TenderMix {
		require.InDelta(t, want.TenderMix[i].Share, got.TenderMix[i].Share, 1e-9, what)
		got.TenderMix[i].Share = want.TenderMix[i].Share
	}
	require.Equal(t, want, got, what)
}

// period is a CUSTOM period input.
func repCustom(from, to string) map[string]any {
	return map[string]any{"preset": "CUSTOM", "from": from, "to": to}
}

// repSim records a generated data set of sales, refunds, voids and
// exchanges across three stores, walking the sales clock forward.
type repSim struct {
	e                         *saleEnv
	clock                     *tilltest.Clock
	rng                       *rand.Rand
	stores                    []string
	products                  []repCatalog
	customers                 []string
	terminalTok               string
	sold                      []*repLive
	refunds, voids, exchanges int
}

type repCatalog struct {
	id    string
	price int64
}

// repLive is a sale as the simulation knows it, to refund it later.
type repLive struct {
	sale  saleSale
	token string
}

func (s *repSim) lines() ([]any, int64) {
	var lines []any
	var total int64
	for range 1 + s.rng.IntN(3) {
		qty := 1 + s.rng.IntN(3)
		if s.rng.IntN(5) == 0 {
			price := int64(200 + 50*s.rng.IntN(10))
			lines = append(lines, map[string]any{"name": "Gift wrap", "quantity": qty, "unitPrice": price, "taxRateBp": 600})
			total += int64(qty) * price
			continue
		}
		p := s.products[s.rng.IntN(len(s.products))]
		l := map[string]any{"productId": p.id, "quantity": qty}
		gross := int64(qty) * p.price
		if s.rng.IntN(4) == 0 {
			d := gross / 10
			l["lineDiscount"] = d
			gross -= d
		}
		lines = append(lines, l)
		total += gross
	}
	return lines, total
}

func (s *repSim) tenders(total int64) []any {
	switch s.rng.IntN(4) {
	case 0:
		card := total / 2
		return []any{saleCard(card, "ch_"+saleKey()), map[string]any{"type": "CASH", "amount": total - card, "tendered": total - card + 100}}
	case 1:
		return []any{saleCard(total, "ch_"+saleKey())}
	case 2:
		return []any{map[string]any{"type": "MOBILE_WALLET", "amount": total, "wallet": "ALIPAY", "reference": "wx_" + saleKey()}}
	}
	return []any{map[string]any{"type": "CASH", "amount": total}}
}

// step records one sale at the clock's time (or earlier, uploaded
// offline), and now and then refunds, voids or exchanges one.
func (s *repSim) step(t *testing.T) {
	store := s.stores[s.rng.IntN(len(s.stores))]
	token := s.e.owner.Token
	if store == s.stores[0] {
		token = []string{s.e.owner.Token, s.e.manager.Token, s.terminalTok}[s.rng.IntN(3)]
	}
	lines, total := s.lines()
	in := map[string]any{"idempotencyKey": saleKey(), "storeId": store, "lines": lines}
	if s.rng.IntN(5) == 0 && total > 100 {
		in["orderDiscount"] = int64(50)
		total -= 50
	}
	in["tenders"] = s.tenders(total)
	if s.rng.IntN(2) == 0 {
		in["customerId"] = s.customers[s.rng.IntN(len(s.customers))]
	}
	offline := s.rng.IntN(4) == 0
	if offline {
		in["occurredAt"] = s.clock.Now().Add(-time.Duration(1+s.rng.IntN(30)) * time.Hour)
	}
	sl := s.e.record(t, token, in)
	switch r := s.rng.IntN(100); {
	case !offline && r < 8:
		s.e.refund(t, token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": sl.ID, "reason": "mistake"})
		s.voids++
		return
	case r < 30 && len(s.sold) > 0:
		s.refundOne(t)
	case r < 36 && len(s.sold) > 0:
		s.exchangeOne(t)
	}
	s.sold = append(s.sold, &repLive{sale: sl, token: token})
}

// refundOne refunds a unit of a line, or an amount, of an earlier sale.
func (s *repSim) refundOne(t *testing.T) {
	live := s.sold[s.rng.IntN(len(s.sold))]
	sl := live.sale
	if sl.RefundedTotal >= sl.Total {
		return
	}
	in := map[string]any{"idempotencyKey": saleKey(), "saleId": sl.ID, "reason": "returned"}
	if l, ok := s.openLine(sl); ok && s.rng.IntN(3) > 0 && repUnitCredit(l) <= sl.Total-sl.RefundedTotal {
		in["lines"] = []any{map[string]any{"saleLineId": l.ID, "quantity": 1}}
	} else {
		in["amount"] = min(int64(150), sl.Total-sl.RefundedTotal)
	}
	token := live.token
	if sl.StoreID != s.stores[0] || s.rng.IntN(2) == 0 {
		token = s.e.owner.Token
	}
	live.sale = s.e.refund(t, token, saleRefund, in).Sale
	s.refunds++
}

func (s *repSim) openLine(sl saleSale) (saleLine, bool) {
	for _, l := range sl.Lines {
		if l.RefundedQuantity < l.Quantity {
			return l, true
		}
	}
	return saleLine{}, false
}

// repUnitCredit is what returning one unit of l gives back: its share,
// or what is left of the line for the last unit.
func repUnitCredit(l saleLine) int64 {
	if l.Quantity-l.RefundedQuantity == 1 {
		return l.Total - l.RefundedAmount
	}
	return l.Total / int64(l.Quantity)
}

// exchangeOne swaps a unit of an earlier sale's line for a dearer item,
// the customer paying the difference in cash.
func (s *repSim) exchangeOne(t *testing.T) {
	live := s.sold[s.rng.IntN(len(s.sold))]
	l, ok := s.openLine(live.sale)
	if !ok || live.sale.RefundedTotal > 0 {
		return
	}
	credit := repUnitCredit(l)
	var out struct {
		ExchangeSale struct{ Sale saleSale }
	}
	s.e.Exec(t, s.e.owner.Token, `mutation($i: ExchangeSaleInput!) { exchangeSale(input: $i) { sale { `+saleFields+` } } }`,
		map[string]any{"i": map[string]any{
			"idempotencyKey": saleKey(), "saleId": live.sale.ID, "reason": "other size",
			"returnLines": []any{map[string]any{"saleLineId": l.ID, "quantity": 1}},
			"newLines":    []any{map[string]any{"name": "Large mug", "quantity": 1, "unitPrice": credit + 500, "taxRateBp": 600}},
			"tenders":     []any{map[string]any{"type": "CASH", "amount": 500}},
		}}).Decode(t, &out)
	live.sale = out.ExchangeSale.Sale
	s.exchanges++
}

// repEnv is a merchant with stores in Shanghai (the first), London and
// New York, whose sales and reports run on one test clock.
func repEnv(t *testing.T, start time.Time) (*saleEnv, *tilltest.Clock, []string, map[string]*time.Location) {
	clock := tilltest.NewClock(start)
	e := newSaleEnv(t, server.WithSalesOptions(sales.WithClock(clock.Now)), server.WithReportOptions(reports.WithClock(clock.Now)))
	zones := map[string]*time.Location{}
	stores := []string{e.owner.StoreID}
	for _, tz := range []string{"Asia/Shanghai", "Europe/London", "America/New_York"} {
		loc, err := time.LoadLocation(tz)
		require.NoError(t, err)
		if len(zones) > 0 {
			var out struct {
				CreateStore struct{ Store struct{ ID string } }
			}
			e.Exec(t, e.owner.Token, `mutation($i: CreateStoreInput!) { createStore(input: $i) { store { id } } }`,
				map[string]any{"i": map[string]any{"name": tz, "timeZone": tz}}).Decode(t, &out)
			stores = append(stores, out.CreateStore.Store.ID)
		}
		zones[stores[len(stores)-1]] = loc
	}
	return e, clock, stores, zones
}

// TestReportsMatchRawSales generates three weeks of sales over stores in
// Shanghai, London and New York (London leaves summer time on 25 October
// 2026, New York on 1 November) and checks every figure of every report
// against the raw sales.
func TestReportsMatchRawSales(t *testing.T) {
	start := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)
	e, clock, stores, zones := repEnv(t, start)
	sim := &repSim{e: e, clock: clock, rng: rand.New(rand.NewPCG(8, 2026)), stores: stores}
	for i, p := range []struct {
		name, category string
		price          int64
		cost           any
	}{
		{"Oolong", "Tea", 1800, 700}, {"Jasmine", "Tea", 1200, nil}, {"Mooncake", "Cake", 2500, 1100}, {"Tart", "Cake", 900, nil},
	} {
		var out struct {
			CreateProduct struct{ Product struct{ ID string } }
		}
		in := map[string]any{"sku": fmt.Sprint("R-", i), "name": p.name, "category": p.category, "unitPrice": p.price, "taxRateBp": 900}
		if p.cost != nil {
			in["cost"] = p.cost
		}
		e.Exec(t, e.owner.Token, saleProduct, map[string]any{"i": in}).Decode(t, &out)
		sim.products = append(sim.products, repCatalog{out.CreateProduct.Product.ID, p.price})
	}
	var dusty struct {
		CreateProduct struct{ Product struct{ ID string } }
	}
	e.Exec(t, e.owner.Token, saleProduct, map[string]any{"i": map[string]any{"sku": "R-dusty", "name": "Dusty tin", "unitPrice": 5000}}).Decode(t, &dusty)
	for i := range 6 {
		sim.customers = append(sim.customers, e.customer(t, e.owner.Token, fmt.Sprint("Regular ", i)))
	}
	_, sim.terminalTok = e.terminal(t, "REP-1", "Front till")

	end := time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)
	for clock.Now().Before(end) {
		clock.Advance(time.Duration(40+sim.rng.IntN(200)) * time.Minute)
		sim.step(t)
	}
	t.Logf("%d sales, %d refunds, %d voids, %d exchanges", len(sim.sold)+sim.voids, sim.refunds, sim.voids, sim.exchanges)
	require.Positive(t, sim.voids)
	require.Positive(t, sim.exchanges)
	clock.Set(time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC))
	raw := repReadRaw(t, e, zones)

	from, to := "2026-10-18", "2026-11-04"
	scopes := map[string][]string{"all stores": stores}
	for _, st := range stores {
		scopes[st] = []string{st}
	}
	for name, scope := range scopes {
		var storeID any
		if len(scope) == 1 {
			storeID = scope[0]
		}
		// The summary, with a previous week that has sales too.
		for _, p := range [][2]string{{from, to}, {"2026-10-27", "2026-11-02"}} {
			var out struct {
				SalesSummary struct {
					Currency          string
					Current, Previous repSalesFigures
					Change            map[string]*float64
				}
			}
			e.Exec(t, e.owner.Token, `query($s: ID, $p: ReportPeriodInput!) { salesSummary(storeId: $s, period: $p) { currency
				current { `+repFiguresFields+` } previous { `+repFiguresFields+` } change { netSales transactions } } }`,
				map[string]any{"s": storeID, "p": repCustom(p[0], p[1])}).Decode(t, &out)
			cur := raw.wantFigures(scope, p[0], p[1])
			d0, _ := time.Parse(time.DateOnly, p[0])
			d1, _ := time.Parse(time.DateOnly, p[1])
			n := int(d1.Sub(d0).Hours()/24) + 1
			prev := raw.wantFigures(scope, d0.AddDate(0, 0, -n).Format(time.DateOnly), d0.AddDate(0, 0, -1).Format(time.DateOnly))
			require.Equal(t, "CNY", out.SalesSummary.Currency)
			requireFigures(t, cur, out.SalesSummary.Current, name+" current")
			requireFigures(t, prev, out.SalesSummary.Previous, name+" previous")
			if prev.Transactions == 0 {
				require.Nil(t, out.SalesSummary.Change["transactions"])
			} else {
				require.InDelta(t, float64(cur.Transactions-prev.Transactions)*100/float64(prev.Transactions), *out.SalesSummary.Change["transactions"], 1e-9)
			}
		}
		repCheckTrend(t, e, raw, scope, storeID, from, to)
		repCheckBreakdowns(t, e, raw, scope, storeID, from, to)
		repCheckProducts(t, e, raw, scope, storeID, from, to, dusty.CreateProduct.Product.ID)
	}
	// Hour by hour across each DST change, in the store's own hours.
	for _, c := range []struct {
		store    string
		from, to string
	}{{stores[1], "2026-10-24", "2026-10-26"}, {stores[2], "2026-10-31", "2026-11-02"}} {
		var out struct {
			SalesTrend struct {
				Buckets []struct {
					Date                                                   string
					Hour                                                   *int
					GrossSales, NetSales, Refunds, Transactions, ItemsSold int64
				}
			}
		}
		e.Exec(t, e.owner.Token, `query($s: ID, $p: ReportPeriodInput!) { salesTrend(storeId: $s, period: $p, interval: HOUR) {
			buckets { date hour grossSales netSales refunds transactions itemsSold } } }`,
			map[string]any{"s": c.store, "p": repCustom(c.from, c.to)}).Decode(t, &out)
		require.Len(t, out.SalesTrend.Buckets, 72)
		var sales int64
		for i, b := range out.SalesTrend.Buckets {
			require.Equal(t, repDates(c.from, c.to)[i/24], b.Date)
			require.Equal(t, i%24, *b.Hour)
			f := raw.sum([]string{c.store}, b.Date, b.Date, func(_ string, h int) bool { return h == *b.Hour })
			require.Equal(t, []int64{f.gross(), f.net(), f.refunded(), f.sales, f.items - f.returned},
				[]int64{b.GrossSales, b.NetSales, b.Refunds, b.Transactions, b.ItemsSold}, "%s %s %dh", c.store, b.Date, *b.Hour)
			sales += b.Transactions
		}
		require.Positive(t, sales)
	}
}

// repCheckTrend compares the DAY, WEEK and MONTH trends and the heatmap.
func repCheckTrend(t *testing.T, e *saleEnv, raw *repRaw, scope []string, storeID any, from, to string) {
	t.Helper()
	type bucket struct {
		Date                                                   string
		Hour                                                   *int
		GrossSales, NetSales, Refunds, Transactions, ItemsSold int64
	}
	figuresOf := func(f repFigures) []int64 {
		return []int64{f.gross(), f.net(), f.refunded(), f.sales, f.items - f.returned}
	}
	for _, iv := range []string{"DAY", "WEEK", "MONTH"} {
		var out struct{ SalesTrend struct{ Buckets []bucket } }
		e.Exec(t, e.owner.Token, `query($s: ID, $p: ReportPeriodInput!, $i: TrendInterval!) { salesTrend(storeId: $s, period: $p, interval: $i) {
			buckets { date hour grossSales netSales refunds transactions itemsSold } } }`,
			map[string]any{"s": storeID, "p": repCustom(from, to), "i": iv}).Decode(t, &out)
		// Each day counts in the bucket that starts on or before it, the
		// last such one.
		want := map[string]*repFigures{}
		var starts []string
		for _, b := range out.SalesTrend.Buckets {
			starts = append(starts, b.Date)
			want[b.Date] = &repFigures{}
		}
		switch iv {
		case "DAY":
			require.Equal(t, repDates(from, to), starts)
		case "WEEK":
			require.Equal(t, []string{"2026-10-12", "2026-10-19", "2026-10-26", "2026-11-02"}, starts)
		case "MONTH":
			require.Equal(t, []string{"2026-10-01", "2026-11-01"}, starts)
		}
		for _, d := range repDates(from, to) {
			i, _ := slices.BinarySearch(starts, d)
			if i == len(starts) || starts[i] != d {
				i--
			}
			want[starts[i]].add(raw.sum(scope, d, d, nil))
		}
		for _, b := range out.SalesTrend.Buckets {
			require.Nil(t, b.Hour)
			require.Equal(t, figuresOf(*want[b.Date]), []int64{b.GrossSales, b.NetSales, b.Refunds, b.Transactions, b.ItemsSold}, "%s %s", iv, b.Date)
		}
	}
	var heat struct {
		SalesHeatmap struct {
			Cells []struct {
				Weekday, Hour          int
				NetSales, Transactions int64
			}
		}
	}
	e.Exec(t, e.owner.Token, `query($s: ID, $p: ReportPeriodInput!) { salesHeatmap(storeId: $s, period: $p) { cells { weekday hour netSales transactions } } }`,
		map[string]any{"s": storeID, "p": repCustom(from, to)}).Decode(t, &heat)
	require.Len(t, heat.SalesHeatmap.Cells, 168)
	for i, c := range heat.SalesHeatmap.Cells {
		require.Equal(t, []int{i/24 + 1, i % 24}, []int{c.Weekday, c.Hour})
		f := raw.sum(scope, from, to, func(date string, h int) bool {
			d, _ := time.Parse(time.DateOnly, date)
			return (int(d.Weekday())+6)%7+1 == c.Weekday && h == c.Hour
		})
		require.Equal(t, []int64{f.net(), f.sales}, []int64{c.NetSales, c.Transactions}, "weekday %d %dh", c.Weekday, c.Hour)
	}
}

// repCheckBreakdowns compares the breakdowns by tender, staff and device.
func repCheckBreakdowns(t *testing.T, e *saleEnv, raw *repRaw, scope []string, storeID any, from, to string) {
	t.Helper()
	type row struct {
		Key, Label                                        string
		Transactions, Amount, RefundsCount, Refunded, Net int64
		Voids                                             repVoids
	}
	for _, dim := range []string{"TENDER", "STAFF", "DEVICE"} {
		var out struct{ SalesBreakdown struct{ Rows []row } }
		e.Exec(t, e.owner.Token, `query($s: ID, $p: ReportPeriodInput!, $by: SalesDimension!) { salesBreakdown(storeId: $s, period: $p, by: $by) {
			rows { key label transactions amount refundsCount refunded net voids { count amount } } } }`,
			map[string]any{"s": storeID, "p": repCustom(from, to), "by": dim}).Decode(t, &out)
		want := map[string]row{}
		for key, f := range raw.facetSum(scope, from, to, dim) {
			want[key] = row{Key: key, Transactions: f.sales, Amount: f.total, RefundsCount: f.refunds, Refunded: f.refundAmount,
				Net: f.total - f.refundAmount, Voids: repVoids{f.voids, f.voidAmount}}
		}
		got := map[string]row{}
		for i, r := range out.SalesBreakdown.Rows {
			require.NotEmpty(t, r.Label)
			if i > 0 {
				require.GreaterOrEqual(t, out.SalesBreakdown.Rows[i-1].Net, r.Net, "highest net first")
			}
			r.Label = ""
			got[r.Key] = r
		}
		require.Equal(t, want, got, dim)
		if dim == "DEVICE" && slices.Contains(scope, e.owner.StoreID) {
			require.Equal(t, "Front till", out.SalesBreakdown.Rows[0].Label)
		}
	}
}

// repCheckProducts compares product and category performance, and the
// slow movers.
func repCheckProducts(t *testing.T, e *saleEnv, raw *repRaw, scope []string, storeID any, from, to, dusty string) {
	t.Helper()
	type row struct {
		Key, Name, Category           string
		ProductID                     *string
		Units, UnitsReturned, Revenue int64
		Cost, GrossProfit             *int64
		Margin                        *float64
	}
	for _, by := range []string{"PRODUCT", "CATEGORY"} {
		sums := map[string]*repProduct{}
		for k, p := range raw.products {
			if !slices.Contains(scope, k[0]) || k[1] < from || k[1] > to {
				continue
			}
			key := k[2]
			if by == "CATEGORY" {
				key = p.category
			}
			if sums[key] == nil {
				sums[key] = &repProduct{name: p.name, category: p.category, productID: p.productID}
				if by == "CATEGORY" {
					sums[key].name, sums[key].productID = p.category, nil
				}
			}
			s := sums[key]
			s.units += p.units
			s.revenue += p.revenue
			s.cost += p.cost
			s.noCost += p.noCost
			s.unitsBack += p.unitsBack
			s.revenueBack += p.revenueBack
			s.costBack += p.costBack
		}
		want := map[string]row{}
		for key, s := range sums {
			r := row{Key: key, Name: s.name, Category: s.category, ProductID: s.productID,
				Units: s.units - s.unitsBack, UnitsReturned: s.unitsBack, Revenue: s.revenue - s.revenueBack}
			if s.noCost == 0 {
				cost := s.cost - s.costBack
				profit := r.Revenue - cost
				r.Cost, r.GrossProfit = &cost, &profit
				if r.Revenue != 0 {
					m := float64(profit) / float64(r.Revenue)
					r.Margin = &m
				}
			}
			want[key] = r
		}
		for _, sort := range []string{"REVENUE", "UNITS", "PROFIT", "MARGIN"} {
			for _, order := range []string{"DESC", "ASC"} {
				var out struct{ ProductPerformance struct{ Rows []row } }
				e.Exec(t, e.owner.Token, `query($s: ID, $p: ReportPeriodInput!, $by: ProductGrouping!, $sort: ProductSort!, $o: OrderDirection!) {
					productPerformance(storeId: $s, period: $p, by: $by, sort: $sort, order: $o, first: 100) {
					rows { key name category productId units unitsReturned revenue cost grossProfit margin } } }`,
					map[string]any{"s": storeID, "p": repCustom(from, to), "by": by, "sort": sort, "o": order}).Decode(t, &out)
				got := map[string]row{}
				var keys []string
				for _, r := range out.ProductPerformance.Rows {
					got[r.Key] = r
					keys = append(keys, r.Key)
				}
				require.Equal(t, want, got, "%s by %s", by, sort)
				// The order is by the figure asked for, unknowns lowest.
				value := func(k string) float64 {
					r := want[k]
					switch sort {
					case "UNITS":
						return float64(r.Units)
					case "PROFIT":
						if r.GrossProfit == nil {
							return -1e18
						}
						return float64(*r.GrossProfit)
					case "MARGIN":
						if r.Margin == nil {
							return -1e18
						}
						return *r.Margin
					}
					return float64(r.Revenue)
				}
				require.True(t, slices.IsSortedFunc(keys, func(a, b string) int {
					c := cmp.Compare(value(a), value(b))
					if order == "DESC" {
						c = -c
					}
					return c
				}), "%s by %s %s: %v", by, sort, order, keys)
			}
		}
	}
	var slow struct {
		SlowMovers []struct {
			Product struct{ ID string }
			Units   int64
		}
	}
	e.Exec(t, e.owner.Token, `query($s: ID, $p: ReportPeriodInput!) { slowMovers(storeId: $s, period: $p, maxUnits: 0) { product { id } units } }`,
		map[string]any{"s": storeID, "p": repCustom(from, to)}).Decode(t, &slow)
	ids := []string{}
	for _, m := range slow.SlowMovers {
		ids = append(ids, m.Product.ID)
		require.LessOrEqual(t, m.Units, int64(0))
	}
	require.Contains(t, ids, dusty, "never sold")
}

// TestReportsAccess: owners see every store, managers theirs, cashiers
// nothing; another merchant's store is not found; periods are bounded.
func TestReportsAccess(t *testing.T) {
	start := time.Date(2026, 11, 2, 4, 0, 0, 0, time.UTC) // noon in Shanghai
	e, clock, stores, _ := repEnv(t, start)
	e.record(t, e.manager.Token, saleCash(stores[0], 1000))
	e.record(t, e.owner.Token, saleCash(stores[1], 2500))
	clock.Advance(time.Hour)

	summary := `query($s: ID, $p: ReportPeriodInput!) { salesSummary(storeId: $s, period: $p) { current { period { from to } transactions grossSales } } }`
	today := map[string]any{"preset": "TODAY"}
	type sum struct {
		SalesSummary struct {
			Current struct {
				Period                   repPeriod
				Transactions, GrossSales int64
			}
		}
	}
	var owner, manager sum
	e.Exec(t, e.owner.Token, summary, map[string]any{"p": today}).Decode(t, &owner)
	require.Equal(t, int64(2), owner.SalesSummary.Current.Transactions)
	require.Equal(t, repPeriod{"2026-11-02", "2026-11-02"}, owner.SalesSummary.Current.Period, "the oldest store's day")
	e.Exec(t, e.manager.Token, summary, map[string]any{"p": today}).Decode(t, &manager)
	require.Equal(t, int64(1), manager.SalesSummary.Current.Transactions, "only the manager's store")

	saleWantErr(t, e.Exec(t, e.manager.Token, summary, map[string]any{"s": stores[1], "p": today}), "FORBIDDEN", "storeId")
	saleWantErr(t, e.Exec(t, e.cashier.Token, summary, map[string]any{"p": today}), "FORBIDDEN", "")
	saleWantErr(t, e.Exec(t, e.cashier.Token, `query($p: ReportPeriodInput!) { productPerformance(period: $p) { rows { key } } }`,
		map[string]any{"p": today}), "FORBIDDEN", "")

	other := e.SignUp(t, "Other Tea")
	saleWantErr(t, e.Exec(t, other.Token, summary, map[string]any{"s": stores[0], "p": today}), "NOT_FOUND", "storeId")
	var theirs sum
	e.Exec(t, other.Token, summary, map[string]any{"p": today}).Decode(t, &theirs)
	require.Zero(t, theirs.SalesSummary.Current.Transactions)

	saleWantErr(t, e.Exec(t, e.owner.Token, summary, map[string]any{"p": repCustom("2025-01-01", "2026-01-02")}), "BAD_USER_INPUT", "period.to")
	saleWantErr(t, e.Exec(t, e.owner.Token, `query($p: ReportPeriodInput!) { salesTrend(period: $p, interval: HOUR) { buckets { date } } }`,
		map[string]any{"p": repCustom("2026-10-01", "2026-11-02")}), "BAD_USER_INPUT", "period")
	saleWantErr(t, e.Exec(t, e.owner.Token, `query($p: ReportPeriodInput!) { productPerformance(period: $p, first: 101) { rows { key } } }`,
		map[string]any{"p": today}), "BAD_USER_INPUT", "first")
}
