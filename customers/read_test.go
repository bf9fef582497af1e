package customers_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	entstaff "github.com/tillpos/till/ent/staff"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/pii"
)

func TestLookup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.cashier)
	mei := e.create(t, ctx, customers.Profile{Name: ptr("Mei"), Phone: ptr(meiPhone), Email: ptr(meiEmail), MemberCode: ptr("CARD-1")})
	bo := e.create(t, ctx, customers.Profile{Name: ptr("Bo"), Phone: ptr("13900001111"), MemberCode: ptr("CARD-2")})
	// Another merchant has a customer with the same phone, email and card.
	other := e.newShop(t, "zh-CN")
	theirs := e.create(t, as(t, other.cashier), customers.Profile{Name: ptr("Mei elsewhere"), Phone: ptr(meiPhone), Email: ptr(meiEmail), MemberCode: ptr("CARD-1")})

	found := []struct {
		name string
		key  customers.LookupKey
		want pulid.ID
	}{
		{"phone as stored", customers.LookupKey{Phone: ptr(meiPhone)}, mei.ID},
		{"phone as typed locally", customers.LookupKey{Phone: ptr("138 1234 5678")}, mei.ID},
		{"phone with the country code", customers.LookupKey{Phone: ptr("+86 138-1234-5678")}, mei.ID},
		{"another phone", customers.LookupKey{Phone: ptr("139 0000 1111")}, bo.ID},
		{"email in capitals", customers.LookupKey{Email: ptr(" MEI.LIN@Lotus.Example ")}, mei.ID},
		{"member code", customers.LookupKey{MemberCode: ptr("CARD-2")}, bo.ID},
		{"member code with spaces around", customers.LookupKey{MemberCode: ptr("  CARD-1 ")}, mei.ID},
		// Blank keys do not count towards the one.
		{"blank others", customers.LookupKey{Phone: ptr("  "), Email: ptr(""), MemberCode: ptr("CARD-1")}, mei.ID},
	}
	for _, tt := range found {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.svc.Lookup(ctx, tt.key)
			require.NoError(t, err)
			require.NotNil(t, got)
			require.Equal(t, tt.want, got.ID)
		})
	}
	t.Run("the other merchant finds its own", func(t *testing.T) {
		for _, key := range []customers.LookupKey{{Phone: ptr(meiPhone)}, {Email: ptr(meiEmail)}, {MemberCode: ptr("CARD-1")}} {
			got, err := e.svc.Lookup(as(t, other.cashier), key)
			require.NoError(t, err)
			require.NotNil(t, got)
			require.Equal(t, theirs.ID, got.ID)
		}
	})

	t.Run("a merchant in the US reads local numbers as American", func(t *testing.T) {
		us := e.newShop(t, "en-US")
		ann := e.create(t, as(t, us.cashier), customers.Profile{Name: ptr("Ann"), Phone: ptr("(415) 555-2671")})
		require.Equal(t, "+14155552671", open(t, e.box, e.reload(t, ann.ID).PhoneEnc, ann.ID, "phone"))
		for _, typed := range []string{"415-555-2671", "+1 415 555 2671", "1 (415) 555-2671"} {
			got, err := e.svc.Lookup(as(t, us.cashier), customers.LookupKey{Phone: ptr(typed)})
			require.NoError(t, err)
			require.NotNil(t, got, typed)
			require.Equal(t, ann.ID, got.ID)
		}
		// The Chinese merchant does not find the American merchant's customer.
		got, err := e.svc.Lookup(ctx, customers.LookupKey{Phone: ptr("+1 415 555 2671")})
		require.NoError(t, err)
		require.Nil(t, got, "another merchant's customer")
	})

	notFound := []customers.LookupKey{
		{Phone: ptr("13700000000")},
		{Email: ptr("nobody@lotus.example")},
		{MemberCode: ptr("CARD-404")},
		{MemberCode: ptr("card-1")}, // member codes are exact
	}
	for _, key := range notFound {
		got, err := e.svc.Lookup(ctx, key)
		require.NoError(t, err)
		require.Nil(t, got)
	}

	refused := []struct {
		name  string
		key   customers.LookupKey
		field string
	}{
		{"nothing", customers.LookupKey{}, "phone"},
		{"only blanks", customers.LookupKey{Phone: ptr(" "), Email: ptr(""), MemberCode: ptr("\t")}, "phone"},
		{"phone and email", customers.LookupKey{Phone: ptr(meiPhone), Email: ptr(meiEmail)}, "phone"},
		{"email and card", customers.LookupKey{Email: ptr(meiEmail), MemberCode: ptr("CARD-1")}, "phone"},
		{"all three", customers.LookupKey{Phone: ptr(meiPhone), Email: ptr(meiEmail), MemberCode: ptr("CARD-1")}, "phone"},
		{"invalid phone", customers.LookupKey{Phone: ptr("12345")}, "phone"},
		{"invalid email", customers.LookupKey{Email: ptr("mei@")}, "email"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.svc.Lookup(ctx, tt.key)
			requireField(t, err, errs.BadUserInput, tt.field)
			require.Nil(t, got)
		})
	}
}

// TestLookupFollowsMerges: a merged customer's card finds the customer who
// now stands for them, and never an erased one.
func TestLookupFollowsMerges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, boss := as(t, e.cashier), as(t, e.owner)
	mk := func(code string) *ent.Customer {
		return e.create(t, ctx, customers.Profile{Name: ptr("Customer " + code), MemberCode: ptr(code)})
	}
	lookup := func(t *testing.T, code string) *ent.Customer {
		t.Helper()
		got, err := e.svc.Lookup(ctx, customers.LookupKey{MemberCode: ptr(code)})
		require.NoError(t, err)
		return got
	}

	t.Run("merged once", func(t *testing.T) {
		a, b := mk("A1"), mk("B1")
		_, err := e.svc.Merge(boss, b.ID, a.ID)
		require.NoError(t, err)
		got := lookup(t, "A1")
		require.NotNil(t, got)
		require.Equal(t, b.ID, got.ID)
	})

	t.Run("merged twice", func(t *testing.T) {
		// A into B, then B into C: A's card finds C, who is active, not B,
		// who is merged.
		a, b, c := mk("A2"), mk("B2"), mk("C2")
		_, err := e.svc.Merge(boss, b.ID, a.ID)
		require.NoError(t, err)
		_, err = e.svc.Merge(boss, c.ID, b.ID)
		require.NoError(t, err)
		got := lookup(t, "B2")
		require.NotNil(t, got)
		require.Equal(t, c.ID, got.ID)
		got = lookup(t, "A2")
		require.NotNil(t, got)
		require.Equal(t, c.ID, got.ID, "found a %s customer", got.Status)
	})

	t.Run("merged into a customer since erased", func(t *testing.T) {
		a, b := mk("A3"), mk("B3")
		_, err := e.svc.Merge(boss, b.ID, a.ID)
		require.NoError(t, err)
		_, err = e.svc.Erase(boss, b.ID)
		require.NoError(t, err)
		got := lookup(t, "A3")
		if got != nil {
			t.Errorf("the old card of a customer merged into an erased one finds %s (%s); want nobody", got.ID, got.Status)
		}
	})
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := as(t, e.cashier)
	mk := func(name string, tags ...string) *ent.Customer {
		return e.create(t, ctx, customers.Profile{Name: ptr(name), Tags: tags})
	}
	meiLin := mk("Mei Lin", "VIP")
	linBo := mk("Lin Bo")
	meiling := mk("Meiling Zhao", "tea lover")
	amei := mk("Amei Chen") // "mei" inside a word, not at its start
	zhang := mk("张 伟", "常客")
	underscore := mk("O_Brien")
	archived := mk("Mei Archived")
	_, err := e.svc.Archive(as(t, e.owner), archived.ID)
	require.NoError(t, err)
	merged := mk("Mei Merged")
	_, err = e.svc.Merge(as(t, e.owner), linBo.ID, merged.ID)
	require.NoError(t, err)
	erased := mk("Mei Erased")
	_, err = e.svc.Erase(as(t, e.owner), erased.ID)
	require.NoError(t, err)
	other := e.newShop(t, "zh-CN")
	e.create(t, as(t, other.cashier), customers.Profile{Name: ptr("Mei Elsewhere")})

	tests := []struct {
		query string
		want  []*ent.Customer
	}{
		{"mei", []*ent.Customer{meiLin, meiling}},
		{"MEI", []*ent.Customer{meiLin, meiling}},
		{"  me  ", []*ent.Customer{meiLin, meiling}},
		{"lin", []*ent.Customer{linBo, meiLin}},
		{"mei lin", []*ent.Customer{meiLin}},
		{"lin mei", []*ent.Customer{meiLin}},
		{"mei zhao", []*ent.Customer{meiling}},
		// No name has both words: the nearest name instead (4 of 11
		// trigrams shared; "Lin Bo" shares 3 of 11, too few).
		{"mei bo", []*ent.Customer{meiLin}},
		{"vip", []*ent.Customer{meiLin}},
		{"tea", []*ent.Customer{meiling}},
		{"lover meil", []*ent.Customer{meiling}},
		{"伟", []*ent.Customer{zhang}},
		{"常", []*ent.Customer{zhang}},
		{"ei", nil},
		{"chen", []*ent.Customer{amei}},
		{"o_b", []*ent.Customer{underscore}},
		{"%", nil},
		{"_", nil},
		{"archived", nil},
		{"merged", nil},
		{"erased", nil},
		{"elsewhere", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			conn, err := e.svc.Search(ctx, tt.query, nil, nil)
			require.NoError(t, err)
			require.Equal(t, names(tt.want), names(nodes(conn)))
			require.Equal(t, len(tt.want), conn.TotalCount)
		})
	}

	t.Run("pages", func(t *testing.T) {
		conn, err := e.svc.Search(ctx, "mei", nil, ptr(1))
		require.NoError(t, err)
		require.Equal(t, []string{"Mei Lin"}, names(nodes(conn)))
		require.True(t, conn.PageInfo.HasNextPage)
		conn, err = e.svc.Search(ctx, "mei", conn.PageInfo.EndCursor, ptr(1))
		require.NoError(t, err)
		require.Equal(t, []string{"Meiling Zhao"}, names(nodes(conn)))
		require.False(t, conn.PageInfo.HasNextPage)
	})

	for _, q := range []string{"", "   ", "\t\n"} {
		_, err := e.svc.Search(ctx, q, nil, nil)
		requireField(t, err, errs.BadUserInput, "query")
	}
}

func nodes(conn *ent.CustomerConnection) []*ent.Customer {
	out := make([]*ent.Customer, 0, len(conn.Edges))
	for _, edge := range conn.Edges {
		out = append(out, edge.Node)
	}
	return out
}

func names(cs []*ent.Customer) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func TestContactView(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	full := e.create(t, as(t, e.cashier), customers.Profile{
		Name: ptr("Mei"), Phone: ptr(meiPhone), Email: ptr(meiEmail), Address: ptr("1 Nanjing Road"),
	})
	bare := e.create(t, as(t, e.cashier), customers.Profile{Name: ptr("Bo")})
	us := e.newShop(t, "en-US")
	american := e.create(t, as(t, us.cashier), customers.Profile{Name: ptr("Ann"), Phone: ptr("(415) 555-2671"), Email: ptr("a@lotus.example")})

	unmasked := customers.View{Contact: customers.Contact{Phone: ptr(meiPhone), Email: ptr(meiEmail), Address: ptr("1 Nanjing Road")}}
	tests := []struct {
		name  string
		as    *ent.Staff
		c     *ent.Customer
		want  customers.View
		extra func(t *testing.T)
	}{
		{name: "owner", as: e.owner, c: full, want: unmasked},
		{name: "manager", as: e.manager, c: full, want: unmasked},
		{name: "cashier", as: e.cashier, c: full, want: customers.View{
			Masked: true, Contact: customers.Contact{Phone: ptr("138****5678"), Email: ptr("m******@lotus.example")},
		}},
		{name: "cashier, nothing to show", as: e.cashier, c: bare, want: customers.View{Masked: true}},
		{name: "owner, nothing to show", as: e.owner, c: bare, want: customers.View{}},
		{name: "cashier, US number, one-letter email", as: us.cashier, c: american, want: customers.View{
			Masked: true, Contact: customers.Contact{Phone: ptr("415***2671"), Email: ptr("a**@lotus.example")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.svc.ContactView(as(t, tt.as), tt.c)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	require.Equal(t, entstaff.RoleCASHIER, e.cashier.Role)

	// Jobs acting as the platform see the details unmasked; a platform
	// operator, like anyone else who is not the merchant's owner or a
	// manager, sees them masked.
	got, err := e.svc.ContactView(sys(t), full)
	require.NoError(t, err)
	require.Equal(t, unmasked, got)
	maskedFull := customers.View{Masked: true, Contact: customers.Contact{Phone: ptr("138****5678"), Email: ptr("m******@lotus.example")}}
	got, err = e.svc.ContactView(operator(t), full)
	require.NoError(t, err)
	require.Equal(t, maskedFull, got, "operator")
	got, err = e.svc.ContactView(t.Context(), full)
	require.NoError(t, err)
	require.Equal(t, maskedFull, got, "no viewer")
	staffWithoutRole := viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindStaff, ID: e.cashier.ID, MerchantID: e.merchantID})
	got, err = e.svc.ContactView(staffWithoutRole, full)
	require.NoError(t, err)
	require.Equal(t, maskedFull, got, "staff without a role")

	// A row whose sealed value was tampered with is an error, not a blank.
	broken := *full
	tampered := *full.PhoneEnc + "AA"
	broken.PhoneEnc = &tampered
	_, err = e.svc.ContactView(as(t, e.owner), &broken)
	require.Error(t, err)
	_, err = e.svc.ContactView(as(t, e.cashier), &broken)
	require.Error(t, err)
	// Nor does one customer's sealed phone open as another's.
	swapped := *bare
	swapped.PhoneEnc = full.PhoneEnc
	_, err = e.svc.ContactView(as(t, e.owner), &swapped)
	require.Error(t, err)
	require.NotErrorIs(t, err, pii.ErrUnknownKey)
}

func TestAverageTicket(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		visits int
		spent  int64
		want   *int64
	}{
		{0, 0, nil},
		{0, 500, nil},
		{1, 1000, ptr[int64](1000)},
		{2, 901, ptr[int64](451)},  // 450.5: a half rounds away from zero
		{3, 1000, ptr[int64](333)}, // 333.33
		{3, 1001, ptr[int64](334)}, // 333.67
		{2, 1, ptr[int64](1)},      // 0.5
		{3, 1, ptr[int64](0)},      // 0.33
		{2, -901, ptr[int64](-451)},
		{3, -1000, ptr[int64](-333)},
		{4, 9_223_372_036_854_775_807, ptr[int64](2_305_843_009_213_693_952)}, // no overflow near the limit
	} {
		got := customers.AverageTicket(&ent.Customer{VisitsCount: tc.visits, TotalSpent: tc.spent})
		require.Equal(t, tc.want, got, "%d over %d visits", tc.spent, tc.visits)
	}
}
