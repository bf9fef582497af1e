package feed_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/catalog"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/product"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/feed"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/pii"
)

// env is a feed on a database of the test's own whose clock runs ahead of
// the wall clock (that stamps rows) by ahead.
type env struct {
	client    *ent.Client
	ahead     atomic.Int64
	feed      *feed.Service
	catalog   *catalog.Service
	customers *customers.Service
	merchants *merchants.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	d := tilltest.OpenDB(t)
	k, err := keyring.Generate()
	require.NoError(t, err)
	box, err := pii.New(k.PII, k.BlindIndex)
	require.NoError(t, err)
	e := &env{
		client: d.Client, catalog: catalog.New(d.Client), customers: customers.New(d.Client, box),
		merchants: merchants.New(d.Client, password.NewHasher(bcrypt.MinCost)),
	}
	e.feed = feed.New(d.Client, func() time.Time { return time.Now().Add(time.Duration(e.ahead.Load())) })
	return e
}

// settle lets every change made so far settle.
func (e *env) settle() { e.ahead.Store(int64(feed.SettleLag + time.Second)) }

// owner signs up a merchant and returns its owner's request context.
func (e *env) owner(t *testing.T) context.Context {
	t.Helper()
	o, err := e.merchants.SignUp(t.Context(), merchants.SignUpInput{
		MerchantName: "Lotus Tea", OwnerName: "Li Wei", Email: tilltest.UniqueEmail("owner"),
		Password: tilltest.Password, Currency: "CNY", TimeZone: "Asia/Shanghai", Locale: "zh-CN",
	})
	require.NoError(t, err)
	return viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindStaff, ID: o.ID, MerchantID: o.MerchantID, Role: viewer.RoleOwner})
}

func (e *env) product(t *testing.T, ctx context.Context, sku string) *ent.Product {
	t.Helper()
	p, err := e.catalog.Create(ctx, catalog.Fields{SKU: &sku, Name: &sku, UnitPrice: new(int64)})
	require.NoError(t, err)
	return p
}

func (e *env) customer(t *testing.T, ctx context.Context, name string) *ent.Customer {
	t.Helper()
	c, err := e.customers.Create(ctx, nil, customers.Profile{Name: &name})
	require.NoError(t, err)
	return c
}

// changes reads the feed, failing t on error.
func (e *env) changes(t *testing.T, ctx context.Context, since string, first int) *feed.Page {
	t.Helper()
	var n *int
	if first > 0 {
		n = &first
	}
	p, err := e.feed.Changes(ctx, &since, n)
	require.NoError(t, err)
	return p
}

func ids[T interface{ comparable }](rows []T, id func(T) pulid.ID) []pulid.ID {
	out := []pulid.ID{}
	for _, r := range rows {
		out = append(out, id(r))
	}
	return out
}

func productIDs(p *feed.Page) []pulid.ID {
	return ids(p.Products, func(p *ent.Product) pulid.ID { return p.ID })
}

func customerIDs(p *feed.Page) []pulid.ID {
	return ids(p.Customers, func(c *ent.Customer) pulid.ID { return c.ID })
}

func TestChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := e.owner(t)
	tea := e.product(t, ctx, "TEA")
	mei := e.customer(t, ctx, "Mei")
	theirs := e.owner(t)
	e.product(t, theirs, "THEIR-TEA")
	e.customer(t, theirs, "Their Mei")

	// Just written: not settled yet.
	page := e.changes(t, ctx, "", 0)
	require.Empty(t, page.Products)
	require.Empty(t, page.Customers)
	require.False(t, page.HasMore)
	start := page.Cursor

	e.settle()
	page = e.changes(t, ctx, start, 0)
	require.Equal(t, []pulid.ID{tea.ID}, productIDs(page), "only the merchant's own")
	require.Equal(t, []pulid.ID{mei.ID}, customerIDs(page))
	require.False(t, page.HasMore)

	// Nothing new since.
	again := e.changes(t, ctx, page.Cursor, 0)
	require.Empty(t, again.Products)
	require.Empty(t, again.Customers)
	require.Equal(t, page.Cursor, again.Cursor)

	// A deactivated product and an archived customer come again.
	e.ahead.Store(0)
	_, err := e.catalog.Update(ctx, tea.ID, catalog.Fields{Active: new(bool)})
	require.NoError(t, err)
	_, err = e.customers.Archive(ctx, mei.ID)
	require.NoError(t, err)
	require.Empty(t, e.changes(t, ctx, page.Cursor, 0).Products, "not settled yet")
	e.settle()
	next := e.changes(t, ctx, page.Cursor, 0)
	require.Len(t, next.Products, 1)
	require.False(t, next.Products[0].Active)
	require.Len(t, next.Customers, 1)
	require.Equal(t, "ARCHIVED", string(next.Customers[0].Status))
}

func TestChangesPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := e.owner(t)
	var want []pulid.ID
	for i := range 5 {
		want = append(want, e.product(t, ctx, fmt.Sprintf("P-%d", i)).ID)
	}
	cust := e.customer(t, ctx, "Mei")
	// Three products stamped at the same instant page by id.
	same := db.Now().Add(-time.Hour)
	sys := viewer.NewSystemContext(t.Context(), "feed-test")
	require.NoError(t, e.client.Product.Update().Where(product.IDIn(want[2:]...)).SetUpdatedAt(same).Exec(sys))
	want = append(want[2:], want[:2]...)
	e.settle()

	var got []pulid.ID
	var gotCustomers []pulid.ID
	cursor, calls := "", 0
	for {
		page := e.changes(t, ctx, cursor, 2)
		calls++
		require.LessOrEqual(t, len(page.Products), 2)
		got = append(got, productIDs(page)...)
		gotCustomers = append(gotCustomers, customerIDs(page)...)
		cursor = page.Cursor
		if !page.HasMore {
			break
		}
	}
	require.Equal(t, want, got, "oldest first, ties by id, each once")
	require.Equal(t, []pulid.ID{cust.ID}, gotCustomers)
	require.Equal(t, 3, calls)
}

func TestChangesRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := e.owner(t)
	for _, first := range []int{0, -1, feed.MaxFirst + 1} {
		_, err := e.feed.Changes(ctx, nil, &first)
		require.Equal(t, errs.BadUserInput, errs.CodeOf(err), "first %d", first)
	}
	_, err := e.feed.Changes(ctx, nil, new(feed.MaxFirst))
	require.NoError(t, err)
	for _, since := range []string{"not a cursor", "bm9wZQ", "eyJwIjoxfQ"} {
		_, err := e.feed.Changes(ctx, &since, nil)
		require.Equal(t, errs.BadUserInput, errs.CodeOf(err), "since %q", since)
		e, _ := errs.As(err)
		require.Equal(t, "since", e.Field)
	}
	operator := viewer.NewContext(t.Context(), &viewer.Viewer{Kind: viewer.KindOperator, ID: "opr_test", Role: viewer.RoleOperator})
	_, err = e.feed.Changes(operator, nil, nil)
	require.Equal(t, errs.Forbidden, errs.CodeOf(err), "operators would see every merchant's changes")
}
