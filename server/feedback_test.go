package server_test

import (
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent/outboxevent"
	"github.com/tillpos/till/internal/tilltest"
)

// Customers' feedback on their visits and the products recommended to
// them, through the API, with products from the catalog and sales recorded
// at the counter.

const (
	fbRecord    = `mutation($i: RecordFeedbackInput!) { recordFeedback(input: $i) { feedback { id rating category comment sale { id } store { id } customer { id } product { id } } } }`
	fbRecommend = `query($id: ID!, $first: Int) { node(id: $id) { ... on Customer { recommendedProducts(first: $first) { name } } } }`
)

// fbEnv is a merchant with a few products (each at 10.00) and a helper to
// sell them.
type fbEnv struct {
	*custEnv
	products map[string]string // name → id
}

const fbPrice = 1000

func newFBEnv(t *testing.T, names ...string) *fbEnv {
	t.Helper()
	e := &fbEnv{custEnv: newCustEnv(t), products: map[string]string{}}
	for _, name := range names {
		var out struct {
			CreateProduct struct{ Product struct{ ID string } }
		}
		e.Exec(t, e.owner.Token, `mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id } } }`,
			map[string]any{"i": map[string]any{"sku": "SKU-" + name, "name": name, "unitPrice": fbPrice}}).Decode(t, &out)
		e.products[name] = out.CreateProduct.Product.ID
	}
	return e
}

// sell records a cash sale of one of each named product, for customerID
// when it is not empty, and returns the sale's id.
func (e *fbEnv) sell(t *testing.T, customerID string, names ...string) string {
	t.Helper()
	var lines []any
	for _, name := range names {
		lines = append(lines, map[string]any{"productId": e.products[name], "quantity": 1})
	}
	in := map[string]any{
		"idempotencyKey": rand.Text(), "storeId": e.owner.StoreID, "lines": lines,
		"tenders": []any{map[string]any{"type": "CASH", "amount": fbPrice * len(names)}},
	}
	if customerID != "" {
		in["customerId"] = customerID
	}
	var out struct {
		RecordSale struct{ Sale struct{ ID string } }
	}
	e.Exec(t, e.cashier.Token, `mutation($i: RecordSaleInput!) { recordSale(input: $i) { sale { id } } }`,
		map[string]any{"i": in}).Decode(t, &out)
	return out.RecordSale.Sale.ID
}

func (e *fbEnv) recommended(t *testing.T, customerID string, first int) []string {
	t.Helper()
	var out struct {
		Node struct{ RecommendedProducts []struct{ Name string } }
	}
	e.Exec(t, e.cashier.Token, fbRecommend, map[string]any{"id": customerID, "first": first}).Decode(t, &out)
	names := []string{}
	for _, p := range out.Node.RecommendedProducts {
		names = append(names, p.Name)
	}
	return names
}

func TestFeedbackRecordAndSummaries(t *testing.T) {
	t.Parallel()
	e := newFBEnv(t, "Jasmine", "Oolong")
	cust, _ := e.newCustomer(t, "Lin", nil)
	saleID := e.sell(t, cust.ID, "Jasmine", "Oolong")
	laterSale := e.sell(t, cust.ID, "Oolong")

	// give rates the first sale unless in names another.
	give := func(by *tilltest.Account, in map[string]any) *tilltest.Result {
		if _, ok := in["saleId"]; !ok {
			in["saleId"] = saleID
		}
		return e.Exec(t, by.Token, fbRecord, map[string]any{"i": in})
	}
	var out struct {
		RecordFeedback struct {
			Feedback struct {
				ID       string
				Rating   int
				Category string
				Comment  string
				Sale     struct{ ID string }
				Store    struct{ ID string }
				Customer *struct{ ID string }
				Product  *struct{ ID string }
			}
		}
	}
	give(e.cashier, map[string]any{"rating": 5, "category": "SERVICE", "comment": "  lovely  "}).Decode(t, &out)
	fb := out.RecordFeedback.Feedback
	require.Equal(t, 5, fb.Rating)
	require.Equal(t, "lovely", fb.Comment)
	require.Equal(t, saleID, fb.Sale.ID)
	require.Equal(t, e.owner.StoreID, fb.Store.ID, "the store is the sale's")
	require.NotNil(t, fb.Customer)
	require.Equal(t, cust.ID, fb.Customer.ID, "the customer is the sale's")
	require.Nil(t, fb.Product)

	give(e.manager, map[string]any{"rating": 1, "category": "PRODUCT", "productId": e.products["Oolong"], "comment": "stale"}).Decode(t, &out)
	low := out.RecordFeedback.Feedback
	give(e.owner, map[string]any{"saleId": laterSale, "rating": 4, "category": "PRODUCT", "productId": e.products["Oolong"]}).Decode(t, &out)

	t.Run("refused", func(t *testing.T) {
		other := newFBEnv(t, "Black")
		otherSale := other.sell(t, "", "Black")
		for _, tt := range []struct {
			name, code, field string
			in                map[string]any
		}{
			{"rating 0", "BAD_USER_INPUT", "rating", map[string]any{"rating": 0, "category": "SERVICE"}},
			{"rating 6", "BAD_USER_INPUT", "rating", map[string]any{"rating": 6, "category": "SERVICE"}},
			{"product feedback without product", "BAD_USER_INPUT", "productId", map[string]any{"rating": 3, "category": "PRODUCT"}},
			{"product not on the sale", "BAD_USER_INPUT", "productId", map[string]any{"rating": 3, "category": "PRODUCT", "productId": other.products["Black"]}},
			{"service feedback naming a product", "BAD_USER_INPUT", "productId", map[string]any{"rating": 3, "category": "SERVICE", "productId": e.products["Oolong"]}},
		} {
			custRefused(t, give(e.cashier, tt.in), tt.code, tt.field)
		}
		res := e.Exec(t, e.cashier.Token, fbRecord, map[string]any{"i": map[string]any{"saleId": otherSale, "rating": 3, "category": "SERVICE"}})
		custRefused(t, res, "NOT_FOUND", "saleId")
	})

	t.Run("summaries", func(t *testing.T) {
		var sum struct {
			Store   struct{ Rating fbSummary }
			Oolong  struct{ Rating fbSummary }
			Jasmine struct{ Rating fbSummary }
		}
		e.Exec(t, e.owner.Token, `query($s: ID!, $o: ID!, $j: ID!) {
			store: node(id: $s) { ... on Store { rating { count average distribution } } }
			oolong: node(id: $o) { ... on Product { rating { count average distribution } } }
			jasmine: node(id: $j) { ... on Product { rating { count average distribution } } } }`,
			map[string]any{"s": e.owner.StoreID, "o": e.products["Oolong"], "j": e.products["Jasmine"]}).Decode(t, &sum)
		require.Equal(t, 3, sum.Store.Rating.Count)
		require.InDelta(t, 10.0/3, *sum.Store.Rating.Average, 1e-9)
		require.Equal(t, []int{1, 0, 0, 1, 1}, sum.Store.Rating.Distribution)
		require.Equal(t, 2, sum.Oolong.Rating.Count)
		require.InDelta(t, 2.5, *sum.Oolong.Rating.Average, 1e-9)
		require.Equal(t, 0, sum.Jasmine.Rating.Count)
		require.Nil(t, sum.Jasmine.Rating.Average, "no ratings, no average")
	})

	t.Run("low ratings listed and raise an event", func(t *testing.T) {
		var list struct {
			Feedback struct {
				TotalCount int
				Edges      []struct{ Node struct{ ID string } }
			}
		}
		e.Exec(t, e.owner.Token, `{ feedback(where: {ratingLTE: 2}) { totalCount edges { node { id } } } }`, nil).Decode(t, &list)
		require.Equal(t, 1, list.Feedback.TotalCount)
		require.Equal(t, low.ID, list.Feedback.Edges[0].Node.ID)

		ctx := viewer.NewSystemContext(t.Context(), "test")
		events, err := e.DB.OutboxEvent.Query().Where(outboxevent.Topic("feedback.low")).All(ctx)
		require.NoError(t, err)
		require.Len(t, events, 1, "one low rating, one event")
		require.Equal(t, low.ID, events[0].SubjectID)
		require.Equal(t, map[string]any{"feedbackId": low.ID, "saleId": saleID, "storeId": e.owner.StoreID}, events[0].Payload,
			"ids only: the comment stays in the feedback row, which erasure clears")
	})

	t.Run("another merchant sees none of it", func(t *testing.T) {
		other := newFBEnv(t)
		var list struct{ Feedback struct{ TotalCount int } }
		other.Exec(t, other.owner.Token, `{ feedback { totalCount } }`, nil).Decode(t, &list)
		require.Zero(t, list.Feedback.TotalCount)
	})
}

// Feedback is about a sale the one recording it may see, that was not
// voided, and a sale takes one rating per category (per product for
// PRODUCT), also when two arrive at once.
func TestFeedbackWhichSales(t *testing.T) {
	t.Parallel()
	e := newFBEnv(t, "Jasmine", "Oolong")
	var store struct {
		CreateStore struct{ Store struct{ ID string } }
	}
	e.Exec(t, e.owner.Token, `mutation($i: CreateStoreInput!) { createStore(input: $i) { store { id } } }`,
		map[string]any{"i": map[string]any{"name": "Second Street", "timeZone": "Asia/Shanghai"}}).Decode(t, &store)
	second := *e.owner
	second.StoreID = store.CreateStore.Store.ID
	cashier2 := e.AddStaff(t, &second, "CASHIER")
	var sold struct {
		RecordSale struct{ Sale struct{ ID string } }
	}
	e.Exec(t, cashier2.Token, saleRecord, map[string]any{"i": saleCash(second.StoreID, 800)}).Decode(t, &sold)
	there := sold.RecordSale.Sale.ID
	here := e.sell(t, "", "Jasmine", "Oolong")

	rate := func(by *tilltest.Account, sale string, in map[string]any) *tilltest.Result {
		in["saleId"], in["rating"] = sale, 4
		return e.Exec(t, by.Token, fbRecord, map[string]any{"i": in})
	}
	count := func(t *testing.T) int {
		t.Helper()
		var out struct{ Feedback struct{ TotalCount int } }
		e.Exec(t, e.owner.Token, `{ feedback { totalCount } }`, nil).Decode(t, &out)
		return out.Feedback.TotalCount
	}

	t.Run("another store's sale is not found", func(t *testing.T) {
		missing := rate(e.cashier, "sal_01JD7X0Q2N3V4W5X6Y7Z8A9B0C", map[string]any{"category": "SERVICE"})
		custRefused(t, missing, "NOT_FOUND", "saleId")
		for _, tc := range []struct {
			who  *tilltest.Account
			sale string
		}{{e.cashier, there}, {e.manager, there}, {cashier2, here}} {
			res := rate(tc.who, tc.sale, map[string]any{"category": "SERVICE"})
			custRefused(t, res, "NOT_FOUND", "saleId")
			require.Equal(t, missing.Errors[0].Message, res.Errors[0].Message, "as if there were no such sale")
		}
		require.Zero(t, count(t))
		rate(cashier2, there, map[string]any{"category": "SERVICE"}).Decode(t, &struct{}{})
		rate(e.owner, there, map[string]any{"category": "EXPERIENCE"}).Decode(t, &struct{}{})
		require.Equal(t, 2, count(t), "the store's own staff and the owner rate it")
	})

	t.Run("one rating per sale and category, per product for PRODUCT", func(t *testing.T) {
		before := count(t)
		rate(e.cashier, here, map[string]any{"category": "SERVICE", "comment": "quick"}).Decode(t, &struct{}{})
		custRefused(t, rate(e.manager, here, map[string]any{"category": "SERVICE", "comment": "again"}), "CONFLICT", "category")
		rate(e.cashier, here, map[string]any{"category": "EXPERIENCE"}).Decode(t, &struct{}{})
		rate(e.cashier, here, map[string]any{"category": "PRODUCT", "productId": e.products["Oolong"]}).Decode(t, &struct{}{})
		rate(e.cashier, here, map[string]any{"category": "PRODUCT", "productId": e.products["Jasmine"]}).Decode(t, &struct{}{})
		custRefused(t, rate(e.owner, here, map[string]any{"category": "PRODUCT", "productId": e.products["Oolong"]}), "CONFLICT", "category")
		require.Equal(t, before+4, count(t))
	})

	t.Run("at once, still one", func(t *testing.T) {
		sale := e.sell(t, "", "Oolong")
		before := count(t)
		results := saleParallel(6, func(int) *tilltest.Result { return rate(e.cashier, sale, map[string]any{"category": "SERVICE"}) })
		ok := 0
		for _, res := range results {
			if len(res.Errors) == 0 {
				ok++
			} else {
				require.Equal(t, "CONFLICT", res.Code(), "%+v", res.Errors)
			}
		}
		require.Equal(t, 1, ok)
		require.Equal(t, before+1, count(t))
	})

	t.Run("a voided sale is not rated", func(t *testing.T) {
		sale := e.sell(t, "", "Jasmine")
		e.Exec(t, e.cashier.Token, saleVoid, map[string]any{"i": map[string]any{"idempotencyKey": saleKey(), "saleId": sale, "reason": "rang up twice"}}).
			Decode(t, &struct{}{})
		before := count(t)
		custRefused(t, rate(e.cashier, sale, map[string]any{"category": "SERVICE"}), "CONFLICT", "saleId")
		require.Equal(t, before, count(t))
	})
}

type fbSummary struct {
	Count        int
	Average      *float64
	Distribution []int
}

func TestFeedbackFollowsTheCustomer(t *testing.T) {
	t.Parallel()
	e := newFBEnv(t, "Jasmine")
	survivor, _ := e.newCustomer(t, "Lin", nil)
	dup, _ := e.newCustomer(t, "Lin Duplicate", nil)
	saleID := e.sell(t, dup.ID, "Jasmine")
	e.Exec(t, e.cashier.Token, fbRecord, map[string]any{"i": map[string]any{
		"saleId": saleID, "rating": 2, "category": "SERVICE", "comment": "call me on 13800138000",
	}}).Decode(t, &struct{}{})
	e.Exec(t, e.cashier.Token, fbRecord, map[string]any{"i": map[string]any{
		"saleId": saleID, "rating": 5, "category": "PRODUCT", "productId": e.products["Jasmine"],
	}}).Decode(t, &struct{}{})

	e.call(t, e.owner.Token, custMerge, map[string]any{"survivorId": survivor.ID, "duplicateId": dup.ID}).Decode(t, &struct{}{})
	var history struct {
		Node struct {
			Sales struct {
				TotalCount int
				Edges      []struct{ Node struct{ ID string } }
			}
		}
	}
	e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on Customer { sales { totalCount edges { node { id } } } } } }`,
		map[string]any{"id": survivor.ID}).Decode(t, &history)
	require.Equal(t, 1, history.Node.Sales.TotalCount, "the merge moved the duplicate's sale")
	require.Equal(t, saleID, history.Node.Sales.Edges[0].Node.ID)

	var export struct {
		ExportCustomerData struct{ Data map[string]any }
	}
	e.call(t, e.owner.Token, custExport, map[string]any{"customerId": survivor.ID}).Decode(t, &export)
	data := export.ExportCustomerData.Data
	require.Len(t, data["sales"], 1)
	require.Len(t, data["feedback"], 2)
	products := []any{}
	for _, f := range data["feedback"].([]any) {
		products = append(products, f.(map[string]any)["product"])
	}
	require.Equal(t, []any{nil, e.products["Jasmine"]}, products, "product feedback names the product")

	// The duplicate is the same person: its row and its audit trail are
	// part of the export.
	dups, _ := data["mergedDuplicates"].([]any)
	require.Len(t, dups, 1, "mergedDuplicates: %v", data["mergedDuplicates"])
	d := dups[0].(map[string]any)
	require.Equal(t, dup.ID, d["id"])
	require.Equal(t, "MERGED", d["status"])
	require.Equal(t, survivor.ID, d["mergedInto"])
	require.Equal(t, "Lin Duplicate", d["name"])
	require.Equal(t, dup.MemberCode, d["memberCode"])
	var actions []any
	for _, ev := range d["auditTrail"].([]any) {
		actions = append(actions, ev.(map[string]any)["action"])
	}
	require.Equal(t, []any{"customer.created"}, actions)
	require.Empty(t, d["sales"], "its sales moved to the survivor")

	e.call(t, e.owner.Token, custErase, map[string]any{"customerId": survivor.ID}).Decode(t, &struct{}{})
	var list struct {
		Feedback struct {
			Edges []struct {
				Node struct {
					Rating  int
					Comment string
				}
			}
		}
	}
	e.Exec(t, e.owner.Token, `{ feedback { edges { node { rating comment } } } }`, nil).Decode(t, &list)
	require.Len(t, list.Feedback.Edges, 2)
	ratings := []int{}
	for _, f := range list.Feedback.Edges {
		ratings = append(ratings, f.Node.Rating)
		require.Empty(t, f.Node.Comment, "what the person wrote goes with their data")
	}
	require.ElementsMatch(t, []int{2, 5}, ratings, "the ratings stay for the averages")
}

func TestRecommendedProducts(t *testing.T) {
	t.Parallel()
	e := newFBEnv(t, "Jasmine", "Oolong", "Cake", "Bun", "Sencha", "Retired")
	lin, _ := e.newCustomer(t, "Lin", nil)
	mei, _ := e.newCustomer(t, "Mei", nil)
	newcomer, _ := e.newCustomer(t, "New", nil)

	// Other customers buy Jasmine with Cake twice, with Bun once; Sencha
	// sells most of all, but never with Jasmine.
	e.sell(t, mei.ID, "Jasmine", "Cake")
	e.sell(t, "", "Jasmine", "Cake", "Retired")
	e.sell(t, "", "Jasmine", "Bun")
	for range 5 {
		e.sell(t, "", "Sencha")
	}
	// Lin bought Oolong twice, and Jasmine just now.
	e.sell(t, lin.ID, "Oolong")
	e.sell(t, lin.ID, "Oolong")
	e.sell(t, lin.ID, "Jasmine")
	e.Exec(t, e.owner.Token, `mutation($i: UpdateProductInput!) { updateProduct(input: $i) { product { id } } }`,
		map[string]any{"i": map[string]any{"productId": e.products["Retired"], "active": false}}).Decode(t, &struct{}{})

	// Oolong (bought again: 2×2), Cake (with Jasmine twice), Bun (once);
	// not Jasmine, just bought; not Retired, no longer sold; then the best
	// seller fills the list.
	require.Equal(t, []string{"Oolong", "Cake", "Bun", "Sencha"}, e.recommended(t, lin.ID, 4))
	require.Equal(t, []string{"Oolong", "Cake"}, e.recommended(t, lin.ID, 2))
	// A customer without history gets the best sellers: Sencha (5 sales),
	// Jasmine (4).
	require.Equal(t, []string{"Sencha", "Jasmine"}, e.recommended(t, newcomer.ID, 2))

	res := e.Exec(t, e.cashier.Token, fbRecommend, map[string]any{"id": lin.ID, "first": 21})
	custRefused(t, res, "BAD_USER_INPUT", "first")
}

// Recommendations count what customers kept: a voided sale or a line
// refunded in full counts for nothing, and the customer's own products
// score by what they buy again, not by the baskets they seeded. Staff
// read them; a platform operator is refused, as for the rest of a
// merchant's customers.
func TestRecommendedProductsCountWhatWasKept(t *testing.T) {
	t.Parallel()
	e := newFBEnv(t, "Oolong", "Matcha", "Bun", "Cake", "Scone", "Mochi")
	lin, _ := e.newCustomer(t, "Lin", nil)
	newcomer, _ := e.newCustomer(t, "New", nil)

	// Lin bought Oolong, then Matcha, then (just now) Bun.
	e.sell(t, lin.ID, "Oolong")
	e.sell(t, lin.ID, "Matcha")
	e.sell(t, lin.ID, "Bun")
	// Others took Cake with their Oolong three times.
	for range 3 {
		e.sell(t, "", "Oolong", "Cake")
	}
	// Scone came with Oolong four times, each sale voided.
	for range 4 {
		sale := e.sell(t, "", "Oolong", "Scone")
		e.Exec(t, e.cashier.Token, saleVoid, map[string]any{"i": map[string]any{"idempotencyKey": saleKey(), "saleId": sale, "reason": "test sale"}}).
			Decode(t, &struct{}{})
	}
	// Mochi came with Oolong five times, and went back each time.
	for range 5 {
		sale := e.sell(t, "", "Oolong", "Mochi")
		var out struct {
			Node struct {
				Lines []struct{ ID, ProductID string }
			}
		}
		e.Exec(t, e.owner.Token, `query($id: ID!) { node(id: $id) { ... on Sale { lines { id productID } } } }`,
			map[string]any{"id": sale}).Decode(t, &out)
		for _, l := range out.Node.Lines {
			if l.ProductID == e.products["Mochi"] {
				e.Exec(t, e.cashier.Token, saleRefund, map[string]any{"i": saleRefundIn(sale, map[string]any{
					"lines": []any{map[string]any{"saleLineId": l.ID, "quantity": 1}},
				})}).Decode(t, &struct{}{})
			}
		}
	}
	// A voided purchase of Lin's own is no purchase either.
	sale := e.sell(t, lin.ID, "Scone", "Scone")
	e.Exec(t, e.cashier.Token, saleVoid, map[string]any{"i": map[string]any{"idempotencyKey": saleKey(), "saleId": sale, "reason": "test sale"}}).
		Decode(t, &struct{}{})

	for _, role := range custRoles {
		t.Run(role, func(t *testing.T) {
			read := func(id string, first int) []string {
				var out struct {
					Node struct{ RecommendedProducts []struct{ Name string } }
				}
				e.Exec(t, e.as(role).Token, fbRecommend, map[string]any{"id": id, "first": first}).Decode(t, &out)
				names := []string{}
				for _, p := range out.Node.RecommendedProducts {
					names = append(names, p.Name)
				}
				return names
			}
			// Cake (with Oolong 3 times) beats Lin's own Oolong and Matcha
			// (2 each: bought once, counted double; Oolong first by id);
			// Bun was just bought; Scone and Mochi were not kept, so they
			// are neither recommended nor best sellers.
			require.Equal(t, []string{"Cake", "Oolong", "Matcha"}, read(lin.ID, 5))
			require.Equal(t, []string{"Cake"}, read(lin.ID, 1))
			// Best sellers by lines kept: Oolong 9, Cake 3.
			require.Equal(t, []string{"Oolong", "Cake"}, read(newcomer.ID, 2))
		})
	}

	t.Run("OPERATOR", func(t *testing.T) {
		res := e.Exec(t, e.Operator(t).Token, fbRecommend, map[string]any{"id": lin.ID, "first": 3})
		custRefused(t, res, "FORBIDDEN", "")
	})
}
