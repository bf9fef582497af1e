package server_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/feed"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/server"
)

// The catalog and the change feed through the API, as the apps use them:
// products made and edited by owners and managers with their price
// history, searched and scanned by everyone, imported from CSV all or
// nothing, confined to their merchant; and the feed a tablet's offline
// cache catches up with.

const (
	prodFields = `id sku barcode name category unitPrice cost taxRateBp active
		priceChanges(first: 10, orderBy: {field: CREATED_AT}) { totalCount edges { node { oldPrice newPrice changedBy { id } } } }`
	prodCreate = `mutation($i: CreateProductInput!) { createProduct(input: $i) { product { ` + prodFields + ` } } }`
	prodUpdate = `mutation($i: UpdateProductInput!) { updateProduct(input: $i) { product { ` + prodFields + ` } } }`
	prodImport = `mutation($i: ImportProductsInput!) { importProducts(input: $i) { created updated unchanged errors { row column message } } }`
	prodSearch = `query($q: String!, $first: Int, $after: Cursor) { searchProducts(query: $q, first: $first, after: $after) {
		totalCount pageInfo { hasNextPage endCursor } edges { node { id name } } } }`
	prodScan    = `query($b: String!) { productByBarcode(barcode: $b) { id sku name } }`
	prodNode    = `query($id: ID!) { node(id: $id) { id ... on Product { ` + prodFields + ` } } }`
	prodChanges = `query($since: String, $first: Int) { changes(since: $since, first: $first) {
		cursor hasMore products { id sku active } customers { id name status phone } } }`
)

type prodProduct struct {
	ID           string
	Sku          string
	Barcode      *string
	Name         string
	Category     *string
	UnitPrice    int64
	Cost         *int64
	TaxRateBp    int
	Active       bool
	PriceChanges struct {
		TotalCount int
		Edges      []struct {
			Node struct {
				OldPrice, NewPrice int64
				ChangedBy          struct{ ID string }
			}
		}
	}
}

// prices is the product's price history as "old→new by staff id".
func (p prodProduct) prices() []string {
	out := []string{}
	for _, e := range p.PriceChanges.Edges {
		out = append(out, fmt.Sprintf("%d→%d by %s", e.Node.OldPrice, e.Node.NewPrice, e.Node.ChangedBy.ID))
	}
	return out
}

// prodEnv is a test server with a merchant and its owner, a manager and a
// cashier; the server's clock runs ahead of the wall clock by ahead.
type prodEnv struct {
	*tilltest.Env
	owner, manager, cashier *tilltest.Account
	ahead                   *atomic.Int64
}

func newProdEnv(t *testing.T) *prodEnv {
	t.Helper()
	ahead := new(atomic.Int64)
	env := tilltest.New(t, nil, server.WithClock(func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }))
	p := &prodEnv{Env: env, owner: env.SignUp(t, "Lotus Tea"), ahead: ahead}
	p.manager = env.AddStaff(t, p.owner, "MANAGER")
	p.cashier = env.AddStaff(t, p.owner, "CASHIER")
	return p
}

func (p *prodEnv) call(t *testing.T, by *tilltest.Account, query string, input map[string]any) *tilltest.Result {
	t.Helper()
	return p.Exec(t, by.Token, query, map[string]any{"i": input})
}

// product decodes the product of a createProduct or updateProduct payload.
func prodPayload(t *testing.T, res *tilltest.Result) prodProduct {
	t.Helper()
	var out map[string]struct{ Product prodProduct }
	res.Decode(t, &out)
	for _, p := range out {
		return p.Product
	}
	t.Fatal("no payload")
	return prodProduct{}
}

func (p *prodEnv) create(t *testing.T, by *tilltest.Account, input map[string]any) prodProduct {
	t.Helper()
	return prodPayload(t, p.call(t, by, prodCreate, input))
}

func (p *prodEnv) update(t *testing.T, by *tilltest.Account, id string, input map[string]any) prodProduct {
	t.Helper()
	input["productId"] = id
	return prodPayload(t, p.call(t, by, prodUpdate, input))
}

func (p *prodEnv) read(t *testing.T, by *tilltest.Account, id string) *prodProduct {
	t.Helper()
	var out struct{ Node *prodProduct }
	p.Exec(t, by.Token, prodNode, map[string]any{"id": id}).Decode(t, &out)
	return out.Node
}

func (p *prodEnv) scan(t *testing.T, by *tilltest.Account, barcode string) *prodProduct {
	t.Helper()
	var out struct{ ProductByBarcode *prodProduct }
	p.Exec(t, by.Token, prodScan, map[string]any{"b": barcode}).Decode(t, &out)
	return out.ProductByBarcode
}

type prodImportResult struct {
	Created, Updated, Unchanged int
	Errors                      []struct {
		Row     int
		Column  *string
		Message string
	}
}

func (p *prodEnv) importCSV(t *testing.T, by *tilltest.Account, csv string) prodImportResult {
	t.Helper()
	var out struct{ ImportProducts prodImportResult }
	p.call(t, by, prodImport, map[string]any{"csv": csv}).Decode(t, &out)
	return out.ImportProducts
}

// bySKU reads the merchant's products through the products connection.
func (p *prodEnv) bySKU(t *testing.T, by *tilltest.Account) map[string]prodProduct {
	t.Helper()
	var out struct {
		Products struct{ Edges []struct{ Node prodProduct } }
	}
	p.Exec(t, by.Token, `{ products(first: 100, orderBy: [{field: SKU}]) { edges { node { `+prodFields+` } } } }`, nil).Decode(t, &out)
	m := map[string]prodProduct{}
	for _, e := range out.Products.Edges {
		m[e.Node.Sku] = e.Node
	}
	return m
}

// actions lists the merchant's audit actions about target, oldest first.
func (p *prodEnv) actions(t *testing.T, target string) []string {
	t.Helper()
	var out struct {
		AuditEntries struct {
			Edges []struct {
				Node struct{ Action, ActorID string }
			}
		}
	}
	p.Exec(t, p.owner.Token, `query($w: AuditEntryWhereInput) { auditEntries(where: $w, first: 100, orderBy: {field: CREATED_AT}) {
		edges { node { action actorID } } } }`, map[string]any{"w": map[string]any{"targetID": target}}).Decode(t, &out)
	got := []string{}
	for _, e := range out.AuditEntries.Edges {
		got = append(got, e.Node.Action+" by "+e.Node.ActorID)
	}
	return got
}

func TestProductCreateUpdateAndPriceHistory(t *testing.T) {
	p := newProdEnv(t)
	tea := p.create(t, p.manager, map[string]any{
		"sku": " TEA-1 ", "barcode": "6901234567892", "name": " Green Tea ", "category": "Tea",
		"unitPrice": 1250, "cost": 400, "taxRateBp": 600,
	})
	require.Equal(t, "TEA-1", tea.Sku)
	require.Equal(t, "Green Tea", tea.Name)
	require.Equal(t, int64(1250), tea.UnitPrice)
	require.True(t, tea.Active)
	require.Empty(t, tea.prices(), "a new product has no price changes")

	// A manager raises the price, the owner lowers it; the name alone leaves no price change.
	tea = p.update(t, p.manager, tea.ID, map[string]any{"unitPrice": 1500, "name": "Green Tea (loose)"})
	require.Equal(t, int64(1500), tea.UnitPrice)
	p.update(t, p.owner, tea.ID, map[string]any{"unitPrice": 1400, "clearCost": true, "barcode": ""})
	tea = p.update(t, p.owner, tea.ID, map[string]any{"name": "Green Tea (loose)"}) // changes nothing
	got := p.read(t, p.cashier, tea.ID)
	require.NotNil(t, got)
	require.Equal(t, []string{"1250→1500 by " + p.manager.ID, "1500→1400 by " + p.owner.ID}, got.prices())
	require.Nil(t, got.Cost)
	require.Nil(t, got.Barcode)
	require.Equal(t, "Green Tea (loose)", got.Name)
	require.Equal(t, []string{
		"product.created by " + p.manager.ID,
		"product.updated by " + p.manager.ID, "product.price_changed by " + p.manager.ID,
		"product.updated by " + p.owner.ID, "product.price_changed by " + p.owner.ID,
	}, p.actions(t, tea.ID), "the update that changed nothing is not audited")

	// Validation and clashes.
	p.create(t, p.owner, map[string]any{"sku": "TEA-2", "barcode": "6900000000002", "name": "Black Tea", "unitPrice": 900})
	refusals := []struct {
		name, query string
		input       map[string]any
		code, field string
	}{
		{"same SKU", prodCreate, map[string]any{"sku": "TEA-1", "name": "Copy", "unitPrice": 1}, "CONFLICT", "sku"},
		{"same barcode", prodCreate, map[string]any{"sku": "TEA-3", "barcode": "6900000000002", "name": "Copy", "unitPrice": 1}, "CONFLICT", "barcode"},
		{"renamed to a taken SKU", prodUpdate, map[string]any{"productId": tea.ID, "sku": "TEA-2"}, "CONFLICT", "sku"},
		{"negative price", prodCreate, map[string]any{"sku": "TEA-4", "name": "Free", "unitPrice": -1}, "BAD_USER_INPUT", "unitPrice"},
		{"negative new price", prodUpdate, map[string]any{"productId": tea.ID, "unitPrice": -5}, "BAD_USER_INPUT", "unitPrice"},
		{"tax over 100%", prodCreate, map[string]any{"sku": "TEA-5", "name": "Taxed", "unitPrice": 1, "taxRateBp": 10001}, "BAD_USER_INPUT", "taxRateBp"},
		{"blank name", prodUpdate, map[string]any{"productId": tea.ID, "name": "  "}, "BAD_USER_INPUT", "name"},
		{"no such product", prodUpdate, map[string]any{"productId": "prd_01JD7X0Q2N3V4W5X6Y7Z8A9B0C", "name": "X"}, "NOT_FOUND", ""},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			res := p.call(t, p.owner, tt.query, tt.input)
			custRefused(t, res, tt.code, tt.field)
		})
	}
	require.Len(t, p.bySKU(t, p.owner), 2, "nothing refused was stored")
	require.Equal(t, "TEA-1", p.read(t, p.owner, tea.ID).Sku)
}

func TestProductRoles(t *testing.T) {
	p := newProdEnv(t)
	tea := p.create(t, p.owner, map[string]any{"sku": "TEA-1", "barcode": "6901234567892", "name": "Green Tea", "unitPrice": 1250})

	writes := []struct {
		name, query string
		input       map[string]any
	}{
		{"createProduct", prodCreate, map[string]any{"sku": "C-1", "name": "Mine", "unitPrice": 1}},
		{"updateProduct", prodUpdate, map[string]any{"productId": tea.ID, "unitPrice": 1}},
		{"importProducts", prodImport, map[string]any{"csv": "sku,name,price\nC-2,Mine,1\n"}},
	}
	for _, tt := range writes {
		t.Run("cashier "+tt.name, func(t *testing.T) {
			custRefused(t, p.call(t, p.cashier, tt.query, tt.input), "FORBIDDEN", "")
		})
	}
	require.Equal(t, int64(1250), p.read(t, p.owner, tea.ID).UnitPrice)
	require.Len(t, p.bySKU(t, p.cashier), 1, "the cashier reads the list, unchanged")

	// Everyone reads: search, scan, list.
	for _, by := range []*tilltest.Account{p.owner, p.manager, p.cashier} {
		found := p.scan(t, by, "6901234567892")
		require.NotNil(t, found)
		require.Equal(t, tea.ID, found.ID)
		var out struct{ SearchProducts struct{ TotalCount int } }
		p.Exec(t, by.Token, prodSearch, map[string]any{"q": "green"}).Decode(t, &out)
		require.Equal(t, 1, out.SearchProducts.TotalCount)
	}
	require.Nil(t, p.scan(t, p.cashier, "0000000000000"), "an unknown barcode is null")
}

func TestProductSearchAndScan(t *testing.T) {
	p := newProdEnv(t)
	for _, in := range []map[string]any{
		{"sku": "OOL-1", "name": "Oolong Tea", "barcode": "6901000000001"},
		{"sku": "TEA", "name": "Milk Oolong"},
		{"sku": "GRN-1", "name": "Green Tea"},
		{"sku": "TP-1", "name": "Teapot"},
		{"sku": "TB-1", "name": "Tea Bags"},
		{"sku": "OLD-1", "name": "Tea Sampler", "active": false},
		{"sku": "CAKE-1", "name": "Mooncake"},
	} {
		in["unitPrice"] = 100
		p.create(t, p.owner, in)
	}
	want := []string{"Milk Oolong", "Tea Bags", "Teapot", "Green Tea", "Oolong Tea", "Tea Sampler"}
	var got []string
	var after any
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		var out struct {
			SearchProducts struct {
				TotalCount int
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
				Edges []struct{ Node struct{ Name string } }
			}
		}
		p.Exec(t, p.cashier.Token, prodSearch, map[string]any{"q": "TEA", "first": 4, "after": after}).Decode(t, &out)
		require.Equal(t, len(want), out.SearchProducts.TotalCount)
		for _, e := range out.SearchProducts.Edges {
			got = append(got, e.Node.Name)
		}
		if !out.SearchProducts.PageInfo.HasNextPage {
			break
		}
		after = out.SearchProducts.PageInfo.EndCursor
	}
	require.Equal(t, want, got, "exact SKU, then names starting with the query, then the rest by name; inactive last")

	found := p.scan(t, p.cashier, " 6901000000001 ")
	require.NotNil(t, found)
	require.Equal(t, "OOL-1", found.Sku)
	custRefused(t, p.Exec(t, p.cashier.Token, prodSearch, map[string]any{"q": "  "}), "BAD_USER_INPUT", "query")
}

func TestProductImport(t *testing.T) {
	p := newProdEnv(t)
	old := p.create(t, p.owner, map[string]any{"sku": "TEA-1", "name": "Green Tea", "unitPrice": 1250, "taxRateBp": 600})
	p.create(t, p.owner, map[string]any{"sku": "TEA-2", "name": "Black Tea", "unitPrice": 900})

	res := p.importCSV(t, p.manager, strings.Join([]string{
		"sku,name,barcode,category,price,cost,tax_rate,active",
		"TEA-1,Green Tea,,,13.50,,,",                    // a new price
		"TEA-2,Black Tea,,,9,,,",                        // unchanged: 9.00 is 900
		`NEW-1,"Jasmine, loose",6902,Tea,8.8,3.25,6.5,`, // new
		"NEW-2,Gift Box,,Gifts,120,,13,false",           // new, inactive
	}, "\n"))
	require.Empty(t, res.Errors)
	require.Equal(t, prodImportResult{Created: 2, Updated: 1, Unchanged: 1, Errors: res.Errors}, res)
	products := p.bySKU(t, p.owner)
	require.Len(t, products, 4)
	require.Equal(t, int64(1350), products["TEA-1"].UnitPrice)
	require.Equal(t, 600, products["TEA-1"].TaxRateBp, "an empty cell keeps the value")
	require.Equal(t, []string{"1250→1350 by " + p.manager.ID}, products["TEA-1"].prices())
	jasmine := products["NEW-1"]
	require.Equal(t, "Jasmine, loose", jasmine.Name)
	require.Equal(t, int64(880), jasmine.UnitPrice)
	require.Equal(t, int64(325), *jasmine.Cost)
	require.Equal(t, 650, jasmine.TaxRateBp)
	require.Equal(t, "Tea", *jasmine.Category)
	require.True(t, jasmine.Active)
	require.False(t, products["NEW-2"].Active)
	require.Equal(t, 1300, products["NEW-2"].TaxRateBp)
	require.Equal(t, "NEW-1", p.scan(t, p.cashier, "6902").Sku)
	require.Equal(t, []string{"product.created by " + p.owner.ID}, p.actions(t, old.ID), "the import audits itself once")

	// One bad row and nothing is written, not even the good rows.
	res = p.importCSV(t, p.owner, strings.Join([]string{
		"sku,name,price",
		"TEA-1,Green Tea,20",
		"NEW-3,Oolong,abc",
		"NEW-4,,5",
		"NEW-5,Puer,-3",
	}, "\n"))
	require.Zero(t, res.Created+res.Updated+res.Unchanged)
	type rowErr struct {
		Row             int
		Column, Message string
	}
	var errors []rowErr
	for _, e := range res.Errors {
		require.NotNil(t, e.Column)
		errors = append(errors, rowErr{e.Row, *e.Column, e.Message})
	}
	require.Equal(t, []rowErr{
		{2, "price", `"abc" is not a number such as 12.50`},
		{3, "name", "is required"},
		{4, "price", `"-3" must not be negative`},
	}, errors)
	products = p.bySKU(t, p.owner)
	require.Len(t, products, 4)
	require.Equal(t, int64(1350), products["TEA-1"].UnitPrice, "the good row was not applied either")

	custRefused(t, p.call(t, p.owner, prodImport, map[string]any{"csv": "name,price\nTea,1\n"}), "BAD_USER_INPUT", "csv")
}

func TestProductTenancy(t *testing.T) {
	p := newProdEnv(t)
	tea := p.create(t, p.owner, map[string]any{"sku": "TEA-1", "barcode": "6901234567892", "name": "Green Tea", "unitPrice": 1250})
	p.ahead.Store(int64(feed.SettleLag + time.Second))
	rival := p.SignUp(t, "Rival Tea")

	custRefused(t, p.Exec(t, rival.Token, prodNode, map[string]any{"id": tea.ID}), "NOT_FOUND", "")
	custRefused(t, p.call(t, rival, prodUpdate, map[string]any{"productId": tea.ID, "unitPrice": 1}), "NOT_FOUND", "")
	require.Nil(t, p.scan(t, rival, "6901234567892"))
	var search struct{ SearchProducts struct{ TotalCount int } }
	p.Exec(t, rival.Token, prodSearch, map[string]any{"q": "tea"}).Decode(t, &search)
	require.Zero(t, search.SearchProducts.TotalCount)
	require.Empty(t, p.bySKU(t, rival))
	var changes struct {
		Changes struct{ Products []struct{ ID string } }
	}
	p.Exec(t, rival.Token, prodChanges, nil).Decode(t, &changes)
	require.Empty(t, changes.Changes.Products)

	// The rival's own SKU and barcode may repeat the first merchant's.
	theirs := p.create(t, rival, map[string]any{"sku": "TEA-1", "barcode": "6901234567892", "name": "Their Tea", "unitPrice": 1})
	require.Equal(t, theirs.ID, p.scan(t, rival, "6901234567892").ID)
	require.Equal(t, tea.ID, p.scan(t, p.cashier, "6901234567892").ID)
	require.Equal(t, int64(1250), p.read(t, p.owner, tea.ID).UnitPrice)
}

type prodChangesPage struct {
	Cursor   string
	HasMore  bool
	Products []struct {
		ID, Sku string
		Active  bool
	}
	Customers []struct {
		ID, Name, Status string
		Phone            *string
	}
}

func (p *prodEnv) changes(t *testing.T, by *tilltest.Account, since *string, first int) prodChangesPage {
	t.Helper()
	vars := map[string]any{"since": since}
	if first > 0 {
		vars["first"] = first
	}
	var out struct{ Changes prodChangesPage }
	p.Exec(t, by.Token, prodChanges, vars).Decode(t, &out)
	return out.Changes
}

func TestChangesFeed(t *testing.T) {
	p := newProdEnv(t)
	settle := func() { p.ahead.Store(int64(feed.SettleLag + time.Second)) }
	var skus []string
	for i := range 5 {
		skus = append(skus, p.create(t, p.owner, map[string]any{"sku": fmt.Sprintf("P-%d", i), "name": "Tea", "unitPrice": 100}).Sku)
	}
	var out struct {
		CreateCustomer struct{ Customer struct{ ID string } }
	}
	p.call(t, p.owner, `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`,
		map[string]any{"name": "Mei Lin", "phone": "+86 138 1234 5678"}).Decode(t, &out)
	mei := out.CreateCustomer.Customer.ID

	// Changes younger than the settle lag wait.
	first := p.changes(t, p.cashier, nil, 0)
	require.Empty(t, first.Products)
	require.Empty(t, first.Customers)
	require.False(t, first.HasMore)

	// Paging with a small first: each product once, oldest first.
	settle()
	var got []string
	cursor, calls := first.Cursor, 0
	var customers []string
	for {
		page := p.changes(t, p.cashier, &cursor, 2)
		calls++
		for _, pr := range page.Products {
			got = append(got, pr.Sku)
		}
		for _, c := range page.Customers {
			customers = append(customers, c.ID)
			require.Contains(t, *c.Phone, "****", "cashiers see contact details masked")
			require.NotContains(t, *c.Phone, "1234")
		}
		cursor = page.Cursor
		if !page.HasMore {
			break
		}
	}
	require.Equal(t, skus, got)
	require.Equal(t, []string{mei}, customers)
	require.Equal(t, 3, calls)
	caughtUp := p.changes(t, p.cashier, &cursor, 0)
	require.Empty(t, caughtUp.Products)
	require.Empty(t, caughtUp.Customers)
	require.Equal(t, cursor, caughtUp.Cursor, "the cursor round-trips")

	// A deactivated product and an archived customer come again, once settled.
	p.ahead.Store(0)
	p.update(t, p.manager, p.bySKU(t, p.owner)["P-1"].ID, map[string]any{"active": false})
	p.call(t, p.owner, `mutation($i: CustomerIdInput!) { archiveCustomer(input: $i) { customer { id } } }`,
		map[string]any{"customerId": mei}).Decode(t, &struct{}{})
	require.Empty(t, p.changes(t, p.cashier, &cursor, 0).Products, "within the settle lag")
	settle()
	next := p.changes(t, p.cashier, &cursor, 0)
	require.Len(t, next.Products, 1)
	require.Equal(t, "P-1", next.Products[0].Sku)
	require.False(t, next.Products[0].Active)
	require.Len(t, next.Customers, 1)
	require.Equal(t, "ARCHIVED", next.Customers[0].Status)

	for _, bad := range []map[string]any{{"first": 0}, {"first": 501}, {"since": "garbage"}} {
		res := p.Exec(t, p.cashier.Token, prodChanges, bad)
		custRefused(t, res, "BAD_USER_INPUT", "")
	}
}

// A full card number pasted into a product's name or category is refused
// on create, update and import, and never stored.
func TestProductRefusesCardNumbers(t *testing.T) {
	t.Parallel()
	p := newProdEnv(t)
	const pan = "4111 1111 1111 1111"
	tea := p.create(t, p.owner, map[string]any{"sku": "TEA-1", "name": "Green Tea", "unitPrice": 1250})
	refusals := []struct {
		name, query string
		input       map[string]any
		field       string
	}{
		{"name on create", prodCreate, map[string]any{"sku": "C-1", "name": "card " + pan, "unitPrice": 1}, "name"},
		{"category on create", prodCreate, map[string]any{"sku": "C-2", "name": "Cake", "category": pan, "unitPrice": 1}, "category"},
		{"name on update", prodUpdate, map[string]any{"productId": tea.ID, "name": pan}, "name"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			e := saleWantErr(t, p.call(t, p.owner, tt.query, tt.input), "BAD_USER_INPUT", tt.field)
			require.NotContains(t, e.Message, "1111")
		})
	}
	res := p.importCSV(t, p.owner, "sku,name,price\nC-3,\""+pan+"\",1\n")
	require.Len(t, res.Errors, 1)
	require.Equal(t, "name", *res.Errors[0].Column)
	require.NotContains(t, res.Errors[0].Message, "1111")

	// A barcode is a code: an EAN-13 that happens to pass the Luhn check is a barcode.
	ean := p.create(t, p.owner, map[string]any{"sku": "C-4", "barcode": "4000000000006", "name": "Imported Tea", "unitPrice": 1})
	require.Equal(t, "4000000000006", *ean.Barcode)
	require.Len(t, p.bySKU(t, p.owner), 2)
}

// Concurrent price edits on one product leave a price history that runs
// from the first price to the last without a gap: each change's old price
// is the price the one before it set.
func TestProductConcurrentPriceEdits(t *testing.T) {
	t.Parallel()
	p := newProdEnv(t)
	tea := p.create(t, p.owner, map[string]any{"sku": "TEA-1", "name": "Green Tea", "unitPrice": 1000})
	const n = 8
	results := saleParallel(n, func(i int) *tilltest.Result {
		by := []*tilltest.Account{p.owner, p.manager}[i%2]
		return p.call(t, by, prodUpdate, map[string]any{"productId": tea.ID, "unitPrice": 2000 + i})
	})
	for _, res := range results {
		prodPayload(t, res)
	}
	var out struct {
		Node struct {
			UnitPrice    int64
			PriceChanges struct {
				Edges []struct {
					Node struct{ OldPrice, NewPrice int64 }
				}
			}
		}
	}
	p.Exec(t, p.owner.Token, `query($id: ID!) { node(id: $id) { ... on Product { unitPrice
		priceChanges(first: 20, orderBy: {field: CREATED_AT}) { edges { node { oldPrice newPrice } } } } } }`,
		map[string]any{"id": tea.ID}).Decode(t, &out)
	changes := out.Node.PriceChanges.Edges
	require.Len(t, changes, n)
	price := int64(1000)
	for i, c := range changes {
		require.Equal(t, price, c.Node.OldPrice, "change %d starts from the price before it", i)
		price = c.Node.NewPrice
	}
	require.Equal(t, out.Node.UnitPrice, price, "the last change is the product's price")
}
