package offers

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/offer"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/internal/pan"
	"github.com/tillpos/till/merchants"
	"github.com/tillpos/till/outbox"
)

// Bounds of an offer's terms.
const (
	maxNameRunes        = 100
	maxDescriptionRunes = 500
	maxBasisPoints      = 10_000
	// maxAmount matches the largest sale: 10^12 minor units.
	maxAmount    = 1_000_000_000_000
	maxValidDays = 3650
	maxLimit     = 1_000_000_000
	day          = 24 * time.Hour
)

// CreateInput is a new offer. Neither Segment nor SavedSegmentID targets
// everyone.
type CreateInput struct {
	Name             string
	Description      *string
	Kind             offer.Kind
	PercentBp        *int
	MaxDiscount      *int64
	Amount           *int64
	MinSpend         *int64
	Segment          *offer.Segment
	SavedSegmentID   *pulid.ID
	ValidFrom        *time.Time
	ValidUntil       *time.Time
	ValidDays        *int
	StoreID          *pulid.ID
	PerCustomerLimit *int
	UsageLimit       *int
	Stacking         *offer.Stacking
	Code             *string
}

// UpdateInput changes an offer: nil leaves a term as it is, Clear* removes
// it; Segment, SavedSegmentID and Everyone (at most one) retarget it.
type UpdateInput struct {
	OfferID               pulid.ID
	Name                  *string
	Description           *string
	PercentBp             *int
	MaxDiscount           *int64
	ClearMaxDiscount      bool
	Amount                *int64
	MinSpend              *int64
	ClearMinSpend         bool
	Segment               *offer.Segment
	SavedSegmentID        *pulid.ID
	Everyone              bool
	ValidFrom             *time.Time
	ValidUntil            *time.Time
	ValidDays             *int
	ClearValidUntil       bool
	StoreID               *pulid.ID
	ClearStore            bool
	PerCustomerLimit      *int
	ClearPerCustomerLimit bool
	UsageLimit            *int
	ClearUsageLimit       bool
	Stacking              *offer.Stacking
	// Code "" removes the code.
	Code *string
}

// terms are an offer's editable terms, checked as a whole.
type terms struct {
	Name             string
	Description      string
	Kind             offer.Kind
	PercentBp        *int
	MaxDiscount      *int64
	Amount           *int64
	MinSpend         *int64
	Target           offer.Target
	Segment          *offer.Segment
	SavedSegmentID   *pulid.ID
	ValidFrom        time.Time
	ValidUntil       *time.Time
	StoreID          *pulid.ID
	PerCustomerLimit *int
	UsageLimit       *int
	Stacking         offer.Stacking
	Code             *string
}

// termsOf is what an offer's terms are now.
func termsOf(o *ent.Offer) terms {
	return terms{
		Name: o.Name, Description: o.Description, Kind: o.Kind,
		PercentBp: o.PercentBp, MaxDiscount: o.MaxDiscount, Amount: o.Amount, MinSpend: o.MinSpend,
		Target: o.Target, Segment: o.Segment, SavedSegmentID: o.SavedSegmentID,
		ValidFrom: o.ValidFrom, ValidUntil: o.ValidUntil, StoreID: o.StoreID,
		PerCustomerLimit: o.PerCustomerLimit, UsageLimit: o.UsageLimit,
		Stacking: o.Stacking, Code: o.Code,
	}
}

// update is what a new offer's input changes of terms that start empty.
func (in CreateInput) update() UpdateInput {
	return UpdateInput{
		Name: &in.Name, Description: in.Description, PercentBp: in.PercentBp, MaxDiscount: in.MaxDiscount,
		Amount: in.Amount, MinSpend: in.MinSpend, Segment: in.Segment, SavedSegmentID: in.SavedSegmentID,
		ValidFrom: in.ValidFrom, ValidUntil: in.ValidUntil, ValidDays: in.ValidDays, StoreID: in.StoreID,
		PerCustomerLimit: in.PerCustomerLimit, UsageLimit: in.UsageLimit, Stacking: in.Stacking, Code: in.Code,
	}
}

// Create adds an offer, valid from now unless ValidFrom says otherwise,
// and writes the offer.created event the notifications release sends it
// with. OWNER or MANAGER; audited.
//
// Errors: FORBIDDEN, NOT_FOUND (savedSegmentId, storeId), BAD_USER_INPUT
// (naming the field), CONFLICT (code used by another running offer).
func (s *Service) Create(ctx context.Context, in CreateInput) (*ent.Offer, error) {
	v, err := staffViewer(ctx, managers...)
	if err != nil {
		return nil, err
	}
	now := s.now()
	t := terms{Kind: in.Kind, Target: offer.TargetEVERYONE, ValidFrom: now, Stacking: offer.StackingSTACKABLE}
	if err := t.apply(in.update(), now); err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Offer, error) {
		if err := t.check(ctx, tx.Client(), v, ""); err != nil {
			return nil, err
		}
		create := tx.Offer.Create().SetKind(t.Kind).SetCreatedByID(v.ID)
		t.set(create.Mutation())
		o, err := create.Save(ctx)
		if err != nil {
			return nil, codeTaken(err)
		}
		if err := outbox.Add(ctx, tx, o.MerchantID, outbox.OfferCreated, o.ID, map[string]any{
			"offerId": o.ID, "name": o.Name, "kind": o.Kind, "target": o.Target, "segment": o.Segment,
			"savedSegmentId": o.SavedSegmentID, "storeId": o.StoreID, "validFrom": o.ValidFrom,
			"validUntil": o.ValidUntil, "code": o.Code,
		}); err != nil {
			return nil, err
		}
		return o, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "offer.created", TargetType: "Offer", TargetID: o.ID,
			Details: map[string]any{"name": o.Name, "kind": o.Kind, "target": o.Target},
		})
	})
}

// Update changes a running offer's terms. OWNER or MANAGER; audited. An
// update that changes nothing writes nothing.
//
// Errors: FORBIDDEN, NOT_FOUND, BAD_USER_INPUT (naming the field),
// CONFLICT (the offer has ended; code used by another running offer).
func (s *Service) Update(ctx context.Context, in UpdateInput) (*ent.Offer, error) {
	v, err := staffViewer(ctx, managers...)
	if err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Offer, error) {
		old, err := lockManaged(ctx, tx, v, in.OfferID)
		if err != nil {
			return nil, err
		}
		if old.Status == offer.StatusENDED {
			return nil, errs.Newf(errs.Conflict, "the offer has ended")
		}
		was := termsOf(old)
		t := was
		if err := t.apply(in, s.now()); err != nil {
			return nil, err
		}
		changed := t.changes(was)
		if len(changed) == 0 {
			return old, nil
		}
		if err := t.check(ctx, tx.Client(), v, old.ID); err != nil {
			return nil, err
		}
		upd := tx.Offer.UpdateOne(old)
		t.set(upd.Mutation())
		o, err := upd.Save(ctx)
		if err != nil {
			return nil, codeTaken(err)
		}
		return o, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "offer.updated", TargetType: "Offer", TargetID: o.ID, Details: map[string]any{"fields": changed},
		})
	})
}

// End stops an offer for good: it is no longer applied, its code is free
// for another offer, its redemptions stay. Ending an ended offer changes
// nothing. OWNER or MANAGER; audited.
//
// Errors: FORBIDDEN, NOT_FOUND.
func (s *Service) End(ctx context.Context, id pulid.ID) (*ent.Offer, error) {
	v, err := staffViewer(ctx, managers...)
	if err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Offer, error) {
		old, err := lockManaged(ctx, tx, v, id)
		if err != nil || old.Status == offer.StatusENDED {
			return old, err
		}
		o, err := tx.Offer.UpdateOne(old).SetStatus(offer.StatusENDED).SetEndedAt(s.now()).ClearCodeKey().Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("ending offer: %w", err)
		}
		return o, audit.Record(ctx, tx.Client(), audit.Entry{
			Action: "offer.ended", TargetType: "Offer", TargetID: o.ID,
			Details: map[string]any{"redemptions": o.RedemptionCount},
		})
	})
}

// lockManaged locks and reads an offer the viewer may change: a manager
// only one for every store or for a store they work at. Checkouts lock
// the offer too, so a change waits for the sales using it.
func lockManaged(ctx context.Context, tx *ent.Tx, v *viewer.Viewer, id pulid.ID) (*ent.Offer, error) {
	o, err := tx.Offer.Query().Where(offer.ID(id)).Modify(db.ForUpdate).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: "offerId", Message: "offer not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("loading offer: %w", err)
	}
	if o.StoreID != nil {
		if _, err := merchants.StoreFor(ctx, tx.Client(), v, *o.StoreID, "offerId"); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// apply changes t by in (taken at now), checking each field given; the
// terms as a whole are checked by check.
func (t *terms) apply(in UpdateInput, now time.Time) error {
	if in.Name != nil {
		t.Name = strings.TrimSpace(*in.Name)
		if t.Name == "" || utf8.RuneCountInString(t.Name) > maxNameRunes {
			return errs.Invalid("name", "must be 1 to %d characters", maxNameRunes)
		}
		if err := pan.Check("name", t.Name); err != nil {
			return err
		}
	}
	if in.Description != nil {
		t.Description = strings.TrimSpace(*in.Description)
		if utf8.RuneCountInString(t.Description) > maxDescriptionRunes {
			return errs.Invalid("description", "must be at most %d characters", maxDescriptionRunes)
		}
		if err := pan.Check("description", t.Description); err != nil {
			return err
		}
	}
	if err := setOrClear(&t.MaxDiscount, in.MaxDiscount, in.ClearMaxDiscount, "maxDiscount"); err != nil {
		return err
	}
	if err := setOrClear(&t.MinSpend, in.MinSpend, in.ClearMinSpend, "minSpend"); err != nil {
		return err
	}
	if err := setOrClear(&t.PerCustomerLimit, in.PerCustomerLimit, in.ClearPerCustomerLimit, "perCustomerLimit"); err != nil {
		return err
	}
	if err := setOrClear(&t.UsageLimit, in.UsageLimit, in.ClearUsageLimit, "usageLimit"); err != nil {
		return err
	}
	if err := setOrClear(&t.StoreID, in.StoreID, in.ClearStore, "storeId"); err != nil {
		return err
	}
	if in.PercentBp != nil {
		t.PercentBp = in.PercentBp
	}
	if in.Amount != nil {
		t.Amount = in.Amount
	}
	if in.Stacking != nil {
		t.Stacking = *in.Stacking
	}
	if err := t.retarget(in); err != nil {
		return err
	}
	if err := t.rewindow(in, now); err != nil {
		return err
	}
	if in.Code != nil {
		t.Code = nil
		if raw := strings.TrimSpace(*in.Code); raw != "" {
			code, ok := codeKey(raw)
			if !ok {
				return errs.Invalid("code", "a code is 3 to 32 letters, digits, - or _")
			}
			if err := pan.Check("code", code); err != nil {
				return err
			}
			t.Code = &code
		}
	}
	return t.validate()
}

// setOrClear sets *dst to v, or clears it; not both.
func setOrClear[T any](dst **T, v *T, clear bool, field string) error {
	switch {
	case v != nil && clear:
		return errs.Invalid(field, "give a value or clear it, not both")
	case clear:
		*dst = nil
	case v != nil:
		*dst = v
	}
	return nil
}

// retarget aims t at in's segment, saved segment or everyone.
func (t *terms) retarget(in UpdateInput) error {
	given := 0
	for _, set := range []bool{in.Segment != nil, in.SavedSegmentID != nil, in.Everyone} {
		if set {
			given++
		}
	}
	if given > 1 {
		return errs.Invalid("segment", "target a segment, a saved segment or everyone: one of them")
	}
	switch {
	case in.Segment != nil:
		t.Target, t.Segment, t.SavedSegmentID = offer.TargetSEGMENT, in.Segment, nil
	case in.SavedSegmentID != nil:
		t.Target, t.Segment, t.SavedSegmentID = offer.TargetSAVED_SEGMENT, nil, in.SavedSegmentID
	case in.Everyone:
		t.Target, t.Segment, t.SavedSegmentID = offer.TargetEVERYONE, nil, nil
	}
	return nil
}

// rewindow sets t's validity window from in: an end given now must be
// after now, and validDays counts from the window's start.
func (t *terms) rewindow(in UpdateInput, now time.Time) error {
	if in.ValidFrom != nil {
		t.ValidFrom = in.ValidFrom.UTC().Truncate(time.Microsecond)
	}
	ends := 0
	for _, set := range []bool{in.ValidUntil != nil, in.ValidDays != nil, in.ClearValidUntil} {
		if set {
			ends++
		}
	}
	if ends > 1 {
		return errs.Invalid("validUntil", "give validUntil, validDays or clearValidUntil: one of them")
	}
	switch {
	case in.ValidDays != nil:
		if *in.ValidDays < 1 || *in.ValidDays > maxValidDays {
			return errs.Invalid("validDays", "must be 1 to %d", maxValidDays)
		}
		until := t.ValidFrom.Add(time.Duration(*in.ValidDays) * day)
		t.ValidUntil = &until
	case in.ValidUntil != nil:
		until := in.ValidUntil.UTC().Truncate(time.Microsecond)
		t.ValidUntil = &until
	case in.ClearValidUntil:
		t.ValidUntil = nil
	}
	if t.ValidUntil != nil && !t.ValidUntil.After(t.ValidFrom) {
		return errs.Invalid("validUntil", "the window must end after it starts")
	}
	if (in.ValidUntil != nil || in.ValidDays != nil) && !t.ValidUntil.After(now) {
		return errs.Invalid("validUntil", "the window would be over already; end the offer instead")
	}
	return nil
}

// validate checks what t's fields must be together.
func (t *terms) validate() error {
	switch t.Kind {
	case offer.KindPERCENT:
		switch {
		case t.Amount != nil:
			return errs.Invalid("amount", "a PERCENT offer takes percentBp, not an amount")
		case t.PercentBp == nil || *t.PercentBp < 1 || *t.PercentBp > maxBasisPoints:
			return errs.Invalid("percentBp", "a PERCENT offer takes 1 to %d basis points", maxBasisPoints)
		}
	case offer.KindFIXED:
		switch {
		case t.PercentBp != nil:
			return errs.Invalid("percentBp", "a FIXED offer takes an amount, not percentBp")
		case t.MaxDiscount != nil:
			return errs.Invalid("maxDiscount", "a FIXED offer takes no cap: its amount is what it takes")
		case t.Amount == nil || *t.Amount < 1 || *t.Amount > maxAmount:
			return errs.Invalid("amount", "a FIXED offer takes 1 to %d", int64(maxAmount))
		}
	default:
		return errs.Invalid("kind", "must be PERCENT or FIXED")
	}
	for field, v := range map[string]*int64{"maxDiscount": t.MaxDiscount, "minSpend": t.MinSpend} {
		if v != nil && (*v < 1 || *v > maxAmount) {
			return errs.Invalid(field, "must be 1 to %d", int64(maxAmount))
		}
	}
	for field, v := range map[string]*int{"perCustomerLimit": t.PerCustomerLimit, "usageLimit": t.UsageLimit} {
		if v != nil && (*v < 1 || *v > maxLimit) {
			return errs.Invalid(field, "must be 1 to %d", maxLimit)
		}
	}
	if offer.StackingValidator(t.Stacking) != nil {
		return errs.Invalid("stacking", "must be STACKABLE or EXCLUSIVE")
	}
	if t.Segment != nil && offer.SegmentValidator(*t.Segment) != nil {
		return errs.Invalid("segment", "is not a customer segment")
	}
	return nil
}

// check checks what t refers to, as v sees it, in the transaction: the
// saved segment and the store are the merchant's (and a manager's store
// theirs), and no other running offer (than self) has the code.
func (t *terms) check(ctx context.Context, client *ent.Client, v *viewer.Viewer, self pulid.ID) error {
	if t.SavedSegmentID != nil {
		if _, err := client.SavedSegment.Get(ctx, *t.SavedSegmentID); ent.IsNotFound(err) {
			return &errs.Error{Code: errs.NotFound, Field: "savedSegmentId", Message: "saved segment not found"}
		} else if err != nil {
			return fmt.Errorf("loading saved segment: %w", err)
		}
	}
	if t.StoreID != nil {
		if _, err := merchants.StoreFor(ctx, client, v, *t.StoreID, "storeId"); err != nil {
			return err
		}
	}
	if t.Code != nil {
		taken, err := client.Offer.Query().Where(offer.CodeKey(*t.Code), offer.IDNEQ(self)).Exist(ctx)
		if err != nil {
			return fmt.Errorf("checking offer code: %w", err)
		}
		if taken {
			return errCodeTaken
		}
	}
	return nil
}

// set writes t onto an offer's mutation, clearing what t leaves out.
func (t *terms) set(m *ent.OfferMutation) {
	m.SetName(t.Name)
	m.SetDescription(t.Description)
	m.SetTarget(t.Target)
	m.SetValidFrom(t.ValidFrom)
	m.SetStacking(t.Stacking)
	optional(t.PercentBp, m.SetPercentBp, m.ClearPercentBp)
	optional(t.MaxDiscount, m.SetMaxDiscount, m.ClearMaxDiscount)
	optional(t.Amount, m.SetAmount, m.ClearAmount)
	optional(t.MinSpend, m.SetMinSpend, m.ClearMinSpend)
	optional(t.Segment, m.SetSegment, m.ClearSegment)
	optional(t.SavedSegmentID, m.SetSavedSegmentID, m.ClearSavedSegmentID)
	optional(t.ValidUntil, m.SetValidUntil, m.ClearValidUntil)
	optional(t.StoreID, m.SetStoreID, m.ClearStoreID)
	optional(t.PerCustomerLimit, m.SetPerCustomerLimit, m.ClearPerCustomerLimit)
	optional(t.UsageLimit, m.SetUsageLimit, m.ClearUsageLimit)
	optional(t.Code, m.SetCode, m.ClearCode)
	optional(t.Code, m.SetCodeKey, m.ClearCodeKey)
}

// optional sets a nillable field to *v, or clears it.
func optional[T any](v *T, set func(T), clear func()) {
	if v != nil {
		set(*v)
	} else {
		clear()
	}
}

// changes names the terms that differ from was, as the API names them.
func (t *terms) changes(was terms) []string {
	var out []string
	for _, f := range []struct {
		name    string
		changed bool
	}{
		{"name", t.Name != was.Name},
		{"description", t.Description != was.Description},
		{"percentBp", !same(t.PercentBp, was.PercentBp)},
		{"maxDiscount", !same(t.MaxDiscount, was.MaxDiscount)},
		{"amount", !same(t.Amount, was.Amount)},
		{"minSpend", !same(t.MinSpend, was.MinSpend)},
		{"target", t.Target != was.Target},
		{"segment", !same(t.Segment, was.Segment)},
		{"savedSegmentId", !same(t.SavedSegmentID, was.SavedSegmentID)},
		{"validFrom", !t.ValidFrom.Equal(was.ValidFrom)},
		{"validUntil", (t.ValidUntil == nil) != (was.ValidUntil == nil) || t.ValidUntil != nil && !t.ValidUntil.Equal(*was.ValidUntil)},
		{"storeId", !same(t.StoreID, was.StoreID)},
		{"perCustomerLimit", !same(t.PerCustomerLimit, was.PerCustomerLimit)},
		{"usageLimit", !same(t.UsageLimit, was.UsageLimit)},
		{"stacking", t.Stacking != was.Stacking},
		{"code", !same(t.Code, was.Code)},
	} {
		if f.changed {
			out = append(out, f.name)
		}
	}
	return out
}

// same reports whether two optional values are equal.
func same[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// codeShape is what a normalised coupon code looks like.
var codeShape = regexp.MustCompile(`^[A-Z0-9_-]{3,32}$`)

// codeKey normalises a coupon code (trimmed, upper-cased), reporting
// whether it has a code's shape.
func codeKey(code string) (string, bool) {
	key := strings.ToUpper(strings.TrimSpace(code))
	return key, codeShape.MatchString(key)
}

// errCodeTaken reports a coupon code another running offer has.
var errCodeTaken = &errs.Error{Code: errs.Conflict, Field: "code", Message: "another running offer has this code"}

// codeTaken is err as CONFLICT on the code when it is the unique index's:
// another offer took the code after check looked.
func codeTaken(err error) error {
	if ent.IsConstraintError(err) {
		return errCodeTaken
	}
	return fmt.Errorf("saving offer: %w", err)
}
