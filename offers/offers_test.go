package offers_test

import (
	"context"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // store time zones resolve on hosts without zoneinfo

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/offer"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/ptr"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/offers"
	"github.com/tillpos/till/pii"
	"github.com/tillpos/till/sales"
)

// clock is a settable time source shared by the services.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// shop is a merchant, its owner's context and first store, and the
// offers, sales and customers services on one database and clock.
type shop struct {
	ctx       context.Context
	storeID   pulid.ID
	clock     *clock
	offers    *offers.Service
	sales     *sales.Service
	customers *customers.Service
}

func newShop(t *testing.T, start time.Time) *shop {
	t.Helper()
	client := tilltest.OpenDB(t).Client
	owner, err := merchants.New(client, password.NewHasher(bcrypt.MinCost)).SignUp(t.Context(), merchants.SignUpInput{
		MerchantName: "Lotus Tea", OwnerName: "Li Wei", Email: tilltest.UniqueEmail("owner"),
		Password: "correct horse battery", Currency: "CNY", TimeZone: "Asia/Shanghai", Locale: "zh-CN",
	})
	require.NoError(t, err)
	stores, err := owner.QueryStores().IDs(viewer.NewSystemContext(t.Context(), "offers-test"))
	require.NoError(t, err)
	keys, err := keyring.Generate()
	require.NoError(t, err)
	box, err := pii.New(keys.PII, keys.BlindIndex)
	require.NoError(t, err)
	c := &clock{now: start}
	s := &shop{
		ctx: viewer.NewContext(t.Context(), &viewer.Viewer{
			Kind: viewer.KindStaff, ID: owner.ID, MerchantID: owner.MerchantID, Role: viewer.RoleOwner,
		}),
		storeID: stores[0], clock: c, offers: offers.New(client, offers.WithClock(c.Now)),
	}
	s.sales = sales.New(client, sales.WithClock(c.Now), sales.WithHooks(s.offers.SaleHooks()))
	s.customers = customers.New(client, box, customers.WithHooks(s.offers.CustomerHooks()))
	return s
}

func (s *shop) customer(t *testing.T, name string) *ent.Customer {
	t.Helper()
	c, err := s.customers.Create(s.ctx, nil, customers.Profile{Name: &name})
	require.NoError(t, err)
	return c
}

// sell records a sale now of one item at price, paid total in cash, for
// customer, with offers.
func (s *shop) sell(customer *ent.Customer, price, total int64, offerIDs ...pulid.ID) (*ent.Sale, error) {
	sl, _, err := s.sales.Record(s.ctx, sales.SaleInput{
		IdempotencyKey: string(pulid.New("key")), StoreID: s.storeID, CustomerID: &customer.ID,
		Lines:   []sales.LineInput{{Name: ptr.To("Tea"), Quantity: 1, UnitPrice: &price}},
		Tenders: []sales.TenderInput{{Type: tender.TypeCASH, Amount: total}},
		Offers:  offerIDs,
	})
	return sl, err
}

func (s *shop) eligible(t *testing.T, c *ent.Customer) []pulid.ID {
	t.Helper()
	conn, err := s.offers.EligibleOffers(s.ctx, c, &s.storeID, nil, nil, nil, nil)
	require.NoError(t, err)
	ids := []pulid.ID{}
	for _, e := range conn.Edges {
		ids = append(ids, e.Node.ID)
	}
	return ids
}

// "AT_RISK customers: 20% off, valid 14 days, once per customer", here for
// everyone: the window runs 14 × 24 hours from creation, the use is once.
func TestOfferValidDaysOncePerCustomer(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := newShop(t, t0)
	o, err := s.offers.Create(s.ctx, offers.CreateInput{
		Name: "Twenty off", Kind: offer.KindPERCENT, PercentBp: ptr.To(2000), ValidDays: ptr.To(14), PerCustomerLimit: ptr.To(1),
	})
	require.NoError(t, err)
	require.Equal(t, t0, o.ValidFrom)
	require.Equal(t, t0.Add(14*24*time.Hour), *o.ValidUntil)
	li, wu := s.customer(t, "Li"), s.customer(t, "Wu")

	s.clock.Set(t0.Add(14*24*time.Hour - time.Minute))
	require.Equal(t, []pulid.ID{o.ID}, s.eligible(t, li))
	sl, err := s.sell(li, 1000, 800, o.ID)
	require.NoError(t, err)
	require.Equal(t, []sales.Discount{{Kind: "OFFER", RefID: o.ID, Label: "Twenty off", Amount: 200}}, sl.Discounts)
	require.Empty(t, s.eligible(t, li), "once per customer")
	_, err = s.sell(li, 1000, 800, o.ID)
	require.Equal(t, errs.BadUserInput, errs.CodeOf(err), "%v", err)

	s.clock.Set(t0.Add(14 * 24 * time.Hour))
	require.Empty(t, s.eligible(t, wu), "the window is over")
	_, err = s.sell(wu, 1000, 800, o.ID)
	require.ErrorContains(t, err, "ended at")

	used, err := s.offers.Query(s.ctx)
	require.NoError(t, err)
	got, err := used.Where(offer.ID(o.ID)).Only(s.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, got.RedemptionCount)
}

// A merge moves the duplicate's uses to the survivor, whose limit then
// counts them; the export lists them under the survivor.
func TestOfferMergeAndExport(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := newShop(t, t0)
	o, err := s.offers.Create(s.ctx, offers.CreateInput{Name: "Two each", Kind: offer.KindFIXED, Amount: ptr.To[int64](100), PerCustomerLimit: ptr.To(2)})
	require.NoError(t, err)
	survivor, dup := s.customer(t, "Wu"), s.customer(t, "Wu (card)")
	_, err = s.sell(survivor, 1000, 900, o.ID)
	require.NoError(t, err)
	_, err = s.sell(dup, 1000, 900, o.ID)
	require.NoError(t, err)
	_, err = s.customers.Merge(s.ctx, survivor.ID, dup.ID)
	require.NoError(t, err)
	_, err = s.sell(survivor, 1000, 900, o.ID)
	require.ErrorContains(t, err, "as often as it may (2)")

	doc, err := s.customers.Export(s.ctx, survivor.ID)
	require.NoError(t, err)
	redeemed, ok := doc["offers"].([]map[string]any)
	require.True(t, ok, "%T", doc["offers"])
	require.Len(t, redeemed, 2)
	for _, r := range redeemed {
		require.Equal(t, o.ID, r["offer"])
		require.Equal(t, int64(100), r["amount"])
	}
}
