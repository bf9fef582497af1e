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

	give := func(by *tilltest.Account, in map[string]any) *tilltest.Result {
		in["saleId"] = saleID
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
	give(e.owner, map[string]any{"rating": 4, "category": "PRODUCT", "productId": e.products["Oolong"]}).Decode(t, &out)

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
	})

	t.Run("another merchant sees none of it", func(t *testing.T) {
		other := newFBEnv(t)
		var list struct{ Feedback struct{ TotalCount int } }
		other.Exec(t, other.owner.Token, `{ feedback { totalCount } }`, nil).Decode(t, &list)
		require.Zero(t, list.Feedback.TotalCount)
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
	require.Len(t, export.ExportCustomerData.Data["sales"], 1)
	require.Len(t, export.ExportCustomerData.Data["feedback"], 1)

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
	require.Len(t, list.Feedback.Edges, 1)
	require.Equal(t, 2, list.Feedback.Edges[0].Node.Rating, "the rating stays for the store's average")
	require.Empty(t, list.Feedback.Edges[0].Node.Comment, "what the person wrote goes with their data")
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
