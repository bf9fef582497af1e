package catalog_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/catalog"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/product"
	entstaff "github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/merchants"
)

func TestParseAmount(t *testing.T) {
	t.Parallel()
	good := []struct {
		in     string
		digits int
		want   int64
	}{
		{"12.50", 2, 1250},
		{"12.5", 2, 1250},
		{"12", 2, 1200},
		{"12.", 2, 1200},
		{".99", 2, 99},
		{"0", 2, 0},
		{"0.00", 2, 0},
		{"007.05", 2, 705},
		{"1200", 0, 1200},    // JPY
		{"1200.00", 0, 1200}, // zeros after the point are no yen
		{"1.234", 3, 1234},   // KWD
		{"6.5", 2, 650},      // a tax rate of 6.5% in basis points
		{"12.5000", 2, 1250}, // trailing zeros beyond the minor unit
		{"92233720368547758.07", 2, 9223372036854775807},
	}
	for _, tt := range good {
		got, err := catalog.ParseAmount(tt.in, tt.digits)
		require.NoError(t, err, "%q with %d digits", tt.in, tt.digits)
		require.Equal(t, tt.want, got, "%q with %d digits", tt.in, tt.digits)
	}
	bad := []struct {
		in     string
		digits int
		want   string
	}{
		{"-1", 2, "must not be negative"},
		{"-0.5", 2, "must not be negative"},
		{"12.345", 2, "has more than 2 decimals"},
		{"1200.5", 0, "must be a whole number"},
		{"1,200.00", 2, "is not a number"},
		{"12,50", 2, "is not a number"},
		{"1e3", 2, "is not a number"},
		{"+5", 2, "is not a number"},
		{"$5", 2, "is not a number"},
		{".", 2, "is not a number"},
		{"1.2.3", 2, "is not a number"},
		{"92233720368547758.08", 2, "is too large"},
	}
	for _, tt := range bad {
		_, err := catalog.ParseAmount(tt.in, tt.digits)
		require.Error(t, err, "%q with %d digits", tt.in, tt.digits)
		require.Contains(t, err.Error(), tt.want, "%q with %d digits", tt.in, tt.digits)
	}
}

// shop is a merchant with an owner, a manager and a cashier.
type shop struct {
	owner, manager, cashier *ent.Staff
}

type env struct {
	client    *ent.Client
	svc       *catalog.Service
	merchants *merchants.Service
	shop
}

func newEnv(t *testing.T) *env {
	t.Helper()
	d := tilltest.OpenDB(t)
	e := &env{client: d.Client, svc: catalog.New(d.Client), merchants: merchants.New(d.Client, password.NewHasher(bcrypt.MinCost))}
	e.shop = e.newShop(t, "CNY")
	return e
}

// newShop signs up a merchant trading in currency and gives it staff.
func (e *env) newShop(t *testing.T, currency string) shop {
	t.Helper()
	owner, err := e.merchants.SignUp(t.Context(), merchants.SignUpInput{
		MerchantName: "Lotus Tea", OwnerName: "Li Wei", Email: tilltest.UniqueEmail("owner"),
		Password: tilltest.Password, Currency: currency, TimeZone: "Asia/Shanghai", Locale: "zh-CN",
	})
	require.NoError(t, err)
	s := shop{owner: owner}
	sys := viewer.NewSystemContext(t.Context(), "catalog-test")
	for _, role := range []entstaff.Role{entstaff.RoleMANAGER, entstaff.RoleCASHIER} {
		m, err := e.client.Staff.Create().SetMerchantID(owner.MerchantID).SetName(string(role)).SetRole(role).Save(sys)
		require.NoError(t, err)
		if role == entstaff.RoleMANAGER {
			s.manager = m
		} else {
			s.cashier = m
		}
	}
	return s
}

// as is a request context of staff member m.
func as(t *testing.T, m *ent.Staff) context.Context {
	return viewer.NewContext(t.Context(), &viewer.Viewer{
		Kind: viewer.KindStaff, ID: m.ID, MerchantID: m.MerchantID, Role: viewer.Role(m.Role), SessionID: "sess-" + string(m.ID),
	})
}

func ptr[T any](v T) *T { return &v }

// add creates a product as the owner, failing t on error.
func (e *env) add(t *testing.T, sku, name, barcode string, active bool) *ent.Product {
	t.Helper()
	f := catalog.Fields{SKU: &sku, Name: &name, UnitPrice: ptr(int64(100)), Active: &active}
	if barcode != "" {
		f.Barcode = &barcode
	}
	p, err := e.svc.Create(as(t, e.owner), f)
	require.NoError(t, err)
	return p
}

func requireField(t *testing.T, err error, code errs.Code, field string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, errs.CodeOf(err), "%v", err)
	e, _ := errs.As(err)
	require.Equal(t, field, e.Field, "%v", err)
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.manager)
	valid := func() catalog.Fields {
		return catalog.Fields{SKU: ptr("TEA-1"), Name: ptr("Green Tea"), UnitPrice: ptr(int64(1250))}
	}
	bad := []struct {
		name  string
		edit  func(*catalog.Fields)
		field string
	}{
		{"no sku", func(f *catalog.Fields) { f.SKU = nil }, "sku"},
		{"blank sku", func(f *catalog.Fields) { f.SKU = ptr("  ") }, "sku"},
		{"sku with a space", func(f *catalog.Fields) { f.SKU = ptr("TEA 1") }, "sku"},
		{"sku too long", func(f *catalog.Fields) { f.SKU = ptr(strings.Repeat("X", 65)) }, "sku"},
		{"barcode with a space", func(f *catalog.Fields) { f.Barcode = ptr("690 123") }, "barcode"},
		{"no name", func(f *catalog.Fields) { f.Name = nil }, "name"},
		{"blank name", func(f *catalog.Fields) { f.Name = ptr(" ") }, "name"},
		{"name too long", func(f *catalog.Fields) { f.Name = ptr(strings.Repeat("茶", 201)) }, "name"},
		{"category too long", func(f *catalog.Fields) { f.Category = ptr(strings.Repeat("c", 101)) }, "category"},
		{"no price", func(f *catalog.Fields) { f.UnitPrice = nil }, "unitPrice"},
		{"negative price", func(f *catalog.Fields) { f.UnitPrice = ptr(int64(-1)) }, "unitPrice"},
		{"negative cost", func(f *catalog.Fields) { f.Cost = ptr(int64(-1)) }, "cost"},
		{"negative tax", func(f *catalog.Fields) { f.TaxRateBp = ptr(-1) }, "taxRateBp"},
		{"tax over 100%", func(f *catalog.Fields) { f.TaxRateBp = ptr(10001) }, "taxRateBp"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			f := valid()
			tt.edit(&f)
			_, err := e.svc.Create(ctx, f)
			requireField(t, err, errs.BadUserInput, tt.field)
		})
	}
	n, err := e.client.Product.Query().Count(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing invalid was stored")

	f := valid()
	f.SKU, f.Name, f.Barcode, f.TaxRateBp = ptr(" TEA-1 "), ptr("  Green   Tea "), ptr(""), ptr(10000)
	p, err := e.svc.Create(ctx, f)
	require.NoError(t, err)
	require.Equal(t, "TEA-1", p.Sku)
	require.Equal(t, "Green   Tea", p.Name, "a name keeps its inner spaces")
	require.Nil(t, p.Barcode, "an empty barcode is no barcode")
	require.True(t, p.Active, "active by default")
	require.Equal(t, " green tea | tea-1 ", p.SearchText)
}

// TestSearchRanking checks the order searchProducts promises: active before
// inactive; an exact SKU or barcode, then names starting with the query,
// then other matches; by name within each.
func TestSearchRanking(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.add(t, "OOL-2", "Oolong Tea", "6901000000002", true)
	e.add(t, "TEA", "Milk Oolong", "", true)      // exact SKU "tea"
	e.add(t, "GRN-1", "Green Tea", "", true)      // a name word starts with "tea"
	e.add(t, "TEA-CUP", "Cup", "", true)          // the SKU starts with "tea"
	e.add(t, "TP-1", "Teapot", "", true)          // the name starts with "tea"
	e.add(t, "TB-1", "Tea Bags", "", true)        // the name starts with "tea"
	e.add(t, "OLD-TEA", "Tea of 2019", "", false) // inactive
	e.add(t, "X|1", "Stea|mer", "tea", true)      // exact barcode; the bar in the name splits it
	e.add(t, "CAKE-1", "Mooncake", "", true)      // no match
	e.add(t, "STEAM", "Steamed Bun", "", true)    // "tea" inside a word is no match
	other := e.newShop(t, "CNY")
	_, err := e.svc.Create(as(t, other.owner), catalog.Fields{SKU: ptr("TEA"), Name: ptr("Tea elsewhere"), UnitPrice: ptr(int64(1))})
	require.NoError(t, err)

	names := func(query string, first int) []string {
		t.Helper()
		conn, err := e.svc.Search(as(t, e.cashier), query, nil, &first)
		require.NoError(t, err)
		out := []string{}
		for _, edge := range conn.Edges {
			out = append(out, edge.Node.Name)
		}
		return out
	}
	require.Equal(t, []string{
		"Milk Oolong", "Stea|mer", // exact SKU or barcode, by name
		"Tea Bags", "Teapot", // names starting with tea
		"Cup", "Green Tea", "Oolong Tea", // others
		"Tea of 2019", // inactive last
	}, names("TEA", 20))
	require.Equal(t, []string{"Oolong Tea", "Milk Oolong"}, names("oolong", 20))
	require.Equal(t, []string{"Oolong Tea", "Milk Oolong"}, names("oolong te", 20), "a word may match the name or the SKU")
	require.Equal(t, []string{"Milk Oolong"}, names("oolong mi", 20), "every word must match")
	require.Equal(t, []string{"Oolong Tea"}, names("69010", 20), "a barcode prefix")
	require.Equal(t, []string{"Cup"}, names("tea-c", 20), "a SKU prefix")
	require.Equal(t, []string{"Tea Bags"}, names("tea b", 20))
	require.Equal(t, []string{"Stea|mer"}, names("mer", 20), "the bar in a name splits words")
	require.Empty(t, names("%", 20), "LIKE wildcards are literal")

	// Pages follow the ranking and carry their position.
	var got []string
	var after *ent.Cursor
	for {
		conn, err := e.svc.Search(as(t, e.cashier), "tea", after, ptr(3))
		require.NoError(t, err)
		require.Equal(t, 8, conn.TotalCount)
		for _, edge := range conn.Edges {
			got = append(got, edge.Node.Name)
		}
		if !conn.PageInfo.HasNextPage {
			break
		}
		after = conn.PageInfo.EndCursor
	}
	require.Equal(t, names("tea", 20), got)

	for _, blank := range []string{"  ", "|"} {
		_, err = e.svc.Search(as(t, e.cashier), blank, nil, nil)
		requireField(t, err, errs.BadUserInput, "query")
	}
}

func TestImportCurrencies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	yen := e.newShop(t, "JPY")
	bahraini := e.newShop(t, "BHD")
	cases := []struct {
		name  string
		owner *ent.Staff
		price string
		want  int64
		err   string
	}{
		{"CNY", e.owner, "12.50", 1250, ""},
		{"CNY too precise", e.owner, "12.505", 0, "has more than 2 decimals"},
		{"JPY", yen.owner, "1200", 1200, ""},
		{"JPY with decimals", yen.owner, "1200.5", 0, "must be a whole number"},
		{"BHD", bahraini.owner, "1.250", 1250, ""},
	}
	for i, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			sku := "SKU-" + string(rune('A'+i))
			res, err := e.svc.Import(as(t, tt.owner), "sku,name,price\n"+sku+",Tea,"+tt.price+"\n")
			require.NoError(t, err)
			if tt.err != "" {
				require.Len(t, res.Errors, 1)
				require.Equal(t, catalog.RowError{Row: 1, Column: "price", Message: `"` + tt.price + `" ` + tt.err}, res.Errors[0])
				return
			}
			require.Empty(t, res.Errors)
			p, err := e.client.Product.Query().Where(product.Sku(sku)).Only(as(t, tt.owner))
			require.NoError(t, err)
			require.Equal(t, tt.want, p.UnitPrice)
		})
	}
}

func TestImportRejects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.owner)
	e.add(t, "OLD-1", "Old", "6900000000001", true)
	e.add(t, "OLD-2", "Older", "6900000000002", true)

	files := []struct {
		name, csv, want string
	}{
		{"empty", "", "is empty"},
		{"no sku column", "name,price\nTea,1\n", "has no sku column"},
		{"no name column", "sku,price\nT,1\n", "has no name column"},
		{"unknown column", "sku,name,prize\nT,Tea,1\n", `unknown column "prize"`},
		{"repeated column", "sku,name,SKU\nT,Tea,T\n", `column "sku" is named twice`},
		{"header only", "sku,name\n", "has no rows"},
		{"broken quotes", "sku,name\nT,\"Tea\n", "is not valid CSV"},
		{"too many rows", "sku,name,price\n" + strings.Repeat("T,Tea,1\n", catalog.MaxImportRows+1), "more than 10000 rows"},
	}
	for _, tt := range files {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.Import(ctx, tt.csv)
			requireField(t, err, errs.BadUserInput, "csv")
			require.Contains(t, err.Error(), tt.want)
		})
	}

	t.Run("row errors", func(t *testing.T) {
		res, err := e.svc.Import(ctx, strings.Join([]string{
			"SKU , Name, price, cost, tax_rate, active, barcode",
			"NEW-1,Fine,1.00,0.50,6,true,",          // 1: good
			",No SKU,1,,,,",                         // 2
			"NEW-3,,1,,,,",                          // 3
			"NEW-4,Neg,-1,,,,",                      // 4
			"NEW-5,Tax,1,,101,,",                    // 5
			"NEW-6,Act,1,,,yes,",                    // 6
			"NEW-1,Again,1,,,,",                     // 7
			"NEW-8,No price,,,,,",                   // 8
			"NEW-9,Taken,1,,,,6900000000001",        // 9: OLD-1's barcode
			"NEW-10,Twin,1,,,,777",                  // 10
			"NEW-11,Twin,1,,,,777",                  // 11
			"NEW-12,Extra,1,,,,,surplus",            // 12
			"NEW 13,Space,1,,,,",                    // 13
			"OLD-2,Older,2.00,,6.5%,,6900000000001", // 14: takes OLD-1's barcode
			"NEW-15,Cost,1,abc,,,",                  // 15
		}, "\n"))
		require.NoError(t, err)
		require.Zero(t, res.Created+res.Updated+res.Unchanged)
		require.Equal(t, []catalog.RowError{
			{Row: 2, Column: "sku", Message: "is required"},
			{Row: 3, Column: "name", Message: "is required"},
			{Row: 4, Column: "price", Message: `"-1" must not be negative`},
			{Row: 5, Column: "tax_rate", Message: "must be 0 to 100 (percent)"},
			{Row: 6, Column: "active", Message: `must be true or false, not "yes"`},
			{Row: 7, Column: "sku", Message: `SKU "NEW-1" is also on row 1`},
			{Row: 8, Column: "price", Message: "is required for a new product"},
			{Row: 9, Column: "barcode", Message: `barcode "6900000000001" belongs to product OLD-1`},
			{Row: 11, Column: "barcode", Message: `barcode "777" is also on row 10`},
			{Row: 12, Message: "has 8 cells; the header names 7 columns"},
			{Row: 13, Column: "sku", Message: "must be 1 to 64 characters without spaces"},
			{Row: 14, Column: "barcode", Message: `barcode "6900000000001" belongs to product OLD-1`},
			{Row: 15, Column: "cost", Message: `"abc" is not a number such as 12.50`},
		}, res.Errors)
		n, err := e.client.Product.Query().Count(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n, "nothing was written")
	})

	t.Run("barcodes may move between products of one file", func(t *testing.T) {
		res, err := e.svc.Import(ctx, "sku,name,barcode\nOLD-1,Old,6900000000002\nOLD-2,Older,6900000000001\n")
		require.NoError(t, err)
		require.Empty(t, res.Errors)
		require.Equal(t, 2, res.Updated)
		for sku, want := range map[string]string{"OLD-1": "6900000000002", "OLD-2": "6900000000001"} {
			p, err := e.svc.ByBarcode(ctx, want)
			require.NoError(t, err)
			require.Equal(t, sku, p.Sku)
		}
	})

	t.Run("cashiers and managers", func(t *testing.T) {
		_, err := e.svc.Import(as(t, e.cashier), "sku,name,price\nC,Tea,1\n")
		require.Equal(t, errs.Forbidden, errs.CodeOf(err))
		res, err := e.svc.Import(as(t, e.manager), "sku,name,price\nM,Tea,1\n")
		require.NoError(t, err)
		require.Equal(t, 1, res.Created)
	})
}
