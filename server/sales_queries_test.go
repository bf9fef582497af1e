package server_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/db"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/server"
)

// How many SQL statements a request takes does not grow with the number
// of sales it shows: receipts, lines and tenders load once per list, not
// once per sale.

// statements counts the SQL statements the server runs.
type statements struct{ n atomic.Int64 }

func (s *statements) wrap(d dialect.Driver) dialect.Driver {
	return &countingDriver{Driver: d, n: &s.n}
}

// during is how many statements do ran.
func (s *statements) during(do func()) int64 {
	before := s.n.Load()
	do()
	return s.n.Load() - before
}

type countingDriver struct {
	dialect.Driver
	n *atomic.Int64
}

func (d *countingDriver) Exec(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Exec(ctx, query, args, v)
}

func (d *countingDriver) Query(ctx context.Context, query string, args, v any) error {
	d.n.Add(1)
	return d.Driver.Query(ctx, query, args, v)
}

func (d *countingDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return &countingTx{Tx: tx, n: d.n}, nil
}

type countingTx struct {
	dialect.Tx
	n *atomic.Int64
}

func (t *countingTx) Exec(ctx context.Context, query string, args, v any) error {
	t.n.Add(1)
	return t.Tx.Exec(ctx, query, args, v)
}

func (t *countingTx) Query(ctx context.Context, query string, args, v any) error {
	t.n.Add(1)
	return t.Tx.Query(ctx, query, args, v)
}

// newCountedSaleEnv is a saleEnv whose SQL statements count.
func newCountedSaleEnv(t *testing.T) (*saleEnv, *statements) {
	count := new(statements)
	env := tilltest.New(t, nil, server.WithDBOptions(db.WithDriver(count.wrap)))
	owner := env.SignUp(t, "Lotus Tea")
	return &saleEnv{Env: env, owner: owner, manager: env.AddStaff(t, owner, "MANAGER"), cashier: env.AddStaff(t, owner, "CASHIER")}, count
}

func TestSaleQueryCounts(t *testing.T) {
	t.Parallel()
	e, count := newCountedSaleEnv(t)
	_, terminal := e.terminal(t, "SN-COUNT", "Till 1")
	for i := range 12 {
		in := saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 1000, 0), saleItem("Cake", 2, 500, 600)},
			map[string]any{"type": "CASH", "amount": 1000}, saleCard(1000, saleKey()))
		token := e.cashier.Token
		if i%2 == 1 { // the newest among them
			token = terminal
		}
		e.record(t, token, in)
	}

	const page = `query($n: Int) { sales(first: $n) { edges { node { id lines { id name } tenders { id type }
		receipt { number terminal cashierName lines { name } tenders { label } text(width: 32) } } } } }`
	list := func(n int) int64 {
		return count.during(func() {
			var out struct {
				Sales struct {
					Edges []struct {
						Node struct{ Receipt struct{ Text string } }
					}
				}
			}
			e.Exec(t, e.owner.Token, page, map[string]any{"n": n}).Decode(t, &out)
			require.Len(t, out.Sales.Edges, n)
			require.Contains(t, out.Sales.Edges[n-1].Node.Receipt.Text, "TOTAL")
		})
	}
	one, twelve := list(1), list(12)
	require.Equal(t, one, twelve, "a page of 12 sales with receipts takes as many statements as a page of 1")

	// An upload costs what recording its sales costs, plus a fixed number
	// of statements to show their lines, tenders and receipts.
	upload := func(n int, fields string) int64 {
		sales := make([]any, n)
		for i := range sales {
			sales[i] = saleOf(e.owner.StoreID, []any{saleItem("Tea", 1, 1000, 0)}, saleCard(1000, saleKey()))
		}
		q := `mutation($i: UploadSalesInput!) { uploadSales(input: $i) { results { status sale { ` + fields + ` } } } }`
		return count.during(func() {
			var out struct {
				UploadSales struct{ Results []struct{ Status string } }
			}
			e.Exec(t, e.cashier.Token, q, map[string]any{"i": map[string]any{"sales": sales}}).Decode(t, &out)
			for _, r := range out.UploadSales.Results {
				require.Equal(t, "CREATED", r.Status)
			}
		})
	}
	const shown = `id lines { id } tenders { id } receipt { text(width: 24) }`
	extra := func(n int) int64 { return upload(n, shown) - upload(n, "id") }
	require.Equal(t, extra(2), extra(10), "showing the sales of an upload takes as many statements for 10 as for 2")
}

// Ratings of a page of products or of the owner's stores are counted in
// one statement for the whole list.
func TestRatingQueryCounts(t *testing.T) {
	t.Parallel()
	e, count := newCountedSaleEnv(t)
	owner := e.owner
	for i, rating := range []int{5, 4, 2, 1} {
		var p struct {
			CreateProduct struct{ Product struct{ ID string } }
		}
		e.Exec(t, owner.Token, saleProduct, map[string]any{"i": map[string]any{"sku": fmt.Sprint("SKU-", i), "name": fmt.Sprint("Tea ", i), "unitPrice": 1000}}).Decode(t, &p)
		in := saleOf(owner.StoreID, []any{map[string]any{"productId": p.CreateProduct.Product.ID, "quantity": 1}}, map[string]any{"type": "CASH", "amount": 1000})
		sold := e.record(t, e.cashier.Token, in)
		e.Exec(t, e.cashier.Token, `mutation($i: RecordFeedbackInput!) { recordFeedback(input: $i) { feedback { id } } }`, map[string]any{"i": map[string]any{
			"saleId": sold.ID, "rating": rating, "category": "PRODUCT", "productId": p.CreateProduct.Product.ID,
		}}).Decode(t, &struct{}{})
	}
	e.Exec(t, owner.Token, `mutation($i: CreateStoreInput!) { createStore(input: $i) { store { id } } }`,
		map[string]any{"i": map[string]any{"name": "Second Street", "timeZone": "Asia/Shanghai"}}).Decode(t, &struct{}{})

	type rating struct {
		Count        int
		Average      *float64
		Distribution []int
	}
	extra := func(query, fields string, out any) int64 {
		plain := count.during(func() { e.Exec(t, owner.Token, fmt.Sprintf(query, "id"), nil).Decode(t, &struct{}{}) })
		rated := count.during(func() { e.Exec(t, owner.Token, fmt.Sprintf(query, fields), nil).Decode(t, out) })
		return rated - plain
	}
	var products struct {
		Products struct {
			Edges []struct{ Node struct{ Rating rating } }
		}
	}
	require.Equal(t, int64(1), extra(`{ products(first: 10) { edges { node { %s } } } }`, "id rating { count average distribution }", &products))
	require.Len(t, products.Products.Edges, 4)
	averages := map[float64]bool{}
	for _, edge := range products.Products.Edges {
		require.Equal(t, 1, edge.Node.Rating.Count)
		averages[*edge.Node.Rating.Average] = true
	}
	require.Equal(t, map[float64]bool{5: true, 4: true, 2: true, 1: true}, averages)

	var stores struct {
		Viewer struct{ Stores []struct{ Rating rating } }
	}
	require.Equal(t, int64(1), extra(`{ viewer { stores { %s } } }`, "id rating { count average distribution }", &stores))
	require.Len(t, stores.Viewer.Stores, 2)
	got := []rating{stores.Viewer.Stores[0].Rating, stores.Viewer.Stores[1].Rating}
	if got[0].Count == 0 {
		got[0], got[1] = got[1], got[0]
	}
	require.Equal(t, 4, got[0].Count)
	require.Equal(t, 3.0, *got[0].Average)
	require.Equal(t, []int{1, 1, 0, 1, 1}, got[0].Distribution)
	require.Equal(t, rating{Count: 0, Distribution: []int{0, 0, 0, 0, 0}}, got[1], "a store without ratings")
}
