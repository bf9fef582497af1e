package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/db"
	"github.com/tillpos/till/internal/tilltest"
	"github.com/tillpos/till/loyalty"
	"github.com/tillpos/till/server"
)

// Loyalty through the API: the program and its versions, points earned by
// sales and reversed by refunds, rewards at checkout and outside a sale,
// the LOYALTY tender, adjustments, expiry, tiers, and who may do what.

const (
	loyProgramFields = `version effectiveFrom staffID enabled pointsPerUnit unitAmount rounding minSpend earningTenders
		expiryMonths pointValue tiers { name threshold multiplierBp } tierBasis`
	loyStandingFields = `points tier tierSince tierReviewAt nextTier pointsToNextTier expiringSoon { points at } lifetimePoints`
	loyEntryFields    = `id kind points qualifyingPoints qualifyingSpend occurredAt expiresAt saleID refundID rewardID redemptionID
		tenderID staffID reason programVersion`

	loyUpdate = `mutation($i: UpdateLoyaltyProgramInput!) { updateLoyaltyProgram(input: $i) { ` + loyProgramFields + `
		versions { version effectiveFrom } } }`
	loyProgram  = `{ loyaltyProgram { ` + loyProgramFields + ` versions { version } } }`
	loyCustomer = `query($id: ID!) { node(id: $id) { ... on Customer { loyalty { ` + loyStandingFields + `
		entries(first: 100) { totalCount edges { node { ` + loyEntryFields + ` } } } } } } }`
	loyRewardFields = `id name kind productID amount percentBp maxDiscount pointsCost active minTier`
	loyRewardCreate = `mutation($i: CreateLoyaltyRewardInput!) { createLoyaltyReward(input: $i) { reward { ` + loyRewardFields + ` } } }`
	loyRewardUpdate = `mutation($i: UpdateLoyaltyRewardInput!) { updateLoyaltyReward(input: $i) { reward { ` + loyRewardFields + ` } } }`
	loyAdjust       = `mutation($i: AdjustPointsInput!) { adjustPoints(input: $i) { replayed entry { ` + loyEntryFields + ` }
		loyalty { ` + loyStandingFields + ` } } }`
	loyRedeem = `mutation($i: RedeemRewardInput!) { redeemReward(input: $i) { replayed
		redemption { id points discountAmount voidedAt saleID storeID staffID reward { id } } loyalty { ` + loyStandingFields + ` } } }`
	loySale = `mutation($i: RecordSaleInput!) { recordSale(input: $i) { sale { id total subtotal discountTotal status
		tenders { id type amount } lines { id quantity total }
		discounts { kind refId label line amount } receipt { discounts { kind refId label amount } text(width: 32) } } } }`
)

type loyEntry struct {
	ID               string
	Kind             string
	Points           int64
	QualifyingPoints int64
	QualifyingSpend  int64
	OccurredAt       time.Time
	ExpiresAt        *time.Time
	SaleID           *string
	RefundID         *string
	RewardID         *string
	RedemptionID     *string
	TenderID         *string
	StaffID          *string
	Reason           *string
	ProgramVersion   *int
}

type loyStanding struct {
	Points           int64
	Tier             string
	TierSince        *time.Time
	TierReviewAt     *time.Time
	NextTier         *string
	PointsToNextTier *int64
	ExpiringSoon     []struct {
		Points int64
		At     time.Time
	}
	LifetimePoints int64
	Entries        struct {
		TotalCount int
		Edges      []struct{ Node loyEntry }
	}
}

// entries are the ledger's entries, newest first.
func (s loyStanding) entries() []loyEntry {
	out := []loyEntry{}
	for _, e := range s.Entries.Edges {
		out = append(out, e.Node)
	}
	return out
}

// kinds are the ledger's entry kinds, newest first.
func (s loyStanding) kinds() []string {
	out := []string{}
	for _, e := range s.entries() {
		out = append(out, e.Kind)
	}
	return out
}

type loyProgramOut struct {
	Version        int
	EffectiveFrom  time.Time
	StaffID        string
	Enabled        bool
	PointsPerUnit  int64
	UnitAmount     int64
	Rounding       string
	MinSpend       int64
	EarningTenders []string
	ExpiryMonths   int
	PointValue     int64
	Tiers          []struct {
		Name         string
		Threshold    int64
		MultiplierBp int
	}
	TierBasis string
	Versions  []struct {
		Version       int
		EffectiveFrom time.Time
	}
}

type loyReward struct {
	ID          string
	Name        string
	Kind        string
	ProductID   *string
	Amount      *int64
	PercentBp   *int
	MaxDiscount *int64
	PointsCost  int64
	Active      bool
	MinTier     *string
}

type loySold struct {
	ID            string
	Total         int64
	Subtotal      int64
	DiscountTotal int64
	Status        string
	Tenders       []struct {
		ID     string
		Type   string
		Amount int64
	}
	Lines []struct {
		ID       string
		Quantity int
		Total    int64
	}
	Discounts []offerDiscount
	Receipt   struct {
		Discounts []offerDiscount
		Text      string
	}
}

// loyClock is the loyalty service's clock: the real time moved by an
// offset the test sets, so that sales (on the real clock) and loyalty
// agree until a test moves past an expiry or a review.
type loyClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *loyClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *loyClock) move(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// loyEnv is a saleEnv whose loyalty clock the test moves.
type loyEnv struct {
	*saleEnv
	clock *loyClock
}

func newLoyEnv(t *testing.T) *loyEnv {
	t.Helper()
	clock := &loyClock{}
	env := tilltest.New(t, nil, server.WithLoyaltyOptions(loyalty.WithClock(clock.now)))
	owner := env.SignUp(t, "Lotus Tea")
	return &loyEnv{
		saleEnv: &saleEnv{Env: env, owner: owner, manager: env.AddStaff(t, owner, "MANAGER"), cashier: env.AddStaff(t, owner, "CASHIER")},
		clock:   clock,
	}
}

// program changes the program as the owner.
func (e *loyEnv) program(t *testing.T, patch map[string]any) loyProgramOut {
	t.Helper()
	var out struct{ UpdateLoyaltyProgram loyProgramOut }
	e.Exec(t, e.owner.Token, loyUpdate, map[string]any{"i": patch}).Decode(t, &out)
	return out.UpdateLoyaltyProgram
}

// points reads customer's loyalty as the holder of token.
func (e *loyEnv) points(t *testing.T, token, customer string) loyStanding {
	t.Helper()
	var out struct {
		Node struct{ Loyalty *loyStanding }
	}
	e.Exec(t, token, loyCustomer, map[string]any{"id": customer}).Decode(t, &out)
	require.NotNil(t, out.Node.Loyalty, "the merchant has a program")
	return *out.Node.Loyalty
}

// adjust adjusts customer's points as the owner, failing t on any error.
func (e *loyEnv) adjust(t *testing.T, customer string, points int64) {
	t.Helper()
	e.Exec(t, e.owner.Token, loyAdjust, map[string]any{"i": map[string]any{
		"idempotencyKey": saleKey(), "customerId": customer, "points": points, "reason": "welcome gift",
	}}).Decode(t, &struct{}{})
}

// reward creates a reward as the manager.
func (e *loyEnv) reward(t *testing.T, in map[string]any) loyReward {
	t.Helper()
	var out struct{ CreateLoyaltyReward struct{ Reward loyReward } }
	e.Exec(t, e.manager.Token, loyRewardCreate, map[string]any{"i": in}).Decode(t, &out)
	return out.CreateLoyaltyReward.Reward
}

// sell records in as the holder of token, failing t on any error.
func (e *loyEnv) sell(t *testing.T, token string, in map[string]any) loySold {
	t.Helper()
	var out struct{ RecordSale struct{ Sale loySold } }
	e.Exec(t, token, loySale, map[string]any{"i": in}).Decode(t, &out)
	return out.RecordSale.Sale
}

// loyCash is a sale at store for customer of one untaxed item at price,
// paid in cash.
func loyCash(store, customer string, price int64) map[string]any {
	return svSale(store, customer, price, map[string]any{"type": "CASH", "amount": price})
}

// requirePointsAdd checks that the cached points are the sum of the
// ledger, and never negative.
func requirePointsAdd(t *testing.T, s loyStanding) {
	t.Helper()
	var sum int64
	for _, e := range s.entries() {
		sum += e.Points
	}
	require.Equal(t, s.Points, sum, "the balance is the sum of the ledger")
	require.GreaterOrEqual(t, s.Points, int64(0))
}

func TestLoyaltyProgramVersions(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	var none struct{ LoyaltyProgram *loyProgramOut }
	e.Exec(t, e.cashier.Token, loyProgram, nil).Decode(t, &none)
	require.Nil(t, none.LoyaltyProgram, "no program until the owner makes one")
	mei := e.customer(t, e.cashier.Token, "Mei")
	var c struct {
		Node struct{ Loyalty *loyStanding }
	}
	e.Exec(t, e.cashier.Token, loyCustomer, map[string]any{"id": mei}).Decode(t, &c)
	require.Nil(t, c.Node.Loyalty)
	e.sell(t, e.cashier.Token, loyCash(e.owner.StoreID, mei, 5000))
	saleWantErr(t, e.Exec(t, e.manager.Token, loyUpdate, map[string]any{"i": map[string]any{}}), "FORBIDDEN", "")

	// The first version: the defaults. An hour ago, so that an offline
	// sale can happen under it.
	e.clock.move(-2 * time.Hour)
	v1 := e.program(t, map[string]any{})
	e.clock.move(2 * time.Hour)
	require.Equal(t, 1, v1.Version)
	require.True(t, v1.Enabled)
	require.Equal(t, int64(1), v1.PointsPerUnit)
	require.Equal(t, int64(100), v1.UnitAmount)
	require.Equal(t, "DOWN", v1.Rounding)
	require.Equal(t, []string{"CASH", "CARD", "MOBILE_WALLET"}, v1.EarningTenders)
	require.Equal(t, 0, v1.ExpiryMonths)
	require.Equal(t, "POINTS", v1.TierBasis)
	require.Len(t, v1.Tiers, 3)
	require.Equal(t, 12500, v1.Tiers[1].MultiplierBp)
	require.Equal(t, e.owner.ID, v1.StaffID)

	v2 := e.program(t, map[string]any{"pointsPerUnit": 2, "rounding": "NEAREST"})
	require.Equal(t, 2, v2.Version)
	require.Equal(t, int64(2), v2.PointsPerUnit)
	require.Equal(t, int64(100), v2.UnitAmount, "left out: as it was")
	require.Equal(t, []int{2, 1}, []int{v2.Versions[0].Version, v2.Versions[1].Version}, "newest first")

	// Bad rules are refused, and write no version.
	for field, patch := range map[string]map[string]any{
		"unitAmount":            {"unitAmount": 0},
		"expiryMonths":          {"expiryMonths": 121},
		"earningTenders[0]":     {"earningTenders": []string{"EXCHANGE"}},
		"tiers[0].threshold":    {"tiers": []any{map[string]any{"name": "A", "threshold": 5, "multiplierBp": 10000}}},
		"tiers[1].threshold":    {"tiers": []any{map[string]any{"name": "A", "threshold": 0, "multiplierBp": 10000}, map[string]any{"name": "B", "threshold": 0, "multiplierBp": 10000}}},
		"tiers[0].multiplierBp": {"tiers": []any{map[string]any{"name": "A", "threshold": 0, "multiplierBp": -1}}},
	} {
		saleWantErr(t, e.Exec(t, e.owner.Token, loyUpdate, map[string]any{"i": patch}), "BAD_USER_INPUT", field)
	}

	// A sale now earns under version 2: 18.50 × 2 = 37.
	s := e.sell(t, e.cashier.Token, loyCash(e.owner.StoreID, mei, 1850))
	l := e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(37), l.Points)
	require.Equal(t, s.ID, *l.entries()[0].SaleID)
	require.Equal(t, 2, *l.entries()[0].ProgramVersion)

	// An offline sale that happened an hour ago earns under version 1:
	// 18.50 rounded down is 18.
	in := loyCash(e.owner.StoreID, mei, 1850)
	in["occurredAt"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	e.sell(t, e.cashier.Token, in)
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(37+18), l.Points)
	require.Equal(t, 1, *l.entries()[0].ProgramVersion)
	requirePointsAdd(t, l)

	// Switched off: nothing earned, rewards refused.
	e.program(t, map[string]any{"enabled": false})
	e.sell(t, e.cashier.Token, loyCash(e.owner.StoreID, mei, 5000))
	require.Equal(t, int64(55), e.points(t, e.cashier.Token, mei).Points)
	var prog struct{ LoyaltyProgram loyProgramOut }
	e.Exec(t, e.cashier.Token, loyProgram, nil).Decode(t, &prog)
	require.Equal(t, 3, prog.LoyaltyProgram.Version)
	require.Len(t, prog.LoyaltyProgram.Versions, 3)
}

func TestLoyaltyEarn(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	e.program(t, map[string]any{"minSpend": 1000, "rounding": "NEAREST"})
	mei := e.customer(t, e.cashier.Token, "Mei")
	store := e.owner.StoreID

	e.sell(t, e.cashier.Token, loyCash(store, mei, 999))
	e.sell(t, e.cashier.Token, saleCash(store, 5000))
	l := e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(0), l.Points, "under the minimum spend; an anonymous sale earns no one anything")
	require.Equal(t, "MEMBER", l.Tier)

	// 12.50 rounds to 13; cash handed over beyond the price (change) does
	// not earn.
	in := loyCash(store, mei, 1250)
	in["tenders"] = []any{map[string]any{"type": "CASH", "amount": 1250, "tendered": 5000}}
	e.sell(t, e.cashier.Token, in)
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(13), l.Points)
	earn := l.entries()[0]
	require.Equal(t, "EARN", earn.Kind)
	require.Equal(t, int64(1250), earn.QualifyingSpend)
	require.Nil(t, earn.ExpiresAt, "points never expire by default")
	require.Equal(t, e.cashier.ID, *earn.StaffID)

	// A sale paid partly with stored value earns on the rest only.
	e.topUp(t, e.cashier.Token, svCash(mei, store, 10000))
	e.sell(t, e.cashier.Token, svSale(store, mei, 3049, map[string]any{"type": "CARD", "amount": 1049, "cardBrand": "visa", "cardLast4": "4242", "reference": "r1"}, svTender(2000)))
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(13+10), l.Points, "10.49 by card earns 10; 20.00 of stored value nothing")

	// 1000 points reach SILVER at once; the review is a year on. Points
	// earned in SILVER are multiplied by 1.25.
	e.sell(t, e.cashier.Token, loyCash(store, mei, 97700))
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(1000), l.Points)
	require.Equal(t, "SILVER", l.Tier)
	require.WithinDuration(t, time.Now().AddDate(1, 0, 0), *l.TierReviewAt, time.Minute)
	require.Equal(t, "GOLD", *l.NextTier)
	require.Equal(t, int64(4000), *l.PointsToNextTier)
	e.sell(t, e.cashier.Token, loyCash(store, mei, 1000))
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(1000+13), l.Points, "10 × 1.25 = 12.5, to the nearest")
	require.Equal(t, int64(1013), l.LifetimePoints)
	requirePointsAdd(t, l)

	t.Run("the cashier sees the tier through lookupCustomer", func(t *testing.T) {
		var created struct {
			CreateCustomer struct{ Customer struct{ ID string } }
		}
		e.Exec(t, e.cashier.Token, `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`,
			map[string]any{"i": map[string]any{"name": "Jun", "phone": "+8613800138000"}}).Decode(t, &created)
		jun := created.CreateCustomer.Customer.ID
		e.sell(t, e.cashier.Token, loyCash(store, jun, 100000))
		var out struct {
			LookupCustomer struct {
				ID      string
				Loyalty loyStanding
			}
		}
		e.Exec(t, e.cashier.Token, `query($i: LookupCustomerInput!) { lookupCustomer(input: $i) { id loyalty { `+loyStandingFields+` } } }`,
			map[string]any{"i": map[string]any{"phone": "+8613800138000"}}).Decode(t, &out)
		require.Equal(t, jun, out.LookupCustomer.ID)
		require.Equal(t, "SILVER", out.LookupCustomer.Loyalty.Tier)
		require.Equal(t, int64(1000), out.LookupCustomer.Loyalty.Points)
	})

	t.Run("a customer list reads loyalty in a fixed number of queries", func(t *testing.T) {
		var page struct {
			Customers struct {
				Edges []struct {
					Node struct {
						Name    string
						Loyalty *struct{ Points int64 }
					}
				}
			}
		}
		e.Exec(t, e.cashier.Token, `{ customers(first: 10) { edges { node { name loyalty { points tier nextTier expiringSoon { points } } } } } }`, nil).Decode(t, &page)
		require.Len(t, page.Customers.Edges, 2)
		for _, edge := range page.Customers.Edges {
			require.NotNil(t, edge.Node.Loyalty, edge.Node.Name)
		}
	})
}

func TestLoyaltyRefundsReverseExactly(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	e.program(t, map[string]any{})
	mei := e.customer(t, e.cashier.Token, "Mei")
	store := e.owner.StoreID

	s := e.sell(t, e.cashier.Token, loyCash(store, mei, 2999))
	require.Equal(t, int64(29), e.points(t, e.cashier.Token, mei).Points)
	refund := func(amount int64) saleRefundResult {
		return e.refund(t, e.cashier.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "returned", "amount": amount})
	}

	// 10.00 of 29.99 back: ⌊29 × 1000 / 2999⌋ = 9.
	r1 := refund(1000)
	l := e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(20), l.Points)
	rev := l.entries()[0]
	require.Equal(t, "REVERSE", rev.Kind)
	require.Equal(t, int64(-9), rev.Points)
	require.Equal(t, r1.Refund.ID, *rev.RefundID)
	require.Equal(t, s.ID, *rev.SaleID)

	// 20.00 of it in all: ⌊29 × 2000 / 2999⌋ = 19, so 10 more.
	refund(1000)
	require.Equal(t, int64(10), e.points(t, e.cashier.Token, mei).Points)

	// The rest reverses the rest, exactly.
	refund(999)
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(0), l.Points)
	require.Equal(t, []string{"REVERSE", "REVERSE", "REVERSE", "EARN"}, l.kinds())
	require.Equal(t, int64(0), l.LifetimePoints)
	requirePointsAdd(t, l)

	t.Run("points already spent are reversed as far as the balance goes", func(t *testing.T) {
		s := e.sell(t, e.cashier.Token, loyCash(store, mei, 5000))
		e.adjust(t, mei, -45)
		e.refund(t, e.cashier.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "returned", "amount": 5000})
		l := e.points(t, e.cashier.Token, mei)
		require.Equal(t, int64(0), l.Points, "never below zero")
		rev := l.entries()[0]
		require.Equal(t, int64(-5), rev.Points)
		require.Equal(t, int64(-50), rev.QualifyingPoints, "the tier basis loses all 50")
		require.Contains(t, *rev.Reason, "5 of the 50 points")
		requirePointsAdd(t, l)
	})
}

func TestLoyaltyRewardsAtCheckout(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	e.program(t, map[string]any{"earningTenders": []string{}})
	mei := e.customer(t, e.cashier.Token, "Mei")
	store := e.owner.StoreID
	var product struct {
		CreateProduct struct{ Product struct{ ID string } }
	}
	e.Exec(t, e.owner.Token, saleProduct, map[string]any{"i": map[string]any{"sku": "LAT-1", "name": "Latte", "unitPrice": 1800}}).Decode(t, &product)
	latte := product.CreateProduct.Product.ID

	free := e.reward(t, map[string]any{"name": "Free latte", "kind": "FREE_PRODUCT", "productId": latte, "pointsCost": 100})
	fixed := e.reward(t, map[string]any{"name": "3 off", "kind": "FIXED_DISCOUNT", "amount": 300, "pointsCost": 30})
	pct := e.reward(t, map[string]any{"name": "10% off", "kind": "PERCENT_DISCOUNT", "percentBp": 1000, "maxDiscount": 200, "pointsCost": 20})
	gold := e.reward(t, map[string]any{"name": "Gold gift", "kind": "FIXED_DISCOUNT", "amount": 100, "pointsCost": 1, "minTier": "gold"})
	require.Equal(t, "GOLD", *gold.MinTier)
	e.adjust(t, mei, 300)

	sale := func(rewards ...string) map[string]any {
		return map[string]any{
			"idempotencyKey": saleKey(), "storeId": store, "customerId": mei, "rewards": rewards,
			"lines": []any{map[string]any{"productId": latte, "quantity": 2}, saleItem("Tea", 1, 1000, 0)},
		}
	}
	// Two lattes and a tea come to 46.00: both lattes free (the reward
	// listed twice), 3.00 off, and 10% of 46.00 capped at 2.00.
	in := sale(free.ID, free.ID, fixed.ID, pct.ID)
	in["tenders"] = []any{map[string]any{"type": "CASH", "amount": 500}}
	s := e.sell(t, e.cashier.Token, in)
	require.Equal(t, int64(4600), s.Subtotal)
	require.Equal(t, int64(500), s.Total)
	zero := 0
	want := []offerDiscount{
		{Kind: "REWARD", RefID: free.ID, Label: "Free latte", Line: &zero, Amount: 1800},
		{Kind: "REWARD", RefID: free.ID, Label: "Free latte", Line: &zero, Amount: 1800},
		{Kind: "REWARD", RefID: fixed.ID, Label: "3 off", Amount: 300},
		{Kind: "REWARD", RefID: pct.ID, Label: "10% off", Amount: 200},
	}
	require.Equal(t, want, s.Discounts)
	require.Len(t, s.Receipt.Discounts, 4)
	require.Contains(t, s.Receipt.Text, "Free latte")
	require.Contains(t, s.Receipt.Text, "-3.00")
	l := e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(300-250), l.Points)
	require.Equal(t, []string{"REDEEM", "REDEEM", "REDEEM", "REDEEM", "ADJUST"}, l.kinds())
	require.Equal(t, pct.ID, *l.entries()[0].RewardID)
	requirePointsAdd(t, l)

	count := func() int { return e.list(t, e.owner.Token, nil).TotalCount }
	before := count()
	refused := func(in map[string]any, field, want string) {
		t.Helper()
		in["tenders"] = []any{map[string]any{"type": "CASH", "amount": 4600}}
		err := saleWantErr(t, e.Exec(t, e.cashier.Token, loySale, map[string]any{"i": in}), "BAD_USER_INPUT", field)
		require.Contains(t, err.Message, want)
	}
	refused(sale(fixed.ID, fixed.ID), "rewards[1]", "need 60 points; the customer has 50")
	refused(sale(gold.ID), "rewards[0]", "GOLD members")
	anon := sale(fixed.ID)
	delete(anon, "customerId")
	refused(anon, "rewards", "needs its customer")
	require.Equal(t, int64(50), e.points(t, e.cashier.Token, mei).Points)
	e.adjust(t, mei, 300)
	refused(sale(free.ID, free.ID, free.ID), "rewards[2]", "no (more) units")
	require.Equal(t, before, count(), "nothing of a refused sale is written")
	require.Equal(t, int64(350), e.points(t, e.cashier.Token, mei).Points)

	var res struct{ UpdateLoyaltyReward struct{ Reward loyReward } }
	e.Exec(t, e.owner.Token, loyRewardUpdate, map[string]any{"i": map[string]any{"rewardId": fixed.ID, "active": false}}).Decode(t, &res)
	require.False(t, res.UpdateLoyaltyReward.Reward.Active)
	refused(sale(fixed.ID), "rewards[0]", "no longer offered")
	var list struct{ LoyaltyRewards []loyReward }
	e.Exec(t, e.cashier.Token, `{ loyaltyRewards(activeOnly: true) { id pointsCost } }`, nil).Decode(t, &list)
	require.Len(t, list.LoyaltyRewards, 3)
	require.Equal(t, int64(1), list.LoyaltyRewards[0].PointsCost, "cheapest first")
	saleWantErr(t, e.Exec(t, e.cashier.Token, loyRewardCreate, map[string]any{"i": map[string]any{"name": "x", "kind": "FIXED_DISCOUNT", "amount": 1, "pointsCost": 1}}), "FORBIDDEN", "")
	saleWantErr(t, e.Exec(t, e.owner.Token, loyRewardCreate, map[string]any{"i": map[string]any{"name": "x", "kind": "FIXED_DISCOUNT", "pointsCost": 1}}), "BAD_USER_INPUT", "amount")
	saleWantErr(t, e.Exec(t, e.owner.Token, loyRewardCreate, map[string]any{"i": map[string]any{"name": "x", "kind": "FIXED_DISCOUNT", "amount": 1, "pointsCost": 1, "minTier": "PLATINUM"}}), "BAD_USER_INPUT", "minTier")

	t.Run("a void gives the reward's points back", func(t *testing.T) {
		in := sale(pct.ID, free.ID)
		in["tenders"] = []any{map[string]any{"type": "CASH", "amount": 2600}}
		s := e.sell(t, e.cashier.Token, in)
		require.Equal(t, int64(2600), s.Total, "46.00 less 2.00 and 18.00")
		require.Equal(t, int64(350-120), e.points(t, e.cashier.Token, mei).Points)
		v := e.refund(t, e.cashier.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "mistake"})
		require.Equal(t, "VOIDED", v.Sale.Status)
		l := e.points(t, e.cashier.Token, mei)
		require.Equal(t, int64(350), l.Points, "both rewards' points are back")
		require.Equal(t, []string{"REVERSE", "REVERSE"}, l.kinds()[:2])
		require.NotNil(t, l.entries()[0].RedemptionID)
		require.Contains(t, *l.entries()[0].Reason, "VOIDED")
		requirePointsAdd(t, l)
	})

	t.Run("a refund of the rest gives them back too; a partial one does not", func(t *testing.T) {
		in := sale(pct.ID)
		in["tenders"] = []any{map[string]any{"type": "CASH", "amount": 4400}}
		s := e.sell(t, e.cashier.Token, in)
		require.Equal(t, int64(330), e.points(t, e.cashier.Token, mei).Points)
		e.refund(t, e.cashier.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "returned", "amount": 1000})
		require.Equal(t, int64(330), e.points(t, e.cashier.Token, mei).Points, "earning is off: nothing to reverse, and the reward stays redeemed")
		r := e.refund(t, e.cashier.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "returned", "amount": 3400})
		require.Equal(t, "REFUNDED", r.Sale.Status)
		l := e.points(t, e.cashier.Token, mei)
		require.Equal(t, int64(350), l.Points)
		require.Contains(t, *l.entries()[0].Reason, "REFUNDED")
		requirePointsAdd(t, l)
	})
}

func TestLoyaltyConcurrentRedemptionsNeverOverdraw(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	e.program(t, map[string]any{"earningTenders": []string{}})
	mei := e.customer(t, e.cashier.Token, "Mei")
	coffee := e.reward(t, map[string]any{"name": "1 off", "kind": "FIXED_DISCOUNT", "amount": 100, "pointsCost": 15})
	e.adjust(t, mei, 100)
	_, t1 := e.terminal(t, "SN-LOY-1", "")
	_, t2 := e.terminal(t, "SN-LOY-2", "")
	results := saleParallel(20, func(i int) *tilltest.Result {
		token := t1
		if i%2 == 1 {
			token = t2
		}
		in := svSale(e.owner.StoreID, mei, 1000, map[string]any{"type": "CASH", "amount": 900})
		in["rewards"] = []string{coffee.ID}
		return e.Exec(t, token, loySale, map[string]any{"i": in})
	})
	ok := 0
	for _, res := range results {
		if len(res.Errors) == 0 {
			ok++
			continue
		}
		require.Equal(t, "BAD_USER_INPUT", res.Errors[0].Extensions["code"], "%+v", res.Errors[0])
		require.Equal(t, "rewards[0]", res.Errors[0].Extensions["field"])
	}
	require.Equal(t, 100/15, ok, "exactly as many as the balance pays for")
	l := e.points(t, e.owner.Token, mei)
	require.Equal(t, int64(100-15*(100/15)), l.Points)
	requirePointsAdd(t, l)
}

func TestLoyaltyTender(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	e.program(t, map[string]any{})
	mei := e.customer(t, e.cashier.Token, "Mei")
	store := e.owner.StoreID
	e.adjust(t, mei, 100)
	loy := func(amount int64) map[string]any { return map[string]any{"type": "LOYALTY", "amount": amount} }
	cash := map[string]any{"type": "CASH", "amount": 1000}
	saleWantErr(t, e.Exec(t, e.cashier.Token, loySale, map[string]any{"i": svSale(store, mei, 1500, cash, loy(500))}), "BAD_USER_INPUT", "tenders[1].type")

	e.program(t, map[string]any{"pointValue": 10})
	saleWantErr(t, e.Exec(t, e.cashier.Token, loySale, map[string]any{"i": svSale(store, mei, 1505, cash, loy(505))}), "BAD_USER_INPUT", "tenders[1].amount")
	err := saleWantErr(t, e.Exec(t, e.cashier.Token, loySale, map[string]any{"i": svSale(store, mei, 3000, cash, loy(2000))}), "BAD_USER_INPUT", "tenders[1].amount")
	require.Contains(t, err.Message, "200 points; the customer has 100")
	require.Equal(t, int64(100), e.points(t, e.cashier.Token, mei).Points, "nothing written")

	// 5.00 in points is 50 of them; the 10.00 in cash earns 10.
	s := e.sell(t, e.cashier.Token, svSale(store, mei, 1500, cash, loy(500)))
	l := e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(100-50+10), l.Points)
	require.Equal(t, []string{"EARN", "REDEEM", "ADJUST"}, l.kinds())
	require.Equal(t, s.Tenders[1].ID, *l.entries()[1].TenderID)

	// Refunded in full: the LOYALTY tender's points come back, the earned
	// ones go.
	e.refund(t, e.cashier.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "returned", "amount": 1500})
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(100), l.Points)
	requirePointsAdd(t, l)
}

func TestLoyaltyAdjustPoints(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	mei := e.customer(t, e.cashier.Token, "Mei")
	in := map[string]any{"idempotencyKey": saleKey(), "customerId": mei, "points": 40, "reason": "  sorry for the wait  "}
	saleWantErr(t, e.Exec(t, e.owner.Token, loyAdjust, map[string]any{"i": in}), "BAD_USER_INPUT", "customerId")
	e.program(t, map[string]any{"expiryMonths": 6})
	saleWantErr(t, e.Exec(t, e.cashier.Token, loyAdjust, map[string]any{"i": in}), "FORBIDDEN", "")
	saleWantErr(t, e.Exec(t, e.manager.Token, loyAdjust, map[string]any{"i": saleWith(in, map[string]any{"reason": " "})}), "BAD_USER_INPUT", "reason")
	saleWantErr(t, e.Exec(t, e.manager.Token, loyAdjust, map[string]any{"i": saleWith(in, map[string]any{"points": 0})}), "BAD_USER_INPUT", "points")

	var out struct {
		AdjustPoints struct {
			Replayed bool
			Entry    loyEntry
			Loyalty  loyStanding
		}
	}
	e.Exec(t, e.manager.Token, loyAdjust, map[string]any{"i": in}).Decode(t, &out)
	require.False(t, out.AdjustPoints.Replayed)
	require.Equal(t, "ADJUST", out.AdjustPoints.Entry.Kind)
	require.Equal(t, "sorry for the wait", *out.AdjustPoints.Entry.Reason)
	require.WithinDuration(t, time.Now().AddDate(0, 6, 0), *out.AdjustPoints.Entry.ExpiresAt, time.Minute, "expires as points earned now do")
	require.Equal(t, int64(40), out.AdjustPoints.Loyalty.Points)
	require.Equal(t, int64(0), out.AdjustPoints.Loyalty.LifetimePoints, "adjustments do not count towards tiers")

	e.Exec(t, e.manager.Token, loyAdjust, map[string]any{"i": in}).Decode(t, &out)
	require.True(t, out.AdjustPoints.Replayed)
	require.Equal(t, int64(40), out.AdjustPoints.Loyalty.Points, "the retry added nothing")
	saleWantErr(t, e.Exec(t, e.manager.Token, loyAdjust, map[string]any{"i": saleWith(in, map[string]any{"points": 41})}), "IDEMPOTENCY_CONFLICT", "idempotencyKey")

	minus := map[string]any{"idempotencyKey": saleKey(), "customerId": mei, "points": -41, "reason": "typo"}
	err := saleWantErr(t, e.Exec(t, e.owner.Token, loyAdjust, map[string]any{"i": minus}), "BAD_USER_INPUT", "points")
	require.Contains(t, err.Message, "40 points")
	e.Exec(t, e.owner.Token, loyAdjust, map[string]any{"i": saleWith(minus, map[string]any{"points": -40})}).Decode(t, &out)
	require.Equal(t, int64(0), out.AdjustPoints.Loyalty.Points)

	var audit struct{ AuditEntries struct{ TotalCount int } }
	e.Exec(t, e.owner.Token, `{ auditEntries(where: {action: "loyalty.adjusted", targetID: "`+mei+`"}) { totalCount } }`, nil).Decode(t, &audit)
	require.Equal(t, 2, audit.AuditEntries.TotalCount)
}

func TestLoyaltyRedeemRewardIdempotent(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	e.program(t, map[string]any{})
	mei := e.customer(t, e.cashier.Token, "Mei")
	mug := e.reward(t, map[string]any{"name": "Mug", "kind": "FIXED_DISCOUNT", "amount": 100, "pointsCost": 60})
	e.adjust(t, mei, 100)
	in := map[string]any{"idempotencyKey": saleKey(), "customerId": mei, "rewardId": mug.ID, "storeId": e.owner.StoreID}
	type redeemed struct {
		RedeemReward struct {
			Replayed   bool
			Redemption struct {
				ID       string
				Points   int64
				SaleID   *string
				StaffID  string
				StoreID  string
				VoidedAt *time.Time
				Reward   struct{ ID string }
			}
			Loyalty loyStanding
		}
	}
	var first, again redeemed
	e.Exec(t, e.cashier.Token, loyRedeem, map[string]any{"i": in}).Decode(t, &first)
	require.False(t, first.RedeemReward.Replayed)
	require.Equal(t, int64(60), first.RedeemReward.Redemption.Points)
	require.Nil(t, first.RedeemReward.Redemption.SaleID)
	require.Equal(t, e.cashier.ID, first.RedeemReward.Redemption.StaffID)
	require.Equal(t, int64(40), first.RedeemReward.Loyalty.Points)

	e.Exec(t, e.cashier.Token, loyRedeem, map[string]any{"i": in}).Decode(t, &again)
	require.True(t, again.RedeemReward.Replayed)
	require.Equal(t, first.RedeemReward.Redemption.ID, again.RedeemReward.Redemption.ID)
	require.Equal(t, int64(40), again.RedeemReward.Loyalty.Points, "debited once")
	other := e.reward(t, map[string]any{"name": "Pen", "kind": "FIXED_DISCOUNT", "amount": 100, "pointsCost": 1})
	saleWantErr(t, e.Exec(t, e.cashier.Token, loyRedeem, map[string]any{"i": saleWith(in, map[string]any{"rewardId": other.ID})}), "IDEMPOTENCY_CONFLICT", "idempotencyKey")

	err := saleWantErr(t, e.Exec(t, e.cashier.Token, loyRedeem, map[string]any{"i": saleWith(in, map[string]any{"idempotencyKey": saleKey()})}), "BAD_USER_INPUT", "rewardId")
	require.Contains(t, err.Message, "needs 60 points; the customer has 40")
	elsewhere := e.store(t, e.owner.Token, "Harbour")
	saleWantErr(t, e.Exec(t, e.cashier.Token, loyRedeem, map[string]any{"i": saleWith(in, map[string]any{"idempotencyKey": saleKey(), "rewardId": other.ID, "storeId": elsewhere})}), "FORBIDDEN", "storeId")

	t.Run("another merchant can neither read nor redeem", func(t *testing.T) {
		rival := newSaleEnv(t)
		theirStore := rival.owner.StoreID
		res := rival.Exec(t, rival.owner.Token, loyCustomer, map[string]any{"id": mei})
		saleWantErr(t, res, "NOT_FOUND", "")
		res = rival.Exec(t, rival.owner.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": mug.ID})
		saleWantErr(t, res, "NOT_FOUND", "")
		saleWantErr(t, rival.Exec(t, rival.owner.Token, loyRedeem, map[string]any{"i": saleWith(in, map[string]any{"idempotencyKey": saleKey(), "storeId": theirStore})}),
			"NOT_FOUND", "customerId")
		theirs := rival.customer(t, rival.owner.Token, "Jun")
		rival.Exec(t, rival.owner.Token, loyUpdate, map[string]any{"i": map[string]any{}}).Decode(t, &struct{}{})
		saleWantErr(t, rival.Exec(t, rival.owner.Token, loyRedeem, map[string]any{"i": map[string]any{
			"idempotencyKey": saleKey(), "customerId": theirs, "rewardId": mug.ID, "storeId": theirStore,
		}}), "NOT_FOUND", "rewardId")
		var list struct{ LoyaltyRewards []loyReward }
		rival.Exec(t, rival.owner.Token, `{ loyaltyRewards { id } }`, nil).Decode(t, &list)
		require.Empty(t, list.LoyaltyRewards)
		require.Equal(t, int64(40), e.points(t, e.owner.Token, mei).Points)
	})
}

func TestLoyaltyExpiryFIFO(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	e.clock.move(-25 * 24 * time.Hour)
	e.program(t, map[string]any{"expiryMonths": 1})
	e.clock.move(25 * 24 * time.Hour)
	mei := e.customer(t, e.cashier.Token, "Mei")
	store := e.owner.StoreID
	coffee := e.reward(t, map[string]any{"name": "Coffee", "kind": "FIXED_DISCOUNT", "amount": 100, "pointsCost": 30})

	// An older lot of 50 (an offline sale of 20 days ago), a redemption of
	// 30, then a newer lot of 40.
	old := loyCash(store, mei, 5000)
	old["occurredAt"] = time.Now().Add(-20 * 24 * time.Hour).UTC().Format(time.RFC3339)
	e.sell(t, e.cashier.Token, old)
	var out struct{ RedeemReward struct{ Replayed bool } }
	e.Exec(t, e.cashier.Token, loyRedeem, map[string]any{"i": map[string]any{
		"idempotencyKey": saleKey(), "customerId": mei, "rewardId": coffee.ID, "storeId": store,
	}}).Decode(t, &out)
	e.sell(t, e.cashier.Token, loyCash(store, mei, 4000))
	l := e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(60), l.Points)
	require.Len(t, l.ExpiringSoon, 1, "the older lot expires within 30 days")
	require.Equal(t, int64(20), l.ExpiringSoon[0].Points, "the redemption took from the older lot first")

	// Past the older lot's expiry: two replicas run the job at once.
	e.clock.move(15 * 24 * time.Hour)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		svc := loyalty.New(e.DB.Client, loyalty.WithClock(e.clock.now))
		wg.Go(func() { errs[i] = svc.Expire(context.WithoutCancel(t.Context())) })
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.NoError(t, loyalty.New(e.DB.Client, loyalty.WithClock(e.clock.now)).Expire(t.Context()), "and once more")
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(40), l.Points)
	expired := 0
	for _, en := range l.entries() {
		if en.Kind == "EXPIRE" {
			expired++
			require.Equal(t, int64(-20), en.Points)
		}
	}
	require.Equal(t, 1, expired, "one EXPIRE for the lot, however many runs")
	requirePointsAdd(t, l)

	// The job is wired as "loyalty-expiry" and claimed once per hour.
	ran := e.RunDueJobs(t.Context(), time.Now())
	require.Contains(t, ran, "loyalty-expiry")
	require.NotContains(t, e.RunDueJobs(t.Context(), time.Now()), "loyalty-expiry")

	// Past the newer lot's too.
	e.clock.move(30 * 24 * time.Hour)
	require.NoError(t, loyalty.New(e.DB.Client, loyalty.WithClock(e.clock.now)).Expire(t.Context()))
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(0), l.Points)
	require.Equal(t, "EXPIRE", l.kinds()[0])
	requirePointsAdd(t, l)
}

// Points whose time has come are gone at once, before the expiry job
// reaches them: the customer's standing leaves them out, and the next
// write to the account expires them first, so they cannot be spent.
func TestLoyaltyExpiredPointsCannotBeSpentBeforeTheJob(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	e.clock.move(-25 * 24 * time.Hour)
	e.program(t, map[string]any{"expiryMonths": 1})
	e.clock.move(25 * 24 * time.Hour)
	mei := e.customer(t, e.cashier.Token, "Mei")
	store := e.owner.StoreID
	big := e.reward(t, map[string]any{"name": "Teapot", "kind": "FIXED_DISCOUNT", "amount": 1000, "pointsCost": 60})
	small := e.reward(t, map[string]any{"name": "Coffee", "kind": "FIXED_DISCOUNT", "amount": 100, "pointsCost": 30})

	old := loyCash(store, mei, 5000) // 50 points, expiring in about 10 days
	old["occurredAt"] = time.Now().Add(-20 * 24 * time.Hour).UTC().Format(time.RFC3339)
	e.sell(t, e.cashier.Token, old)
	e.sell(t, e.cashier.Token, loyCash(store, mei, 4000)) // 40 points, expiring in a month
	require.Equal(t, int64(90), e.points(t, e.cashier.Token, mei).Points)

	e.clock.move(15 * 24 * time.Hour) // past the older lot's expiry; the job has not run
	l := e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(40), l.Points, "expired points are not shown")
	require.Len(t, l.ExpiringSoon, 1)
	require.Equal(t, int64(40), l.ExpiringSoon[0].Points, "only the newer lot is still to expire")

	redeem := func(reward string) *tilltest.Result {
		return e.Exec(t, e.cashier.Token, loyRedeem, map[string]any{"i": map[string]any{
			"idempotencyKey": saleKey(), "customerId": mei, "rewardId": reward, "storeId": store,
		}})
	}
	err := saleWantErr(t, redeem(big.ID), "BAD_USER_INPUT", "rewardId")
	require.Contains(t, err.Message, "the customer has 40")
	redeem(small.ID).Decode(t, &struct{}{})
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(10), l.Points)
	require.Equal(t, []string{"REDEEM", "EXPIRE", "EARN", "EARN"}, l.kinds(), "the redemption expired the due lot first")
	requirePointsAdd(t, l)

	require.NoError(t, loyalty.New(e.DB.Client, loyalty.WithClock(e.clock.now)).Expire(t.Context()))
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(10), l.Points, "the job finds nothing left to expire")
	require.Len(t, l.kinds(), 4)
}

func TestLoyaltyTiersUpAtOnceDownAtReview(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	e.program(t, map[string]any{"tierBasis": "SPEND", "tiers": []any{
		map[string]any{"name": "member", "threshold": 0, "multiplierBp": 10000},
		map[string]any{"name": "gold", "threshold": 50000, "multiplierBp": 20000},
	}})
	mei := e.customer(t, e.cashier.Token, "Mei")
	store := e.owner.StoreID
	e.sell(t, e.cashier.Token, loyCash(store, mei, 30000))
	l := e.points(t, e.cashier.Token, mei)
	require.Equal(t, "MEMBER", l.Tier)
	require.Equal(t, int64(20000), *l.PointsToNextTier, "for a SPEND basis, the spend still needed")
	e.sell(t, e.cashier.Token, loyCash(store, mei, 20000))
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, "GOLD", l.Tier, "up at once")
	require.Nil(t, l.NextTier)
	require.WithinDuration(t, time.Now().AddDate(1, 0, 0), *l.TierReviewAt, time.Minute)
	e.sell(t, e.cashier.Token, loyCash(store, mei, 1000))
	require.Equal(t, int64(300+200+20), e.points(t, e.cashier.Token, mei).Points, "×2 in GOLD")

	// A review before its date changes nothing; at it, a year without
	// spending takes the tier down.
	svc := loyalty.New(e.DB.Client, loyalty.WithClock(e.clock.now))
	require.NoError(t, svc.ReviewTiers(t.Context()))
	require.Equal(t, "GOLD", e.points(t, e.cashier.Token, mei).Tier)
	e.clock.move(366 * 24 * time.Hour)
	require.NoError(t, svc.ReviewTiers(t.Context()))
	require.NoError(t, svc.ReviewTiers(t.Context()))
	l = e.points(t, e.cashier.Token, mei)
	require.Equal(t, "MEMBER", l.Tier)
	require.Nil(t, l.TierReviewAt)
	require.Equal(t, int64(520), l.Points, "points stay; only the tier moves")
	require.Contains(t, e.RunDueJobs(t.Context(), time.Now()), "loyalty-tiers")
}

func TestLoyaltyMergeAndExport(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	e.program(t, map[string]any{})
	mei := e.customer(t, e.cashier.Token, "Mei")
	dup := e.customer(t, e.cashier.Token, "Mei L")
	e.sell(t, e.cashier.Token, loyCash(e.owner.StoreID, mei, 1000))
	e.sell(t, e.cashier.Token, loyCash(e.owner.StoreID, dup, 100000))
	e.Exec(t, e.owner.Token, `mutation($i: MergeCustomersInput!) { mergeCustomers(input: $i) { customer { id } } }`,
		map[string]any{"i": map[string]any{"survivorId": mei, "duplicateId": dup}}).Decode(t, &struct{}{})
	l := e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(1010), l.Points)
	require.Equal(t, "SILVER", l.Tier, "the higher tier")
	require.Equal(t, 2, l.Entries.TotalCount)
	requirePointsAdd(t, l)

	var out struct {
		ExportCustomerData struct{ Data map[string]json.RawMessage }
	}
	e.Exec(t, e.owner.Token, `mutation($i: CustomerIdInput!) { exportCustomerData(input: $i) { customerId data } }`,
		map[string]any{"i": map[string]any{"customerId": mei}}).Decode(t, &out)
	var exported struct {
		Points  int64
		Tier    string
		Entries []struct {
			Kind   string
			Points int64
		}
	}
	require.NoError(t, json.Unmarshal(out.ExportCustomerData.Data["loyalty"], &exported))
	require.Equal(t, int64(1010), exported.Points)
	require.Equal(t, "SILVER", exported.Tier)
	require.Len(t, exported.Entries, 2)
}

func TestLoyaltyCustomerListQueryCount(t *testing.T) {
	t.Parallel()
	count := new(statements)
	env := tilltest.New(t, nil, server.WithDBOptions(db.WithDriver(count.wrap)))
	owner := env.SignUp(t, "Lotus Tea")
	e := &loyEnv{saleEnv: &saleEnv{Env: env, owner: owner, cashier: env.AddStaff(t, owner, "CASHIER")}, clock: &loyClock{}}
	e.program(t, map[string]any{"expiryMonths": 1})
	for i := range 10 {
		c := e.customer(t, e.cashier.Token, fmt.Sprintf("C%d", i))
		e.sell(t, e.cashier.Token, loyCash(owner.StoreID, c, int64(1000*(i+1))))
	}
	const page = `query($n: Int) { customers(first: $n) { edges { node { id loyalty { points tier nextTier pointsToNextTier
		expiringSoon { points at } lifetimePoints } } } } }`
	list := func(n int) int64 {
		return count.during(func() {
			var out struct {
				Customers struct {
					Edges []struct {
						Node struct{ Loyalty *struct{ Points int64 } }
					}
				}
			}
			e.Exec(t, e.cashier.Token, page, map[string]any{"n": n}).Decode(t, &out)
			require.Len(t, out.Customers.Edges, n)
			require.NotNil(t, out.Customers.Edges[n-1].Node.Loyalty)
			require.Positive(t, out.Customers.Edges[n-1].Node.Loyalty.Points)
		})
	}
	require.Equal(t, list(1), list(10), "a page of 10 customers with their loyalty takes as many statements as a page of 1")
}

func TestLoyaltyExchange(t *testing.T) {
	t.Parallel()
	e := newLoyEnv(t)
	e.program(t, map[string]any{})
	mei := e.customer(t, e.cashier.Token, "Mei")
	in := svSale(e.owner.StoreID, mei, 1000, map[string]any{"type": "CASH", "amount": 2000})
	in["lines"] = []any{saleItem("Tea", 2, 1000, 0)}
	s := e.sell(t, e.cashier.Token, in)
	require.Equal(t, int64(20), e.points(t, e.cashier.Token, mei).Points)

	// One tea back for a cake of 15.00: the returned half reverses 10, and
	// the new sale earns on the 5.00 paid on top, not on the credit.
	var out struct {
		ExchangeSale struct {
			Sale struct{ ID string }
		}
	}
	e.Exec(t, e.cashier.Token, `mutation($i: ExchangeSaleInput!) { exchangeSale(input: $i) { sale { id } } }`, map[string]any{"i": map[string]any{
		"idempotencyKey": saleKey(), "saleId": s.ID, "reason": "wrong flavour",
		"returnLines": []any{map[string]any{"saleLineId": s.Lines[0].ID, "quantity": 1}},
		"newLines":    []any{saleItem("Cake", 1, 1500, 0)},
		"tenders":     []any{map[string]any{"type": "CASH", "amount": 500}},
	}}).Decode(t, &out)
	l := e.points(t, e.cashier.Token, mei)
	require.Equal(t, int64(20-10+5), l.Points)
	require.Equal(t, []string{"REVERSE", "EARN", "EARN"}, l.kinds(), "the new sale is written before the return")
	require.Equal(t, s.ID, *l.entries()[0].SaleID)
	require.Equal(t, out.ExchangeSale.Sale.ID, *l.entries()[1].SaleID)
	requirePointsAdd(t, l)
}
