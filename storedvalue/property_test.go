package storedvalue_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // store time zones resolve on hosts without zoneinfo

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/tillpos/till/auth/password"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/refundtender"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/svtype"
	"github.com/tillpos/till/ent/storedvalueaccount"
	"github.com/tillpos/till/ent/storedvalueentry"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/ptr"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/keyring"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/pii"
	"github.com/tillpos/till/sales"
	"github.com/tillpos/till/storedvalue"
)

// world is a merchant with stored value, sales and customers wired as the
// server wires them, on a database of the test's own.
type world struct {
	client    *ent.Client
	sv        *storedvalue.Service
	sales     *sales.Service
	customers *customers.Service
	owner     *ent.Staff
	storeID   pulid.ID
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
	storeID, err := owner.QueryStores().OnlyID(viewer.NewSystemContext(t.Context(), "storedvalue-test"))
	require.NoError(t, err)
	sv := storedvalue.New(d.Client)
	return &world{
		client: d.Client, sv: sv, owner: owner, storeID: storeID,
		sales:     sales.New(d.Client, sales.WithHooks(sv.SaleHooks())),
		customers: customers.New(d.Client, box, customers.WithHooks(sv.CustomerHooks())),
	}
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

// checkLedgers checks every account of the merchant: its cached balance
// and bonus part are the sums of its entries, never negative, the bonus
// part no more than the balance; and the balances are what the model
// says. No entry belongs to no account.
func (w *world) checkLedgers(t *testing.T, model map[pulid.ID]int64, step int, what string) {
	t.Helper()
	ctx := w.ctx(t)
	accs, err := w.client.StoredValueAccount.Query().All(ctx)
	require.NoError(t, err)
	var total int64
	for _, a := range accs {
		var sums []struct {
			Amount sql.NullInt64 `json:"amount"`
			Bonus  sql.NullInt64 `json:"bonus"`
		}
		err := w.client.StoredValueEntry.Query().Where(storedvalueentry.AccountID(a.ID)).
			Aggregate(ent.As(ent.Sum(storedvalueentry.FieldAmount), "amount"), ent.As(ent.Sum(storedvalueentry.FieldBonusAmount), "bonus")).
			Scan(ctx, &sums)
		require.NoError(t, err)
		require.Equal(t, sums[0].Amount.Int64, a.Balance, "step %d (%s): the cached balance of %s is the sum of its ledger", step, what, a.CustomerID)
		require.Equal(t, sums[0].Bonus.Int64, a.BonusBalance, "step %d (%s): the cached bonus part is the sum of the entries'", step, what)
		require.GreaterOrEqual(t, a.Balance, int64(0), "step %d (%s)", step, what)
		require.GreaterOrEqual(t, a.BonusBalance, int64(0), "step %d (%s)", step, what)
		require.LessOrEqual(t, a.BonusBalance, a.Balance, "step %d (%s)", step, what)
		require.Equal(t, model[a.CustomerID], a.Balance, "step %d (%s): the balance of %s", step, what, a.CustomerID)
		total += a.Balance
	}
	for id, want := range model {
		if want != 0 {
			n, err := w.client.StoredValueAccount.Query().Where(storedvalueaccount.CustomerID(id)).Count(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n, "step %d (%s): %s has an account", step, what, id)
		}
	}
	var all []struct {
		Sum sql.NullInt64 `json:"sum"`
	}
	require.NoError(t, w.client.StoredValueEntry.Query().Aggregate(ent.Sum(storedvalueentry.FieldAmount)).Scan(ctx, &all))
	require.Equal(t, total, all[0].Sum.Int64, "step %d (%s): every entry is in an account", step, what)
}

// paidSale is a sale the test made and what is left to refund of it.
type paidSale struct {
	sale       *ent.Sale
	customer   pulid.ID
	svTender   *pulid.ID
	cashTender *pulid.ID
	// svLeft and cashLeft are what is left to refund of each tender.
	svLeft, cashLeft int64
	// touched is a sale refunded in part, which is no longer voided.
	touched bool
}

// Random sequences of top-ups, sales paid in part with the balance (some
// asking more than it holds), partial refunds to the balance and to cash,
// refunds of cash sales to the balance, voids, adjustments and merges:
// after every step each cached balance is the sum of its ledger, never
// negative, and what a plain model of the money says.
func TestLedgerProperty(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	w := newWorld(t)
	ctx := w.ctx(t)
	_, err := w.sv.UpdateSettings(ctx, storedvalue.SettingsPatch{
		RefundToBalanceAllowed: ptr.To(true),
		BonusTiers: []*svtype.BonusTier{
			{MinAmount: 5000, Bonus: ptr.To[int64](500)},
			{MinAmount: 20000, PercentBP: ptr.To(1000), MaxBonus: ptr.To[int64](3000)},
		},
	})
	require.NoError(t, err)

	model := map[pulid.ID]int64{}
	pool := []pulid.ID{w.customer(t, "A"), w.customer(t, "B"), w.customer(t, "C")}
	var sold []*paidSale
	key := 0
	nextKey := func() string { key++; return fmt.Sprintf("k-%d-%d", seed, key) }
	pick := func() pulid.ID { return pool[rng.IntN(len(pool))] }
	open := func() []*paidSale {
		var out []*paidSale
		for _, s := range sold {
			if s.svLeft+s.cashLeft > 0 {
				out = append(out, s)
			}
		}
		return out
	}

	const steps = 300
	done := map[string]int{}
	for step := range steps {
		var what string
		switch r := rng.IntN(100); {
		case r < 25:
			c, amount := pick(), 1+rng.Int64N(25000)
			what = fmt.Sprintf("top-up %d for %s", amount, c)
			res, err := w.sv.TopUp(ctx, storedvalue.TopUpInput{
				IdempotencyKey: nextKey(), CustomerID: c, StoreID: w.storeID, Amount: amount,
				Tender: sales.TenderInput{Type: tender.TypeCASH},
			})
			require.NoError(t, err, what)
			require.GreaterOrEqual(t, res.TopUp.Bonus, int64(0))
			model[c] += amount + res.TopUp.Bonus
			require.Equal(t, model[c], res.StoredValue.Balance, what)

		case r < 55:
			c := pick()
			total := 1 + rng.Int64N(15000)
			// Up to a little more than the balance: some must be refused.
			sv := min(total, rng.Int64N(model[c]+2000))
			what = fmt.Sprintf("sale %d, %d from the balance of %s (holding %d)", total, sv, c, model[c])
			var tenders []sales.TenderInput
			if sv > 0 {
				tenders = append(tenders, sales.TenderInput{Type: tender.TypeSTORED_VALUE, Amount: sv})
			}
			if total > sv {
				tenders = append(tenders, sales.TenderInput{Type: tender.TypeCASH, Amount: total - sv})
			}
			rng.Shuffle(len(tenders), func(i, j int) { tenders[i], tenders[j] = tenders[j], tenders[i] })
			sl, _, err := w.sales.Record(ctx, sales.SaleInput{
				IdempotencyKey: nextKey(), StoreID: w.storeID, CustomerID: &c,
				Lines:   []sales.LineInput{{Name: ptr.To("Tea"), Quantity: 1, UnitPrice: &total}},
				Tenders: tenders,
			})
			if sv > model[c] {
				require.Error(t, err, what)
				e, _ := errs.As(err)
				require.Equal(t, errs.BadUserInput, e.Code, what)
				require.Regexp(t, `^tenders\[[01]\]\.amount$`, e.Field, what)
				break
			}
			require.NoError(t, err, what)
			model[c] -= sv
			ps := &paidSale{sale: sl, customer: c}
			ts, err := sl.QueryTenders().All(ctx)
			require.NoError(t, err)
			for _, tn := range ts {
				id := tn.ID
				if tn.Type == tender.TypeSTORED_VALUE {
					ps.svTender, ps.svLeft = &id, tn.Amount
				} else {
					ps.cashTender, ps.cashLeft = &id, tn.Amount
				}
			}
			sold = append(sold, ps)

		case r < 75:
			candidates := open()
			if len(candidates) == 0 {
				continue
			}
			s := candidates[rng.IntN(len(candidates))]
			toSV, toCash := rng.Int64N(s.svLeft+1), rng.Int64N(s.cashLeft+1)
			if toSV+toCash == 0 {
				continue
			}
			var rts []sales.RefundTenderInput
			if toSV > 0 {
				rts = append(rts, sales.RefundTenderInput{TenderID: s.svTender, Type: refundtender.TypeSTORED_VALUE, Amount: toSV})
			}
			switch {
			case toCash == 0:
			case rng.IntN(2) == 0:
				rts = append(rts, sales.RefundTenderInput{TenderID: s.cashTender, Type: refundtender.TypeCASH, Amount: toCash})
			default:
				// What was paid in cash goes to the balance.
				rts = append(rts, sales.RefundTenderInput{Type: refundtender.TypeSTORED_VALUE, Amount: toCash})
			}
			var amount, back int64
			for _, rt := range rts {
				amount += rt.Amount
				if rt.Type == refundtender.TypeSTORED_VALUE {
					back += rt.Amount
				}
			}
			what = fmt.Sprintf("refund of %d of sale %s, %d to stored value", amount, s.sale.ID, back)
			_, err := w.sales.Refund(ctx, sales.RefundInput{
				IdempotencyKey: nextKey(), SaleID: s.sale.ID, Reason: "property", Amount: &amount, Tenders: rts,
			})
			require.NoError(t, err, what)
			model[s.customer] += back
			s.svLeft -= toSV
			s.cashLeft -= toCash
			s.touched = true

		case r < 85:
			var candidates []*paidSale
			for _, s := range open() {
				if !s.touched {
					candidates = append(candidates, s)
				}
			}
			if len(candidates) == 0 {
				continue
			}
			s := candidates[rng.IntN(len(candidates))]
			what = fmt.Sprintf("void of sale %s: %d back", s.sale.ID, s.svLeft)
			_, err := w.sales.Void(ctx, nextKey(), s.sale.ID, "property")
			require.NoError(t, err, what)
			model[s.customer] += s.svLeft
			s.svLeft, s.cashLeft, s.touched = 0, 0, true

		case r < 95:
			c := pick()
			amount := rng.Int64N(4000) - 2500
			if amount == 0 {
				continue
			}
			what = fmt.Sprintf("adjustment %d of %s (holding %d)", amount, c, model[c])
			_, err := w.sv.Adjust(ctx, storedvalue.AdjustInput{IdempotencyKey: nextKey(), CustomerID: c, Amount: amount, Reason: "property"})
			if model[c]+amount < 0 {
				require.Error(t, err, what)
				require.Equal(t, errs.BadUserInput, errs.CodeOf(err), what)
				break
			}
			require.NoError(t, err, what)
			model[c] += amount

		default:
			i, j := rng.IntN(len(pool)), rng.IntN(len(pool)-1)
			if j >= i {
				j++
			}
			survivor, dup := pool[i], pool[j]
			what = fmt.Sprintf("merge of %s (%d) into %s (%d)", dup, model[dup], survivor, model[survivor])
			_, err := w.customers.Merge(ctx, survivor, dup)
			require.NoError(t, err, what)
			model[survivor] += model[dup]
			delete(model, dup)
			for _, s := range sold {
				if s.customer == dup {
					s.customer = survivor
				}
			}
			pool[j] = w.customer(t, fmt.Sprintf("N%d", step))
		}
		w.checkLedgers(t, model, step, what)
		kind, _, _ := strings.Cut(what, " ")
		done[kind]++
	}
	t.Logf("steps done: %v", done)
}
