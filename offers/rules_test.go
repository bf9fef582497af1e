package offers

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/offer"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/ptr"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func TestDiscountOn(t *testing.T) {
	percent := func(bp int, cap *int64) *ent.Offer {
		return &ent.Offer{Kind: offer.KindPERCENT, PercentBp: &bp, MaxDiscount: cap}
	}
	fixed := &ent.Offer{Kind: offer.KindFIXED, Amount: ptr.To[int64](500)}
	for _, tc := range []struct {
		name string
		o    *ent.Offer
		net  int64
		want int64
	}{
		{"20% of 18.00", percent(2000, nil), 1800, 360},
		{"rounded down", percent(1500, nil), 999, 149},
		{"capped", percent(2000, ptr.To[int64](500)), 5000, 500},
		{"under the cap", percent(2000, ptr.To[int64](500)), 2000, 400},
		{"everything", percent(10_000, nil), 1234, 1234},
		{"too little to take anything", percent(100, nil), 99, 0},
		{"the largest sale", percent(10_000, nil), maxAmount, maxAmount},
		{"fixed", fixed, 1800, 500},
		{"fixed over the sale takes the sale", fixed, 300, 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, discountOn(tc.o, tc.net))
		})
	}
}

func TestRefusal(t *testing.T) {
	store, other := pulid.ID("sto_1"), pulid.ID("sto_2")
	seg, gone := pulid.ID("sgs_1"), pulid.ID("sgs_2")
	atRisk := &ent.Customer{ID: "cus_1", Segment: customer.SegmentAT_RISK}
	base := func(change func(o *ent.Offer)) *ent.Offer {
		o := &ent.Offer{ID: "ofr_1", Status: offer.StatusACTIVE, Target: offer.TargetEVERYONE, ValidFrom: t0.Add(-time.Hour)}
		change(o)
		return o
	}
	weighed := func(c *ent.Customer) *eligibility {
		return &eligibility{at: t0, storeID: store, customer: c,
			used:          map[pulid.ID]int{"ofr_1": 1},
			savedSegments: map[pulid.ID]string{seg: "VIPs"},
			members:       map[pulid.ID]bool{seg: c != nil && c.ID == "cus_1"}}
	}
	for _, tc := range []struct {
		name     string
		o        *ent.Offer
		customer *ent.Customer
		want     string
	}{
		{"applies", base(func(*ent.Offer) {}), nil, ""},
		{"ended", base(func(o *ent.Offer) { o.Status = offer.StatusENDED }), nil, "has ended"},
		{"not started", base(func(o *ent.Offer) { o.ValidFrom = t0.Add(time.Second) }), nil, "starts at 2026-03-01T09:00:01Z"},
		{"starts at the instant", base(func(o *ent.Offer) { o.ValidFrom = t0 }), nil, ""},
		{"the end is exclusive", base(func(o *ent.Offer) { o.ValidUntil = ptr.To(t0) }), nil, "ended at 2026-03-01T09:00:00Z"},
		{"before the end", base(func(o *ent.Offer) { o.ValidUntil = ptr.To(t0.Add(time.Second)) }), nil, ""},
		{"another store's", base(func(o *ent.Offer) { o.StoreID = &other }), nil, "is not valid at this store"},
		{"this store's", base(func(o *ent.Offer) { o.StoreID = &store }), nil, ""},
		{"used up", base(func(o *ent.Offer) { o.UsageLimit, o.RedemptionCount = ptr.To(2), 2 }), nil, "has been used up"},
		{"a use left", base(func(o *ent.Offer) { o.UsageLimit, o.RedemptionCount = ptr.To(2), 1 }), nil, ""},
		{"segment without a customer", base(func(o *ent.Offer) {
			o.Target, o.Segment = offer.TargetSEGMENT, ptr.To(offer.SegmentAT_RISK)
		}), nil, "the sale needs its customer"},
		{"their segment", base(func(o *ent.Offer) {
			o.Target, o.Segment = offer.TargetSEGMENT, ptr.To(offer.SegmentAT_RISK)
		}), atRisk, ""},
		{"another segment", base(func(o *ent.Offer) {
			o.Target, o.Segment = offer.TargetSEGMENT, ptr.To(offer.SegmentLOYAL)
		}), atRisk, "is for LOYAL customers only, and this customer is AT_RISK"},
		{"in the saved segment", base(func(o *ent.Offer) { o.Target, o.SavedSegmentID = offer.TargetSAVED_SEGMENT, &seg }), atRisk, ""},
		{"not in the saved segment", base(func(o *ent.Offer) { o.Target, o.SavedSegmentID = offer.TargetSAVED_SEGMENT, &seg }),
			&ent.Customer{ID: "cus_2"}, `is for the customers in "VIPs" only`},
		{"a deleted saved segment", base(func(o *ent.Offer) { o.Target, o.SavedSegmentID = offer.TargetSAVED_SEGMENT, nil }),
			atRisk, "no longer exists"},
		{"an unloaded saved segment", base(func(o *ent.Offer) { o.Target, o.SavedSegmentID = offer.TargetSAVED_SEGMENT, &gone }),
			atRisk, "no longer exists"},
		{"per customer without one", base(func(o *ent.Offer) { o.PerCustomerLimit = ptr.To(1) }), nil, "limited per customer"},
		{"per customer used", base(func(o *ent.Offer) { o.PerCustomerLimit = ptr.To(1) }), atRisk, "as often as it may (1)"},
		{"per customer left", base(func(o *ent.Offer) { o.PerCustomerLimit = ptr.To(2) }), atRisk, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := weighed(tc.customer).refusal(tc.o)
			if tc.want == "" {
				require.Empty(t, got)
			} else {
				require.Contains(t, got, tc.want)
			}
		})
	}
	t.Run("every store", func(t *testing.T) {
		e := weighed(nil)
		e.storeID = ""
		require.Empty(t, e.refusal(base(func(o *ent.Offer) { o.StoreID = &other })), "a list for every store keeps store offers")
	})
}

func TestTermsApply(t *testing.T) {
	fresh := func() terms {
		return terms{Kind: offer.KindPERCENT, Target: offer.TargetEVERYONE, ValidFrom: t0, Stacking: offer.StackingSTACKABLE}
	}
	bp := ptr.To(2000)
	for _, tc := range []struct {
		name  string
		in    UpdateInput
		field string
		check func(t *testing.T, got terms)
	}{
		{name: "valid N days from the start", in: UpdateInput{Name: ptr.To(" At risk "), PercentBp: bp, ValidDays: ptr.To(14)},
			check: func(t *testing.T, got terms) {
				require.Equal(t, "At risk", got.Name)
				require.Equal(t, t0.Add(14*day), *got.ValidUntil)
			}},
		{name: "valid N days from a later start", in: UpdateInput{Name: ptr.To("X"), PercentBp: bp, ValidFrom: ptr.To(t0.Add(day)), ValidDays: ptr.To(1)},
			check: func(t *testing.T, got terms) { require.Equal(t, t0.Add(2*day), *got.ValidUntil) }},
		{name: "a code upper-cased", in: UpdateInput{Name: ptr.To("X"), PercentBp: bp, Code: ptr.To(" spring_20 ")},
			check: func(t *testing.T, got terms) { require.Equal(t, "SPRING_20", *got.Code) }},
		{name: "retargeted", in: UpdateInput{Name: ptr.To("X"), PercentBp: bp, Segment: ptr.To(offer.SegmentLOST)},
			check: func(t *testing.T, got terms) {
				require.Equal(t, offer.TargetSEGMENT, got.Target)
				require.Equal(t, offer.SegmentLOST, *got.Segment)
			}},
		{name: "an end already over", in: UpdateInput{Name: ptr.To("X"), PercentBp: bp, ValidUntil: ptr.To(t0.Add(time.Minute))}, field: "validUntil"},
		{name: "an end before the start", in: UpdateInput{Name: ptr.To("X"), PercentBp: bp, ValidFrom: ptr.To(t0.Add(2 * day)), ValidUntil: ptr.To(t0.Add(day))}, field: "validUntil"},
		{name: "set and clear", in: UpdateInput{Name: ptr.To("X"), PercentBp: bp, UsageLimit: ptr.To(1), ClearUsageLimit: true}, field: "usageLimit"},
		{name: "two targets", in: UpdateInput{Name: ptr.To("X"), PercentBp: bp, Segment: ptr.To(offer.SegmentLOST), Everyone: true}, field: "segment"},
		{name: "a card number as the code", in: UpdateInput{Name: ptr.To("X"), PercentBp: bp, Code: ptr.To("4242424242424242")}, field: "code"},
		{name: "a long name", in: UpdateInput{Name: ptr.To(strings.Repeat("x", 101)), PercentBp: bp}, field: "name"},
		{name: "no minimum", in: UpdateInput{Name: ptr.To("X"), PercentBp: bp, MinSpend: ptr.To[int64](0)}, field: "minSpend"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fresh()
			err := got.apply(tc.in, t0.Add(time.Hour))
			if tc.field != "" {
				require.Equal(t, errs.BadUserInput, errs.CodeOf(err), "%v", err)
				e, _ := errs.As(err)
				require.Equal(t, tc.field, e.Field)
				return
			}
			require.NoError(t, err)
			tc.check(t, got)
		})
	}
}

func TestTermsChanges(t *testing.T) {
	was := terms{Name: "A", Kind: offer.KindFIXED, Amount: ptr.To[int64](100), ValidFrom: t0, Target: offer.TargetEVERYONE}
	now := was
	now.Amount = ptr.To[int64](100)
	now.ValidFrom = t0.In(time.FixedZone("CST", 8*3600))
	require.Empty(t, now.changes(was), "equal values in new pointers and zones are no change")
	now.Amount, now.ValidUntil, now.Segment = ptr.To[int64](200), ptr.To(t0.Add(day)), ptr.To(offer.SegmentNEW)
	require.Equal(t, []string{"amount", "segment", "validUntil"}, now.changes(was))
}
