package loyalty_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
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
	"github.com/tillpos/till/ent/loyaltyentry"
	"github.com/tillpos/till/ent/loyaltylot"
	"github.com/tillpos/till/ent/loyaltyreward"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/ptr"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/loyalty"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/pii"
	"github.com/tillpos/till/sales"
)

// world is a merchant with loyalty, sales and customers wired as the
// server wires them, on a database of the test's own, with a loyalty
// clock the test moves.
type world struct {
	client    *ent.Client
	loyalty   *loyalty.Service
	sales     *sales.Service
	customers *customers.Service
	owner     *ent.Staff
	storeID   pulid.ID
	mu        sync.Mutex
	offset    time.Duration
}

func (w *world) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return time.Now().Add(w.offset)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	d := tilltest.OpenDB(t)
	k, err := keyring.Generate()
	require.NoError(t, err)
	box, err := pii.New(k.PII, k.BlindIndex)
	require.NoError(t, err)
	owner, err := merchants.New(d.Client, password.NewHasher(bcrypt.MinCost)).SignUp(t.Context(), merchants.SignUpInput{
		MerchantName: "Lotus Tea", OwnerName: "Li Wei", Email: tilltest.UniqueEmail("owner"),
		Password: "correct horse battery", Currency: "CNY", TimeZone: "Asia/Shanghai", Locale: "zh-CN",
	})
	require.NoError(t, err)
	storeID, err := owner.QueryStores().OnlyID(viewer.NewSystemContext(t.Context(), "loyalty-test"))
	require.NoError(t, err)
	w := &world{client: d.Client, owner: owner, storeID: storeID}
	w.loyalty = loyalty.New(d.Client, loyalty.WithClock(w.now))
	w.sales = sales.New(d.Client, sales.WithHooks(w.loyalty.SaleHooks()))
	w.customers = customers.New(d.Client, box, customers.WithHooks(w.loyalty.CustomerHooks()))
	return w
}

// ctx is a request of the owner.
func (w *world) ctx(t *testing.T) context.Context {
	return viewer.NewContext(t.Context(), &viewer.Viewer{
		Kind: viewer.KindStaff, ID: w.owner.ID, MerchantID: w.owner.MerchantID, Role: viewer.RoleOwner, SessionID: "sess",
	})
}

func (w *world) customer(t *testing.T, name string) pulid.ID {
	t.Helper()
	c, err := w.customers.Create(w.ctx(t), nil, customers.Profile{Name: &name})
	require.NoError(t, err)
	return c.ID
}

// balance is customer c's points as the account caches them; 0 without
// one.
func (w *world) balance(t *testing.T, c pulid.ID) int64 {
	t.Helper()
	st, err := w.loyalty.Standing(w.ctx(t), c)
	require.NoError(t, err)
	return st.Points
}

// checkLedgers checks every account of the merchant: its cached points
// are the sum of its entries and the sum of its lots' remaining points,
// never negative; no entry or lot belongs to no account.
func (w *world) checkLedgers(t *testing.T, step int, what string) {
	t.Helper()
	ctx := w.ctx(t)
	accs, err := w.client.LoyaltyAccount.Query().All(ctx)
	require.NoError(t, err)
	var total int64
	for _, a := range accs {
		var entries, lots []struct {
			Sum sql.NullInt64 `json:"sum"`
		}
		require.NoError(t, w.client.LoyaltyEntry.Query().Where(loyaltyentry.AccountID(a.ID)).Aggregate(ent.Sum(loyaltyentry.FieldPoints)).Scan(ctx, &entries))
		require.NoError(t, w.client.LoyaltyLot.Query().Where(loyaltylot.AccountID(a.ID)).Aggregate(ent.Sum(loyaltylot.FieldRemaining)).Scan(ctx, &lots))
		require.Equal(t, entries[0].Sum.Int64, a.Points, "step %d (%s): the cached balance of %s is the sum of its ledger", step, what, a.CustomerID)
		require.Equal(t, lots[0].Sum.Int64, a.Points, "step %d (%s): the cached balance of %s is what its lots hold", step, what, a.CustomerID)
		require.GreaterOrEqual(t, a.Points, int64(0), "step %d (%s)", step, what)
		total += a.Points
	}
	var all []struct {
		Sum sql.NullInt64 `json:"sum"`
	}
	require.NoError(t, w.client.LoyaltyEntry.Query().Aggregate(ent.Sum(loyaltyentry.FieldPoints)).Scan(ctx, &all))
	require.Equal(t, total, all[0].Sum.Int64, "step %d (%s): every entry is in an account", step, what)
	negative, err := w.client.LoyaltyLot.Query().Where(loyaltylot.RemainingLT(0)).Count(ctx)
	require.NoError(t, err)
	require.Zero(t, negative, "step %d (%s): no lot below zero", step, what)
}

// paidSale is a sale the test made and what is left to refund of it.
type paidSale struct {
	sale     *ent.Sale
	customer pulid.ID
	left     int64
	// touched is a sale refunded in part, which is no longer voided.
	touched bool
}

// Random sequences of sales (some redeeming rewards, some paying in part
// with points, some asking more than the balance holds), partial refunds,
// voids, adjustments, merges and expiries: after every step each cached
// balance is the sum of its ledger and of its lots, and never negative.
func TestLedgerProperty(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	w := newWorld(t)
	ctx := w.ctx(t)
	w.offset = -40 * 24 * time.Hour
	_, err := w.loyalty.UpdateProgram(ctx, loyalty.ProgramPatch{ExpiryMonths: ptr.To(1), PointValue: ptr.To[int64](10)})
	require.NoError(t, err)
	w.offset = 0
	reward, err := w.loyalty.CreateReward(ctx, loyalty.RewardInput{Name: "2 off", Kind: loyaltyreward.KindFIXED_DISCOUNT, Amount: ptr.To[int64](200), PointsCost: 20})
	require.NoError(t, err)

	pool := []pulid.ID{w.customer(t, "A"), w.customer(t, "B"), w.customer(t, "C")}
	var sold []*paidSale
	key := 0
	nextKey := func() string { key++; return fmt.Sprintf("k-%d-%d", seed, key) }
	pick := func() pulid.ID { return pool[rng.IntN(len(pool))] }
	open := func() []*paidSale {
		var out []*paidSale
		for _, s := range sold {
			if s.left > 0 {
				out = append(out, s)
			}
		}
		return out
	}

	const steps = 250
	done := map[string]int{}
	for step := range steps {
		var what string
		switch r := rng.IntN(100); {
		case r < 40:
			c := pick()
			held := w.balance(t, c)
			price := 500 + rng.Int64N(20000)
			in := sales.SaleInput{
				IdempotencyKey: nextKey(), StoreID: w.storeID, CustomerID: &c,
				Lines: []sales.LineInput{{Name: ptr.To("Tea"), Quantity: 1, UnitPrice: &price}},
			}
			// An offline sale of up to 25 days ago, so that lots expire at
			// different times.
			if rng.IntN(3) == 0 {
				at := time.Now().Add(-time.Duration(rng.Int64N(25*24)) * time.Hour)
				in.OccurredAt = &at
			}
			var need int64
			due := price
			if rng.IntN(3) == 0 {
				in.Rewards = []pulid.ID{reward.ID}
				need += 20
				due -= 200
			}
			var loyaltyPts int64
			if rng.IntN(3) == 0 {
				loyaltyPts = min(rng.Int64N(held+30), due/10)
			}
			if loyaltyPts > 0 {
				need += loyaltyPts
				in.Tenders = append(in.Tenders, sales.TenderInput{Type: tender.TypeLOYALTY, Amount: loyaltyPts * 10})
			}
			if rest := due - loyaltyPts*10; rest > 0 {
				in.Tenders = append(in.Tenders, sales.TenderInput{Type: tender.TypeCASH, Amount: rest})
			}
			what = fmt.Sprintf("sale of %d for %s (holding %d), needing %d points", price, c, held, need)
			sl, _, err := w.sales.Record(ctx, in)
			if need > held {
				require.Error(t, err, what)
				require.Equal(t, errs.BadUserInput, errs.CodeOf(err), what)
				break
			}
			require.NoError(t, err, what)
			sold = append(sold, &paidSale{sale: sl, customer: c, left: sl.Total})

		case r < 60:
			candidates := open()
			if len(candidates) == 0 {
				continue
			}
			s := candidates[rng.IntN(len(candidates))]
			amount := 1 + rng.Int64N(s.left)
			what = fmt.Sprintf("refund of %d of sale %s", amount, s.sale.ID)
			_, err := w.sales.Refund(ctx, sales.RefundInput{IdempotencyKey: nextKey(), SaleID: s.sale.ID, Reason: "property", Amount: &amount})
			require.NoError(t, err, what)
			s.left -= amount
			s.touched = true

		case r < 70:
			var candidates []*paidSale
			for _, s := range open() {
				if !s.touched && time.Since(s.sale.OccurredAt) < time.Hour {
					candidates = append(candidates, s)
				}
			}
			if len(candidates) == 0 {
				continue
			}
			s := candidates[rng.IntN(len(candidates))]
			what = fmt.Sprintf("void of sale %s", s.sale.ID)
			_, err := w.sales.Void(ctx, nextKey(), s.sale.ID, "property")
			require.NoError(t, err, what)
			s.left, s.touched = 0, true

		case r < 82:
			c := pick()
			held := w.balance(t, c)
			points := rng.Int64N(200) - 120
			if points == 0 {
				continue
			}
			what = fmt.Sprintf("adjustment %d of %s (holding %d)", points, c, held)
			_, err := w.loyalty.Adjust(ctx, loyalty.AdjustInput{IdempotencyKey: nextKey(), CustomerID: c, Points: points, Reason: "property"})
			if held+points < 0 {
				require.Error(t, err, what)
				require.Equal(t, errs.BadUserInput, errs.CodeOf(err), what)
				break
			}
			require.NoError(t, err, what)

		case r < 94:
			days := rng.IntN(10)
			w.mu.Lock()
			w.offset += time.Duration(days) * 24 * time.Hour
			w.mu.Unlock()
			what = fmt.Sprintf("expiry %d days on", days)
			require.NoError(t, w.loyalty.Expire(ctx), what)

		default:
			i, j := rng.IntN(len(pool)), rng.IntN(len(pool)-1)
			if j >= i {
				j++
			}
			survivor, dup := pool[i], pool[j]
			what = fmt.Sprintf("merge of %s into %s", dup, survivor)
			before := w.balance(t, survivor) + w.balance(t, dup)
			_, err := w.customers.Merge(ctx, survivor, dup)
			require.NoError(t, err, what)
			require.Equal(t, before, w.balance(t, survivor), what)
			for _, s := range sold {
				if s.customer == dup {
					s.customer = survivor
				}
			}
			pool[j] = w.customer(t, fmt.Sprintf("N%d", step))
		}
		w.checkLedgers(t, step, what)
		kind, _, _ := strings.Cut(what, " ")
		done[kind]++
	}
	t.Logf("steps done: %v", done)
}
