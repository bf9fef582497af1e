package server_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent/auditentry"
	"github.com/tillpos/till/internal/tilltest"
)

// Offers through the API: what a manager sets up and what a cashier
// applies at checkout, with the limits, windows, targets and stacking the
// merchant chose.

const (
	offerFields = `id name description kind percentBp maxDiscount amount minSpend target segment savedSegmentID storeID
		validFrom validUntil perCustomerLimit usageLimit redemptionCount stacking code status endedAt createdByID`

	offerCreate = `mutation($i: CreateOfferInput!) { createOffer(input: $i) { offer { ` + offerFields + ` } } }`
	offerUpdate = `mutation($i: UpdateOfferInput!) { updateOffer(input: $i) { offer { ` + offerFields + ` } } }`
	offerEnd    = `mutation($i: OfferIdInput!) { endOffer(input: $i) { offer { ` + offerFields + ` } } }`
	offerSale   = `mutation($i: RecordSaleInput!) { recordSale(input: $i) { sale { id total subtotal discountTotal taxTotal
		discounts { kind refId label line amount } receipt { discounts { kind refId label amount } text(width: 32) } } } }`
	offerUses = `query($id: ID!) { node(id: $id) { ... on Offer { redemptionCount
		redemptions(first: 50, orderBy: [{field: AT}]) { totalCount edges { node { customerID saleID amount at voidedAt offer { id } } } } } } }`
	offerForCustomer = `query($id: ID!, $store: ID) { node(id: $id) { ... on Customer {
		offers(storeId: $store, first: 50) { totalCount edges { node { id name } } } } } }`
)

type offerOffer struct {
	ID               string
	Name             string
	Description      *string
	Kind             string
	PercentBp        *int
	MaxDiscount      *int64
	Amount           *int64
	MinSpend         *int64
	Target           string
	Segment          *string
	SavedSegmentID   *string
	StoreID          *string
	ValidFrom        time.Time
	ValidUntil       *time.Time
	PerCustomerLimit *int
	UsageLimit       *int
	RedemptionCount  int
	Stacking         string
	Code             *string
	Status           string
	EndedAt          *time.Time
	CreatedByID      string
}

type offerDiscount struct {
	Kind   string
	RefID  string
	Label  string
	Line   *int
	Amount int64
}

type offerSold struct {
	ID            string
	Total         int64
	Subtotal      int64
	DiscountTotal int64
	TaxTotal      int64
	Discounts     []offerDiscount
	Receipt       struct {
		Discounts []offerDiscount
		Text      string
	}
}

// offerMake creates an offer as the holder of token, failing t on error.
func (e *saleEnv) offerMake(t *testing.T, token string, in map[string]any) offerOffer {
	t.Helper()
	var out struct{ CreateOffer struct{ Offer offerOffer } }
	e.Exec(t, token, offerCreate, map[string]any{"i": in}).Decode(t, &out)
	return out.CreateOffer.Offer
}

// offerPercent is a PERCENT offer's input, for everyone at every store.
func offerPercent(name string, bp int) map[string]any {
	return map[string]any{"name": name, "kind": "PERCENT", "percentBp": bp}
}

// offerFixed is a FIXED offer's input, for everyone at every store.
func offerFixed(name string, amount int64) map[string]any {
	return map[string]any{"name": name, "kind": "FIXED", "amount": amount}
}

// offerSaleOf is a sale at store of one untaxed item at price, for customer
// (none when ""), asking for offers and paid total in cash.
func offerSaleOf(store, customer string, price, total int64, offers ...string) map[string]any {
	in := map[string]any{
		"idempotencyKey": saleKey(), "storeId": store,
		"lines":   []any{saleItem("Tea", 1, price, 0)},
		"tenders": []any{map[string]any{"type": "CASH", "amount": total}},
		"offers":  offers,
	}
	if customer != "" {
		in["customerId"] = customer
	}
	return in
}

// offerSell records in as the holder of token, failing t on error.
func (e *saleEnv) offerSell(t *testing.T, token string, in map[string]any) offerSold {
	t.Helper()
	var out struct{ RecordSale struct{ Sale offerSold } }
	e.Exec(t, token, offerSale, map[string]any{"i": in}).Decode(t, &out)
	return out.RecordSale.Sale
}

// offerRefused records in as the holder of token and checks that it fails
// with code on field, the message containing want; nothing is sold.
func (e *saleEnv) offerRefused(t *testing.T, token string, in map[string]any, code, field, want string) {
	t.Helper()
	err := saleWantErr(t, e.Exec(t, token, offerSale, map[string]any{"i": in}), code, field)
	require.Contains(t, err.Message, want)
}

type offerUse struct {
	CustomerID *string
	SaleID     string
	Amount     int64
	At         time.Time
	VoidedAt   *time.Time
	Offer      struct{ ID string }
}

// offerUsesOf reads an offer's redemption count and redemptions, oldest
// first.
func (e *saleEnv) offerUsesOf(t *testing.T, token, id string) (int, []offerUse) {
	t.Helper()
	var out struct {
		Node struct {
			RedemptionCount int
			Redemptions     struct {
				TotalCount int
				Edges      []struct{ Node offerUse }
			}
		}
	}
	e.Exec(t, token, offerUses, map[string]any{"id": id}).Decode(t, &out)
	uses := []offerUse{}
	for _, edge := range out.Node.Redemptions.Edges {
		uses = append(uses, edge.Node)
	}
	require.Equal(t, len(uses), out.Node.Redemptions.TotalCount)
	return out.Node.RedemptionCount, uses
}

// offersFor lists the names of the offers a cashier can apply to a
// customer now, at store (every store when "").
func (e *saleEnv) offersFor(t *testing.T, customer, store string) []string {
	t.Helper()
	vars := map[string]any{"id": customer}
	if store != "" {
		vars["store"] = store
	}
	var out struct {
		Node struct {
			Offers struct {
				TotalCount int
				Edges      []struct{ Node struct{ ID, Name string } }
			}
		}
	}
	e.Exec(t, e.cashier.Token, offerForCustomer, vars).Decode(t, &out)
	names := []string{}
	for _, edge := range out.Node.Offers.Edges {
		names = append(names, edge.Node.Name)
	}
	require.Equal(t, len(names), out.Node.Offers.TotalCount)
	return names
}

// offerCustomer registers a customer with tags and returns its ID.
func (e *saleEnv) offerCustomer(t *testing.T, name string, tags ...string) string {
	t.Helper()
	var out struct {
		CreateCustomer struct{ Customer struct{ ID string } }
	}
	e.Exec(t, e.cashier.Token, `mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } } }`,
		map[string]any{"i": map[string]any{"name": name, "tags": tags}}).Decode(t, &out)
	return out.CreateCustomer.Customer.ID
}

// offerAudited counts the merchant's audit entries of action about target.
func (e *saleEnv) offerAudited(t *testing.T, action, target string) int {
	t.Helper()
	n, err := e.DB.Client.AuditEntry.Query().
		Where(auditentry.Action(action), auditentry.TargetID(target)).
		Count(viewer.NewSystemContext(t.Context(), "offers-test"))
	require.NoError(t, err)
	return n
}

func TestOfferPercentFixedAndReceipt(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store := e.owner.StoreID
	spring := e.offerMake(t, e.manager.Token, saleWith(offerPercent("Spring 20%", 2000), map[string]any{"maxDiscount": 500, "description": "20% off, at most 5.00"}))
	require.Equal(t, "PERCENT", spring.Kind)
	require.Equal(t, "EVERYONE", spring.Target)
	require.Equal(t, "STACKABLE", spring.Stacking)
	require.Equal(t, "ACTIVE", spring.Status)
	require.Equal(t, e.manager.ID, spring.CreatedByID)
	require.WithinDuration(t, time.Now(), spring.ValidFrom, time.Minute, "valid from now by default")
	require.Nil(t, spring.ValidUntil, "open-ended")

	// 20% of 18.00 is 3.60, under the cap; the receipt prints the offer.
	s := e.offerSell(t, e.cashier.Token, offerSaleOf(store, "", 1800, 1440, spring.ID))
	require.Equal(t, int64(1440), s.Total)
	require.Equal(t, int64(360), s.DiscountTotal)
	want := []offerDiscount{{Kind: "OFFER", RefID: spring.ID, Label: "Spring 20%", Amount: 360}}
	require.Equal(t, want, s.Discounts, "a whole-order discount (no line)")
	require.Equal(t, want, s.Receipt.Discounts)
	require.Contains(t, s.Receipt.Text, "  Spring 20%")
	require.Contains(t, s.Receipt.Text, "-3.60")

	// 20% of 50.00 is 10.00, capped at 5.00.
	s = e.offerSell(t, e.cashier.Token, offerSaleOf(store, "", 5000, 4500, spring.ID))
	require.Equal(t, int64(500), s.Discounts[0].Amount)

	// A percentage rounds down: 15% of 9.99 is 1.4985.
	odd := e.offerMake(t, e.owner.Token, offerPercent("Fifteen", 1500))
	s = e.offerSell(t, e.cashier.Token, offerSaleOf(store, "", 999, 850, odd.ID))
	require.Equal(t, int64(149), s.Discounts[0].Amount)

	// A fixed amount; the tax follows the discounted price (10% inside).
	fixed := e.offerMake(t, e.owner.Token, saleWith(offerFixed("3 off", 300), map[string]any{"minSpend": 1000}))
	in := offerSaleOf(store, "", 1100, 800, fixed.ID)
	in["lines"] = []any{saleItem("Cake", 1, 1100, 1000)}
	s = e.offerSell(t, e.cashier.Token, in)
	require.Equal(t, int64(800), s.Total)
	require.Equal(t, int64(73), s.TaxTotal, "800 with 10% inside carries 72.7")

	// Under the minimum spend.
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, "", 999, 699, fixed.ID), "BAD_USER_INPUT", "offers[0]", "at least 1000")
	s = e.offerSell(t, e.cashier.Token, offerSaleOf(store, "", 1000, 700, fixed.ID))
	require.Equal(t, int64(700), s.Total)

	// The terminal's total must agree with the server's.
	e.offerRefused(t, e.cashier.Token, saleWith(offerSaleOf(store, "", 1000, 700, fixed.ID), map[string]any{"expectedTotal": 1000}),
		"BAD_USER_INPUT", "expectedTotal", "700")

	count, uses := e.offerUsesOf(t, e.cashier.Token, spring.ID)
	require.Equal(t, 2, count)
	require.Len(t, uses, 2)
	require.Equal(t, int64(360), uses[0].Amount)
	require.Nil(t, uses[0].CustomerID, "an anonymous sale")
	require.Equal(t, spring.ID, uses[0].Offer.ID)
}

func TestOfferTargetsSegmentsAndSavedSegments(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store := e.owner.StoreID
	// Three visits five months ago make a customer AT_RISK under the
	// default thresholds; a customer without visits is NEW.
	atRisk := e.offerCustomer(t, "At Risk An")
	visits(t, e.Env, e.owner, atRisk, []int64{1000, 1000, 1000}, time.Now().Add(-150*24*time.Hour))
	vip := e.offerCustomer(t, "Vip Wang", "vip")
	plain := e.offerCustomer(t, "Plain Zhou")

	var seg struct {
		CreateSavedSegment struct{ SavedSegment struct{ ID string } }
	}
	e.Exec(t, e.manager.Token, `mutation($i: CreateSavedSegmentInput!) { createSavedSegment(input: $i) { savedSegment { id } } }`,
		map[string]any{"i": map[string]any{"name": "VIPs", "anyTags": []string{"vip"}}}).Decode(t, &seg)
	savedID := seg.CreateSavedSegment.SavedSegment.ID

	winBack := e.offerMake(t, e.manager.Token, saleWith(offerPercent("Come back 20%", 2000), map[string]any{
		"segment": "AT_RISK", "validDays": 14, "perCustomerLimit": 1,
	}))
	require.Equal(t, "SEGMENT", winBack.Target)
	require.Equal(t, "AT_RISK", *winBack.Segment)
	require.Equal(t, 14*24*time.Hour, winBack.ValidUntil.Sub(winBack.ValidFrom), "valid 14 days")
	vips := e.offerMake(t, e.manager.Token, saleWith(offerFixed("VIP 5 off", 500), map[string]any{"savedSegmentId": savedID}))
	require.Equal(t, "SAVED_SEGMENT", vips.Target)
	require.Equal(t, savedID, *vips.SavedSegmentID)
	everyone := e.offerMake(t, e.manager.Token, offerFixed("Everyone 1 off", 100))

	// What the tablet shows each customer, newest first.
	require.Equal(t, []string{"Everyone 1 off", "Come back 20%"}, e.offersFor(t, atRisk, store))
	require.Equal(t, []string{"Everyone 1 off", "VIP 5 off"}, e.offersFor(t, vip, store))
	require.Equal(t, []string{"Everyone 1 off"}, e.offersFor(t, plain, store))

	// The segment is the customer's when the offer is applied.
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, plain, 1000, 800, winBack.ID), "BAD_USER_INPUT", "offers[0]", "AT_RISK customers only")
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, "", 1000, 800, winBack.ID), "BAD_USER_INPUT", "offers[0]", "needs its customer")
	s := e.offerSell(t, e.cashier.Token, offerSaleOf(store, atRisk, 1000, 800, winBack.ID))
	require.Equal(t, int64(200), s.DiscountTotal)
	// Once per customer, and that visit made them no longer AT_RISK.
	require.Equal(t, []string{"Everyone 1 off"}, e.offersFor(t, atRisk, store))

	// A saved segment's membership is evaluated when the offer is applied.
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, plain, 1000, 500, vips.ID), "BAD_USER_INPUT", "offers[0]", `"VIPs"`)
	e.offerSell(t, e.cashier.Token, offerSaleOf(store, vip, 1000, 500, vips.ID))
	e.Exec(t, e.cashier.Token, `mutation($i: UpdateCustomerInput!) { updateCustomer(input: $i) { customer { id } } }`,
		map[string]any{"i": map[string]any{"customerId": plain, "tags": []string{"vip"}}}).Decode(t, &struct{}{})
	require.Equal(t, []string{"Everyone 1 off", "VIP 5 off"}, e.offersFor(t, plain, store))
	e.offerSell(t, e.cashier.Token, offerSaleOf(store, plain, 1000, 400, vips.ID, everyone.ID))

	// Deleting the saved segment leaves its offer applying to no one.
	e.Exec(t, e.manager.Token, `mutation($i: SavedSegmentIdInput!) { deleteSavedSegment(input: $i) { deletedId } }`,
		map[string]any{"i": map[string]any{"savedSegmentId": savedID}}).Decode(t, &struct{}{})
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, vip, 1000, 500, vips.ID), "BAD_USER_INPUT", "offers[0]", "no longer exists")
	require.Equal(t, []string{"Everyone 1 off"}, e.offersFor(t, vip, store))
}

func TestOfferWindowAndStore(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store1, store2 := e.owner.StoreID, e.store(t, e.owner.Token, "Second Street")
	now := time.Now().UTC()
	customer := e.offerCustomer(t, "Window Wu")

	soon := e.offerMake(t, e.owner.Token, saleWith(offerFixed("Starts soon", 100), map[string]any{"validFrom": now.Add(time.Hour)}))
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store1, customer, 1000, 900, soon.ID), "BAD_USER_INPUT", "offers[0]", "starts at")

	ending := e.offerMake(t, e.owner.Token, saleWith(offerFixed("Ends soon", 100), map[string]any{"validUntil": now.Add(2 * time.Minute)}))
	// A terminal's clock a few minutes ahead puts the sale after the end.
	e.offerRefused(t, e.cashier.Token, saleWith(offerSaleOf(store1, customer, 1000, 900, ending.ID), map[string]any{"occurredAt": now.Add(5 * time.Minute)}),
		"BAD_USER_INPUT", "offers[0]", "ended at")
	e.offerSell(t, e.cashier.Token, offerSaleOf(store1, customer, 1000, 900, ending.ID))

	// An offline sale is judged by when it happened.
	fresh := e.offerMake(t, e.owner.Token, offerFixed("New today", 100))
	e.offerRefused(t, e.cashier.Token, saleWith(offerSaleOf(store1, customer, 1000, 900, fresh.ID), map[string]any{"occurredAt": now.Add(-time.Hour)}),
		"BAD_USER_INPUT", "offers[0]", "starts at")

	second := e.offerMake(t, e.owner.Token, saleWith(offerFixed("Second Street only", 100), map[string]any{"storeId": store2}))
	require.Equal(t, store2, *second.StoreID)
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store1, customer, 1000, 900, second.ID), "BAD_USER_INPUT", "offers[0]", "not valid at this store")
	e.offerSell(t, e.owner.Token, offerSaleOf(store2, customer, 1000, 900, second.ID))

	require.Equal(t, []string{"New today", "Ends soon"}, e.offersFor(t, customer, store1))
	require.Equal(t, []string{"Second Street only", "New today", "Ends soon"}, e.offersFor(t, customer, store2))
	require.Equal(t, []string{"Second Street only", "New today", "Ends soon"}, e.offersFor(t, customer, ""))

	// Windows that make no sense are refused.
	for _, tc := range []struct {
		in    map[string]any
		field string
	}{
		{map[string]any{"validUntil": now.Add(-time.Minute)}, "validUntil"},
		{map[string]any{"validFrom": now.Add(48 * time.Hour), "validUntil": now.Add(24 * time.Hour)}, "validUntil"},
		{map[string]any{"validUntil": now.Add(time.Hour), "validDays": 3}, "validUntil"},
		{map[string]any{"validDays": 0}, "validDays"},
	} {
		saleWantErr(t, e.Exec(t, e.owner.Token, offerCreate, map[string]any{"i": saleWith(offerFixed("Bad window", 100), tc.in)}), "BAD_USER_INPUT", tc.field)
	}
}

func TestOfferPerCustomerLimitAndMerge(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store := e.owner.StoreID
	once := e.offerMake(t, e.owner.Token, saleWith(offerFixed("Once each", 100), map[string]any{"perCustomerLimit": 1}))
	li, wu := e.offerCustomer(t, "Li"), e.offerCustomer(t, "Wu")

	e.offerSell(t, e.cashier.Token, offerSaleOf(store, li, 1000, 900, once.ID))
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, li, 1000, 900, once.ID), "BAD_USER_INPUT", "offers[0]", "as often as it may (1)")
	require.Empty(t, e.offersFor(t, li, store), "used up for Li")
	require.Equal(t, []string{"Once each"}, e.offersFor(t, wu, store))
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, "", 1000, 900, once.ID), "BAD_USER_INPUT", "offers[0]", "limited per customer")

	// Wu turns out to be a duplicate of Wu Second, who never used it: once
	// merged, the survivor has used it.
	survivor := e.offerCustomer(t, "Wu Second")
	e.offerSell(t, e.cashier.Token, offerSaleOf(store, wu, 1000, 900, once.ID))
	e.Exec(t, e.manager.Token, `mutation($i: MergeCustomersInput!) { mergeCustomers(input: $i) { customer { id } } }`,
		map[string]any{"i": map[string]any{"survivorId": survivor, "duplicateId": wu}}).Decode(t, &struct{}{})
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, survivor, 1000, 900, once.ID), "BAD_USER_INPUT", "offers[0]", "as often as it may")
	_, uses := e.offerUsesOf(t, e.owner.Token, once.ID)
	require.Len(t, uses, 2)
	require.Equal(t, survivor, *uses[1].CustomerID, "the duplicate's use moved to the survivor")

	var export struct {
		ExportCustomerData struct{ Data map[string]json.RawMessage }
	}
	e.Exec(t, e.owner.Token, `mutation($i: CustomerIdInput!) { exportCustomerData(input: $i) { data } }`,
		map[string]any{"i": map[string]any{"customerId": survivor}}).Decode(t, &export)
	var redeemed []struct {
		Offer, Name, Sale string
		Amount            int64
	}
	require.NoError(t, json.Unmarshal(export.ExportCustomerData.Data["offers"], &redeemed))
	require.Len(t, redeemed, 1)
	require.Equal(t, once.ID, redeemed[0].Offer)
	require.Equal(t, "Once each", redeemed[0].Name)
	require.Equal(t, uses[1].SaleID, redeemed[0].Sale)
	require.Equal(t, int64(100), redeemed[0].Amount)
}

// Terminals racing for an offer's last uses: the offer's row is locked by
// each sale until it commits, so exactly as many sales as there are uses
// get it, on PostgreSQL as on SQLite.
func TestOfferUsageLimitUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store := e.owner.StoreID
	_, terminal := e.terminal(t, "T-OFFERS-1", "Front")
	tokens := []string{terminal, e.manager.Token}
	for _, tc := range []struct{ limit, sales int }{{1, 2}, {3, 10}} {
		t.Run(fmt.Sprintf("%d uses, %d sales", tc.limit, tc.sales), func(t *testing.T) {
			o := e.offerMake(t, e.owner.Token, saleWith(offerFixed(fmt.Sprintf("First %d", tc.limit), 100), map[string]any{"usageLimit": tc.limit}))
			results := saleParallel(tc.sales, func(i int) *tilltest.Result {
				return e.Exec(t, tokens[i%2], offerSale, map[string]any{"i": offerSaleOf(store, "", 1000, 900, o.ID)})
			})
			won := 0
			for _, res := range results {
				if len(res.Errors) == 0 {
					won++
					continue
				}
				require.Equal(t, "BAD_USER_INPUT", res.Code(), "%+v", res.Errors)
				require.Equal(t, "offers[0]", res.Errors[0].Extensions["field"])
				require.Contains(t, res.Errors[0].Message, "used up")
			}
			require.Equal(t, tc.limit, won)
			count, uses := e.offerUsesOf(t, e.owner.Token, o.ID)
			require.Equal(t, tc.limit, count)
			require.Len(t, uses, tc.limit)
		})
	}
}

func TestOfferStacking(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store := e.owner.StoreID
	alone := e.offerMake(t, e.owner.Token, saleWith(offerPercent("Staff night 30%", 3000), map[string]any{"stacking": "EXCLUSIVE"}))
	tenth := e.offerMake(t, e.owner.Token, offerPercent("Tenth off", 1000))
	one := e.offerMake(t, e.owner.Token, offerFixed("One off", 100))

	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, "", 1000, 600, alone.ID, tenth.ID), "BAD_USER_INPUT", "offers[0]", "cannot be combined")
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, "", 1000, 600, tenth.ID, alone.ID), "BAD_USER_INPUT", "offers[1]", "cannot be combined")
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, "", 1000, 800, tenth.ID, tenth.ID), "BAD_USER_INPUT", "offers[1]", "listed twice")

	s := e.offerSell(t, e.cashier.Token, offerSaleOf(store, "", 1000, 700, alone.ID))
	require.Equal(t, int64(300), s.DiscountTotal)

	// Stackable offers combine, each on what the order comes to before offers.
	s = e.offerSell(t, e.cashier.Token, offerSaleOf(store, "", 1000, 800, tenth.ID, one.ID))
	require.Equal(t, []offerDiscount{
		{Kind: "OFFER", RefID: tenth.ID, Label: "Tenth off", Amount: 100},
		{Kind: "OFFER", RefID: one.ID, Label: "One off", Amount: 100},
	}, s.Discounts)
	require.Equal(t, s.Discounts, s.Receipt.Discounts)
}

func TestOfferVoidGivesTheUseBack(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store := e.owner.StoreID
	customer := e.offerCustomer(t, "Void Vu")
	o := e.offerMake(t, e.owner.Token, saleWith(offerFixed("Once", 200), map[string]any{"perCustomerLimit": 1, "usageLimit": 1}))

	first := e.offerSell(t, e.cashier.Token, offerSaleOf(store, customer, 1000, 800, o.ID))
	voided := e.refund(t, e.cashier.Token, saleVoid, map[string]any{"idempotencyKey": saleKey(), "saleId": first.ID, "reason": "rang up twice"})
	require.Equal(t, "VOIDED", voided.Sale.Status)
	count, uses := e.offerUsesOf(t, e.owner.Token, o.ID)
	require.Equal(t, 0, count, "the voided sale never happened")
	require.Len(t, uses, 1)
	require.NotNil(t, uses[0].VoidedAt, "the use stays in the history, voided")
	require.Equal(t, []string{"Once"}, e.offersFor(t, customer, store))

	second := e.offerSell(t, e.cashier.Token, offerSaleOf(store, customer, 1000, 800, o.ID))
	// A refund, even of everything, keeps the use.
	e.refund(t, e.owner.Token, saleRefund, map[string]any{"idempotencyKey": saleKey(), "saleId": second.ID, "reason": "changed mind", "amount": 800})
	count, _ = e.offerUsesOf(t, e.owner.Token, o.ID)
	require.Equal(t, 1, count)
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, customer, 1000, 800, o.ID), "BAD_USER_INPUT", "offers[0]", "used up")

	// A sale recorded offline with the offer meanwhile used up happened
	// all the same: the upload records it with the discount the terminal
	// gave, counts the use past the limit, and flags the sale for review.
	var up struct {
		UploadSales struct {
			Results []struct {
				Status string
				Error  *struct{ Code, Field, Message string }
				Sale   *struct {
					Total        int64
					ReviewStatus string
					RiskHits     []struct{ Rule, Action, Detail string }
				}
			}
		}
	}
	offline := saleWith(offerSaleOf(store, customer, 1000, 800, o.ID), map[string]any{"occurredAt": time.Now()})
	e.Exec(t, e.cashier.Token, `mutation($i: UploadSalesInput!) { uploadSales(input: $i) { results { status error { code field message }
		sale { total reviewStatus riskHits { rule action detail } } } } }`,
		map[string]any{"i": map[string]any{"sales": []any{offline}}}).Decode(t, &up)
	res := up.UploadSales.Results[0]
	require.Equal(t, "CREATED", res.Status, "error: %+v", res.Error)
	require.Equal(t, int64(800), res.Sale.Total)
	require.Equal(t, "PENDING", res.Sale.ReviewStatus)
	require.Len(t, res.Sale.RiskHits, 1)
	require.Equal(t, "discount_limit", res.Sale.RiskHits[0].Rule)
	require.Equal(t, "FLAG", res.Sale.RiskHits[0].Action)
	require.Contains(t, res.Sale.RiskHits[0].Detail, "used up")
	count, _ = e.offerUsesOf(t, e.owner.Token, o.ID)
	require.Equal(t, 2, count, "the use past the limit is counted")
}

func TestOfferVoidAndSaleLockOrder(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	e.settings(t, map[string]any{"maxRefundPerCashierDay": 1_000_000})
	store := e.owner.StoreID
	o := e.offerMake(t, e.owner.Token, offerFixed("Busy", 100))
	const n = 8
	var sold []offerSold
	buyers := make([]string, 2*n)
	for i := range buyers {
		buyers[i] = e.offerCustomer(t, fmt.Sprintf("Buyer %d", i))
	}
	for i := range n {
		sold = append(sold, e.offerSell(t, e.cashier.Token, offerSaleOf(store, buyers[i], 1000, 900, o.ID)))
	}
	results := saleParallel(2*n, func(i int) *tilltest.Result {
		if i%2 == 0 {
			return e.Exec(t, e.cashier.Token, saleVoid, map[string]any{"i": map[string]any{"idempotencyKey": saleKey(), "saleId": sold[i/2].ID, "reason": "rang up twice"}})
		}
		return e.Exec(t, e.cashier.Token, offerSale, map[string]any{"i": offerSaleOf(store, buyers[n+i/2], 1000, 900, o.ID)})
	})
	for i, res := range results {
		require.Empty(t, res.Errors, "call %d", i)
	}
	count, _ := e.offerUsesOf(t, e.owner.Token, o.ID)
	require.Equal(t, n, count, "n uses given back, n taken")
}

func TestOfferCodes(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	const byCode = `query($c: String!) { offerByCode(code: $c) { id code } }`
	lookup := func(token, code string) *struct{ ID, Code string } {
		var out struct{ OfferByCode *struct{ ID, Code string } }
		e.Exec(t, token, byCode, map[string]any{"c": code}).Decode(t, &out)
		return out.OfferByCode
	}
	o := e.offerMake(t, e.owner.Token, saleWith(offerPercent("Spring", 1000), map[string]any{"code": " spring-20 "}))
	require.Equal(t, "SPRING-20", *o.Code)
	found := lookup(e.cashier.Token, "Spring-20")
	require.NotNil(t, found)
	require.Equal(t, o.ID, found.ID)
	require.Nil(t, lookup(e.cashier.Token, "SUMMER-20"))
	require.Nil(t, lookup(e.cashier.Token, "?"))

	saleWantErr(t, e.Exec(t, e.manager.Token, offerCreate, map[string]any{"i": saleWith(offerFixed("Copy", 100), map[string]any{"code": "SPRING-20"})}), "CONFLICT", "code")
	saleWantErr(t, e.Exec(t, e.manager.Token, offerCreate, map[string]any{"i": saleWith(offerFixed("Short", 100), map[string]any{"code": "ab"})}), "BAD_USER_INPUT", "code")

	plum := e.SignUp(t, "Plum Tea")
	require.Nil(t, lookup(plum.Token, "SPRING-20"), "codes are the merchant's own")
	e.offerMake(t, plum.Token, saleWith(offerFixed("Theirs", 100), map[string]any{"code": "spring-20"}))

	// Ending the offer frees its code.
	var ended struct{ EndOffer struct{ Offer offerOffer } }
	e.Exec(t, e.owner.Token, offerEnd, map[string]any{"i": map[string]any{"offerId": o.ID}}).Decode(t, &ended)
	require.Equal(t, "ENDED", ended.EndOffer.Offer.Status)
	require.Equal(t, "SPRING-20", *ended.EndOffer.Offer.Code, "an ended offer shows the code it had")
	require.Nil(t, lookup(e.cashier.Token, "spring-20"))
	again := e.offerMake(t, e.owner.Token, saleWith(offerPercent("Spring again", 1000), map[string]any{"code": "spring-20"}))
	require.Equal(t, again.ID, lookup(e.cashier.Token, "SPRING-20").ID)
}

func TestOfferUpdateAndEnd(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store := e.owner.StoreID
	o := e.offerMake(t, e.owner.Token, saleWith(offerPercent("Tea week", 1000), map[string]any{"validDays": 7}))
	update := func(token string, in map[string]any) *tilltest.Result {
		return e.Exec(t, token, offerUpdate, map[string]any{"i": saleWith(in, map[string]any{"offerId": o.ID})})
	}
	var out struct{ UpdateOffer struct{ Offer offerOffer } }
	update(e.manager.Token, map[string]any{"name": "Tea fortnight", "percentBp": 1500, "validDays": 14, "maxDiscount": 1000}).Decode(t, &out)
	got := out.UpdateOffer.Offer
	require.Equal(t, "Tea fortnight", got.Name)
	require.Equal(t, 1500, *got.PercentBp)
	require.Equal(t, int64(1000), *got.MaxDiscount)
	require.Equal(t, 14*24*time.Hour, got.ValidUntil.Sub(got.ValidFrom))
	require.Equal(t, 1, e.offerAudited(t, "offer.updated", o.ID))

	update(e.manager.Token, map[string]any{"segment": "LOYAL", "clearValidUntil": true}).Decode(t, &out)
	require.Equal(t, "SEGMENT", out.UpdateOffer.Offer.Target)
	require.Nil(t, out.UpdateOffer.Offer.ValidUntil)
	update(e.manager.Token, map[string]any{"everyone": true}).Decode(t, &out)
	require.Equal(t, "EVERYONE", out.UpdateOffer.Offer.Target)
	require.Nil(t, out.UpdateOffer.Offer.Segment)
	update(e.manager.Token, map[string]any{"name": "Tea fortnight"}).Decode(t, &out)
	require.Equal(t, 3, e.offerAudited(t, "offer.updated", o.ID), "an update that changes nothing writes nothing")

	saleWantErr(t, update(e.manager.Token, map[string]any{"amount": 100}), "BAD_USER_INPUT", "amount")
	saleWantErr(t, update(e.manager.Token, map[string]any{"maxDiscount": 100, "clearMaxDiscount": true}), "BAD_USER_INPUT", "maxDiscount")
	saleWantErr(t, update(e.manager.Token, map[string]any{"segment": "LOST", "everyone": true}), "BAD_USER_INPUT", "segment")

	e.offerSell(t, e.cashier.Token, offerSaleOf(store, "", 1000, 850, o.ID))
	var ended struct{ EndOffer struct{ Offer offerOffer } }
	e.Exec(t, e.manager.Token, offerEnd, map[string]any{"i": map[string]any{"offerId": o.ID}}).Decode(t, &ended)
	require.Equal(t, "ENDED", ended.EndOffer.Offer.Status)
	require.NotNil(t, ended.EndOffer.Offer.EndedAt)
	require.Equal(t, 1, ended.EndOffer.Offer.RedemptionCount, "its redemptions stay")
	e.offerRefused(t, e.cashier.Token, offerSaleOf(store, "", 1000, 850, o.ID), "BAD_USER_INPUT", "offers[0]", "has ended")
	saleWantErr(t, update(e.manager.Token, map[string]any{"name": "Revived"}), "CONFLICT", "")
	e.Exec(t, e.manager.Token, offerEnd, map[string]any{"i": map[string]any{"offerId": o.ID}}).Decode(t, &ended)
	require.Equal(t, 1, e.offerAudited(t, "offer.ended", o.ID), "ending an ended offer changes nothing")

	var list struct {
		Offers struct {
			TotalCount int
			Edges      []struct{ Node struct{ ID, Status string } }
		}
	}
	e.Exec(t, e.cashier.Token, `{ offers(where: {status: ENDED}) { totalCount edges { node { id status } } } }`, nil).Decode(t, &list)
	require.Equal(t, 1, list.Offers.TotalCount)
	require.Equal(t, o.ID, list.Offers.Edges[0].Node.ID)
}

func TestOfferInputChecks(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	for _, tc := range []struct {
		name  string
		in    map[string]any
		code  string
		field string
	}{
		{"percent without basis points", map[string]any{"name": "X", "kind": "PERCENT"}, "BAD_USER_INPUT", "percentBp"},
		{"percent over 100%", offerPercent("X", 10_001), "BAD_USER_INPUT", "percentBp"},
		{"percent with an amount", saleWith(offerPercent("X", 1000), map[string]any{"amount": 100}), "BAD_USER_INPUT", "amount"},
		{"fixed without an amount", map[string]any{"name": "X", "kind": "FIXED"}, "BAD_USER_INPUT", "amount"},
		{"fixed with a cap", saleWith(offerFixed("X", 100), map[string]any{"maxDiscount": 50}), "BAD_USER_INPUT", "maxDiscount"},
		{"empty name", offerFixed(" ", 100), "BAD_USER_INPUT", "name"},
		{"card number in the description", saleWith(offerFixed("X", 100), map[string]any{"description": "4242 4242 4242 4242"}), "BAD_USER_INPUT", "description"},
		{"no uses", saleWith(offerFixed("X", 100), map[string]any{"usageLimit": 0}), "BAD_USER_INPUT", "usageLimit"},
		{"two targets", saleWith(offerFixed("X", 100), map[string]any{"segment": "NEW", "savedSegmentId": "sgs_01JD7X0Q2N3V4W5X6Y7Z8A9B0C"}), "BAD_USER_INPUT", "segment"},
		{"unknown saved segment", saleWith(offerFixed("X", 100), map[string]any{"savedSegmentId": "sgs_01JD7X0Q2N3V4W5X6Y7Z8A9B0C"}), "NOT_FOUND", "savedSegmentId"},
		{"unknown store", saleWith(offerFixed("X", 100), map[string]any{"storeId": "sto_01JD7X0Q2N3V4W5X6Y7Z8A9B0C"}), "NOT_FOUND", "storeId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saleWantErr(t, e.Exec(t, e.owner.Token, offerCreate, map[string]any{"i": tc.in}), tc.code, tc.field)
		})
	}
	var list struct{ Offers struct{ TotalCount int } }
	e.Exec(t, e.owner.Token, `{ offers { totalCount } }`, nil).Decode(t, &list)
	require.Zero(t, list.Offers.TotalCount, "nothing half-written")
}

func TestOfferRolesAndTenancy(t *testing.T) {
	t.Parallel()
	e := newSaleEnv(t)
	store1, store2 := e.owner.StoreID, e.store(t, e.owner.Token, "Second Street")
	operator := e.Operator(t)

	// OWNER and MANAGER set offers up; CASHIER and OPERATOR may not.
	for _, token := range []string{e.cashier.Token, operator.Token} {
		saleWantErr(t, e.Exec(t, token, offerCreate, map[string]any{"i": offerFixed("Nope", 100)}), "FORBIDDEN", "")
	}
	wide := e.offerMake(t, e.manager.Token, offerFixed("Everywhere", 100))
	mine := e.offerMake(t, e.manager.Token, saleWith(offerFixed("Here", 100), map[string]any{"storeId": store1}))
	require.Equal(t, store1, *mine.StoreID)
	saleWantErr(t, e.Exec(t, e.manager.Token, offerCreate, map[string]any{"i": saleWith(offerFixed("There", 100), map[string]any{"storeId": store2})}), "FORBIDDEN", "storeId")
	theirs := e.offerMake(t, e.owner.Token, saleWith(offerFixed("There", 100), map[string]any{"storeId": store2}))
	saleWantErr(t, e.Exec(t, e.manager.Token, offerUpdate, map[string]any{"i": map[string]any{"offerId": theirs.ID, "name": "Mine now"}}), "FORBIDDEN", "offerId")
	saleWantErr(t, e.Exec(t, e.manager.Token, offerEnd, map[string]any{"i": map[string]any{"offerId": theirs.ID}}), "FORBIDDEN", "offerId")
	saleWantErr(t, e.Exec(t, e.manager.Token, offerUpdate, map[string]any{"i": map[string]any{"offerId": mine.ID, "storeId": store2}}), "FORBIDDEN", "storeId")
	saleWantErr(t, e.Exec(t, e.cashier.Token, offerUpdate, map[string]any{"i": map[string]any{"offerId": wide.ID, "name": "Cheaper"}}), "FORBIDDEN", "")
	saleWantErr(t, e.Exec(t, e.cashier.Token, offerEnd, map[string]any{"i": map[string]any{"offerId": wide.ID}}), "FORBIDDEN", "")

	// Every staff member reads them; an operator does not.
	var list struct{ Offers struct{ TotalCount int } }
	e.Exec(t, e.cashier.Token, `{ offers { totalCount } }`, nil).Decode(t, &list)
	require.Equal(t, 3, list.Offers.TotalCount)
	saleWantErr(t, e.Exec(t, operator.Token, `{ offers { totalCount } }`, nil), "FORBIDDEN", "")

	// Created offers are audited and raise offer.created for the
	// notifications release to send.
	for _, o := range []offerOffer{wide, mine, theirs} {
		require.Equal(t, 1, e.offerAudited(t, "offer.created", o.ID))
		require.Contains(t, e.outbox(t), "offer.created "+o.ID)
	}

	// Another merchant's offer is not there.
	plum := e.SignUp(t, "Plum Tea")
	var node struct{ Node *struct{ ID string } }
	res := e.Exec(t, plum.Token, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": wide.ID})
	require.Equal(t, "NOT_FOUND", res.Code())
	require.NoError(t, json.Unmarshal(res.Data, &node))
	require.Nil(t, node.Node)
	saleWantErr(t, e.Exec(t, plum.Token, offerUpdate, map[string]any{"i": map[string]any{"offerId": wide.ID, "name": "Ours"}}), "NOT_FOUND", "offerId")
	saleWantErr(t, e.Exec(t, plum.Token, offerEnd, map[string]any{"i": map[string]any{"offerId": wide.ID}}), "NOT_FOUND", "offerId")
	err := saleWantErr(t, e.Exec(t, plum.Token, offerSale, map[string]any{"i": offerSaleOf(plum.StoreID, "", 1000, 900, wide.ID)}), "NOT_FOUND", "offers[0]")
	require.False(t, strings.Contains(err.Message, "Everywhere"), "nothing of the offer leaks")
	e.Exec(t, plum.Token, `{ offers { totalCount } }`, nil).Decode(t, &list)
	require.Zero(t, list.Offers.TotalCount)
}
