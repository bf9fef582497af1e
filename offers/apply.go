package offers

import (
	"context"
	"fmt"
	"slices"
	"time"

	"entgo.io/contrib/entgql"

	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/offer"
	"github.com/tillpos/till/ent/offerredemption"
	"github.com/tillpos/till/ent/refund"
	"github.com/tillpos/till/ent/savedsegment"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/schema/saletype"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/sales"
)

// Bounds of applying offers.
const (
	// maxPerSale is how many offers one sale may ask for.
	maxPerSale = 10
	// maxRunning is how many of a merchant's running offers EligibleOffers
	// weighs, newest first.
	maxRunning = 1000
)

// eligibility is who and where offers are weighed for: a sale, or the
// customer at the counter before it. Every reason an offer does not apply
// is decided here, for checkout and for the tablet's list alike.
type eligibility struct {
	at time.Time
	// storeID is where; "" weighs every store.
	storeID  pulid.ID
	customer *ent.Customer
	// used counts the customer's uses (not voided) of each offer.
	used map[pulid.ID]int
	// savedSegments are the names of the saved segments the offers
	// target, and members those the customer is in.
	savedSegments map[pulid.ID]string
	members       map[pulid.ID]bool
}

// weigh reads what deciding offers for customer (nil for none) at storeID
// and at takes, through client (the sale's transaction at checkout).
func weigh(ctx context.Context, client *ent.Client, offers []*ent.Offer, at time.Time, storeID pulid.ID, customer *ent.Customer) (*eligibility, error) {
	e := &eligibility{at: at, storeID: storeID, customer: customer, used: map[pulid.ID]int{},
		savedSegments: map[pulid.ID]string{}, members: map[pulid.ID]bool{}}
	var limited, segments []pulid.ID
	for _, o := range offers {
		if o.PerCustomerLimit != nil {
			limited = append(limited, o.ID)
		}
		if o.SavedSegmentID != nil && !slices.Contains(segments, *o.SavedSegmentID) {
			segments = append(segments, *o.SavedSegmentID)
		}
	}
	if len(segments) > 0 {
		found, err := client.SavedSegment.Query().Where(savedsegment.IDIn(segments...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("loading saved segments: %w", err)
		}
		for _, seg := range found {
			e.savedSegments[seg.ID] = seg.Name
			if customer == nil {
				continue
			}
			if e.members[seg.ID], err = customers.InSavedSegment(ctx, client, seg, customer.ID); err != nil {
				return nil, err
			}
		}
	}
	if customer == nil || len(limited) == 0 {
		return e, nil
	}
	var rows []struct {
		OfferID pulid.ID `json:"offer_id"`
		Count   int      `json:"count"`
	}
	err := client.OfferRedemption.Query().
		Where(offerredemption.CustomerID(customer.ID), offerredemption.OfferIDIn(limited...), offerredemption.VoidedAtIsNil()).
		GroupBy(offerredemption.FieldOfferID).Aggregate(ent.Count()).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("counting the customer's offer uses: %w", err)
	}
	for _, r := range rows {
		e.used[r.OfferID] = r.Count
	}
	return e, nil
}

// refusal says why o does not apply, or "" when it does. The minimum
// spend and stacking depend on the sale, and are checkout's to decide.
func (e *eligibility) refusal(o *ent.Offer) string {
	if why := e.inapplicable(o); why != "" {
		return why
	}
	return e.limitReached(o)
}

// limitReached says which of o's limits on uses the customer or everyone
// has reached, or "".
func (e *eligibility) limitReached(o *ent.Offer) string {
	switch {
	case o.UsageLimit != nil && o.RedemptionCount >= *o.UsageLimit:
		return "has been used up"
	case o.PerCustomerLimit != nil && e.customer != nil && e.used[o.ID] >= *o.PerCustomerLimit:
		return fmt.Sprintf("has been used by this customer as often as it may (%d)", *o.PerCustomerLimit)
	}
	return ""
}

// inapplicable says why o does not apply here and now to this customer,
// its limits on uses aside, or "".
func (e *eligibility) inapplicable(o *ent.Offer) string {
	switch {
	case o.Status == offer.StatusENDED:
		return "has ended"
	case e.at.Before(o.ValidFrom):
		return "starts at " + o.ValidFrom.UTC().Format(time.RFC3339)
	case o.ValidUntil != nil && !e.at.Before(*o.ValidUntil):
		return "ended at " + o.ValidUntil.UTC().Format(time.RFC3339)
	case e.storeID != "" && o.StoreID != nil && *o.StoreID != e.storeID:
		return "is not valid at this store"
	case o.Target != offer.TargetEVERYONE && e.customer == nil:
		return "is for some customers only: the sale needs its customer"
	case o.Target == offer.TargetSEGMENT && string(e.customer.Segment) != string(*o.Segment):
		return fmt.Sprintf("is for %s customers only, and this customer is %s", *o.Segment, e.customer.Segment)
	case o.Target == offer.TargetSAVED_SEGMENT && (o.SavedSegmentID == nil || !e.members[*o.SavedSegmentID]):
		if o.SavedSegmentID == nil || e.savedSegments[*o.SavedSegmentID] == "" {
			return "is for a saved segment that no longer exists"
		}
		return fmt.Sprintf("is for the customers in %q only", e.savedSegments[*o.SavedSegmentID])
	case o.PerCustomerLimit != nil && e.customer == nil:
		return "is limited per customer: the sale needs its customer"
	}
	return ""
}

// Discounts implements sales.Discounter: it prices the offers in q.Offers
// for the whole order, each on q.Net (percentages rounded down, capped),
// together at most q.Net. The offers' rows are locked (on PostgreSQL)
// until the sale commits, so that two sales cannot both take an offer's
// last use; in id order, so that two sales never wait on each other.
//
// A sale made offline gets an offer whose uses ran out meanwhile, with a
// Flag: it happened, and refusing it would lose it.
//
// Errors: NOT_FOUND (offers[i]: not the merchant's), BAD_USER_INPUT
// (offers[i]: listed twice, does not apply, used up online, under its
// minimum spend, takes nothing off; an EXCLUSIVE offer with others).
func (s *Service) Discounts(ctx context.Context, tx *ent.Tx, q sales.DiscountQuery) ([]sales.Discount, error) {
	if len(q.Offers) == 0 {
		return nil, nil
	}
	if len(q.Offers) > maxPerSale {
		return nil, errs.Invalid("offers", "a sale takes at most %d offers", maxPerSale)
	}
	for i, id := range q.Offers {
		if slices.Index(q.Offers, id) < i {
			return nil, errs.Invalid(field(i), "the offer is listed twice; it applies once per sale")
		}
	}
	locked, err := tx.Offer.Query().Where(offer.IDIn(q.Offers...)).Order(ent.Asc(offer.FieldID)).Modify(db.ForUpdate).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("locking offers: %w", err)
	}
	offers := make([]*ent.Offer, len(q.Offers))
	for i, id := range q.Offers {
		idx := slices.IndexFunc(locked, func(o *ent.Offer) bool { return o.ID == id })
		if idx < 0 {
			return nil, &errs.Error{Code: errs.NotFound, Field: field(i), Message: "offer not found"}
		}
		offers[i] = locked[idx]
	}
	for i, o := range offers {
		if o.Stacking == offer.StackingEXCLUSIVE && len(offers) > 1 {
			return nil, errs.Invalid(field(i), "%q cannot be combined with other offers", o.Name)
		}
	}
	e, err := weigh(ctx, tx.Client(), offers, q.At, q.StoreID, q.Customer)
	if err != nil {
		return nil, err
	}
	left := q.Net
	granted := make([]sales.Discount, 0, len(offers))
	for i, o := range offers {
		if why := e.inapplicable(o); why != "" {
			return nil, errs.Invalid(field(i), "%q %s", o.Name, why)
		}
		var flag string
		if why := e.limitReached(o); why != "" && !q.Offline {
			return nil, errs.Invalid(field(i), "%q %s", o.Name, why)
		} else if why != "" {
			flag = fmt.Sprintf("offer %q %s: recorded offline, granted past its limit", o.Name, why)
		}
		if o.MinSpend != nil && q.Net < *o.MinSpend {
			return nil, errs.Invalid(field(i), "%q needs a spend of at least %d; the sale comes to %d", o.Name, *o.MinSpend, q.Net)
		}
		amount := min(discountOn(o, q.Net), left)
		if amount <= 0 {
			return nil, errs.Invalid(field(i), "%q takes nothing off this sale", o.Name)
		}
		left -= amount
		granted = append(granted, sales.Discount{Kind: saletype.DiscountOffer, RefID: o.ID, Label: o.Name, Amount: amount, Flag: flag})
	}
	return granted, nil
}

// field names the i'th offer of a sale's input.
func field(i int) string { return fmt.Sprintf("offers[%d]", i) }

// discountOn is what o takes off an order of net: a percentage rounded
// down, at most its cap, or its fixed amount; never more than net.
func discountOn(o *ent.Offer, net int64) int64 {
	if o.Kind == offer.KindFIXED {
		return min(*o.Amount, net)
	}
	amount := net * int64(*o.PercentBp) / maxBasisPoints
	if o.MaxDiscount != nil {
		amount = min(amount, *o.MaxDiscount)
	}
	return amount
}

// Redeem implements sales.Discounter: it records a use of each offer
// Discounts granted sl, in the sale's transaction, under the offers'
// locks Discounts took.
func (s *Service) Redeem(ctx context.Context, tx *ent.Tx, sl *ent.Sale, granted []sales.Discount) error {
	for _, d := range granted {
		err := tx.OfferRedemption.Create().
			SetOfferID(d.RefID).SetNillableCustomerID(sl.CustomerID).SetSaleID(sl.ID).
			SetAmount(d.Amount).SetAt(sl.OccurredAt).
			Exec(ctx)
		if err != nil {
			return fmt.Errorf("recording offer use: %w", err)
		}
		if err := tx.Offer.UpdateOneID(d.RefID).AddRedemptionCount(1).Exec(ctx); err != nil {
			return fmt.Errorf("counting offer use: %w", err)
		}
	}
	return nil
}

// refunded gives a voided sale's offer uses back: the sale never happened.
// A refund, even of everything, keeps them.
func (s *Service) refunded(ctx context.Context, tx *ent.Tx, sl *ent.Sale, r *ent.Refund) error {
	if r.Kind != refund.KindVOID {
		return nil
	}
	uses, err := tx.OfferRedemption.Query().
		Where(offerredemption.SaleID(sl.ID), offerredemption.VoidedAtIsNil()).
		Order(ent.Asc(offerredemption.FieldOfferID)).
		All(ctx)
	if err != nil {
		return fmt.Errorf("loading the sale's offer uses: %w", err)
	}
	now := s.now()
	for _, u := range uses {
		if err := tx.OfferRedemption.UpdateOne(u).SetVoidedAt(now).Exec(ctx); err != nil {
			return fmt.Errorf("voiding offer use: %w", err)
		}
		if err := tx.Offer.UpdateOneID(u.OfferID).AddRedemptionCount(-1).Exec(ctx); err != nil {
			return fmt.Errorf("giving offer use back: %w", err)
		}
	}
	return nil
}

// EligibleOffers pages the offers a cashier can apply to c now at storeID
// (at any store when nil): running, in their window, targeted at c, with
// uses left for c and overall. Newest first.
//
// Errors: FORBIDDEN (not staff), NOT_FOUND (storeId).
func (s *Service) EligibleOffers(ctx context.Context, c *ent.Customer, storeID *pulid.ID, after *entgql.Cursor[pulid.ID], first *int, before *entgql.Cursor[pulid.ID], last *int) (*ent.OfferConnection, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	q := s.db.Offer.Query().Where(
		offer.StatusEQ(offer.StatusACTIVE),
		offer.ValidFromLTE(now),
		offer.Or(offer.ValidUntilIsNil(), offer.ValidUntilGT(now)),
	)
	var where pulid.ID
	if storeID != nil {
		if _, err := s.db.Store.Get(ctx, *storeID); ent.IsNotFound(err) {
			return nil, &errs.Error{Code: errs.NotFound, Field: "storeId", Message: "store not found"}
		} else if err != nil {
			return nil, fmt.Errorf("loading store: %w", err)
		}
		q.Where(offer.Or(offer.StoreIDIsNil(), offer.StoreID(*storeID)))
		where = *storeID
	}
	running, err := q.Order(ent.Desc(offer.FieldID)).Limit(maxRunning).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading running offers: %w", err)
	}
	e, err := weigh(ctx, s.db, running, now, where, c)
	if err != nil {
		return nil, err
	}
	ids := []pulid.ID{}
	for _, o := range running {
		if e.refusal(o) == "" {
			ids = append(ids, o.ID)
		}
	}
	newestFirst := []*ent.OfferOrder{{Field: ent.OfferOrderFieldCreatedAt, Direction: entgql.OrderDirectionDesc}}
	return s.db.Offer.Query().Where(offer.IDIn(ids...)).Paginate(ctx, after, first, before, last, ent.WithOfferOrder(newestFirst))
}
