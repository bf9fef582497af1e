// Package offers runs a merchant's promotions and coupons: a percentage
// (capped) or a fixed amount off a whole order, for everyone, an RFM
// segment or a saved segment, within a validity window, at every store or
// one, with usage limits per customer and overall, a stacking rule and an
// optional coupon code. A sale applies offers through sales.Hooks; each
// use is a redemption of that sale, written in its transaction and given
// back when the sale is voided.
//
// Who may do what: any staff member reads offers and applies them at
// checkout; OWNER and MANAGER create, update and end them (a manager only
// those for every store or for a store they work at). Operators do none
// of it.
package offers

import (
	"context"
	"fmt"
	"time"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/offer"
	"github.com/tillpos/till/ent/offerredemption"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/sales"
)

// Service manages offers and applies them to sales.
type Service struct {
	db  *ent.Client
	now func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (tests move it through offers' windows).
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = func() time.Time { return now().Truncate(time.Microsecond) } }
}

// New returns a Service on client, whose privacy rules confine it to the
// caller's merchant.
func New(client *ent.Client, opts ...Option) *Service {
	s := &Service{db: client, now: db.Now}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// SaleHooks are what offers do inside sales: grant the offers a sale asks
// for and record their uses, and give a use back when its sale is voided.
func (s *Service) SaleHooks() sales.Hooks {
	return sales.Hooks{Discounters: []sales.Discounter{s}, Refunded: []sales.RefundFunc{s.refunded}}
}

// CustomerHooks are what offers do when customers are merged (the
// duplicate's uses move to the survivor, whose per-customer limits then
// count both) and exported (the offers they redeemed).
func (s *Service) CustomerHooks() customers.Hooks {
	return customers.Hooks{
		Merged:   []func(context.Context, *ent.Tx, pulid.ID, pulid.ID, pulid.ID) error{merged},
		Exported: map[string]func(context.Context, *ent.Client, pulid.ID) (any, error){"offers": exported},
	}
}

// managers are the roles that create, update and end offers.
var managers = []viewer.Role{viewer.RoleOwner, viewer.RoleManager}

// staffViewer returns the staff viewer in ctx, or FORBIDDEN; with roles,
// the viewer must hold one of them.
func staffViewer(ctx context.Context, roles ...viewer.Role) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	if !v.IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff work with its offers")
	}
	if len(roles) > 0 && !v.HasRole(roles...) {
		return nil, errs.Newf(errs.Forbidden, "only an owner or a manager may change offers")
	}
	return v, nil
}

// Query is the caller's merchant's offers, for staff.
//
// Errors: FORBIDDEN (not staff).
func (s *Service) Query(ctx context.Context) (*ent.OfferQuery, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	return s.db.Offer.Query(), nil
}

// ByCode returns the running (not ended) offer with a coupon code,
// whatever its case, or nil.
//
// Errors: FORBIDDEN (not staff).
func (s *Service) ByCode(ctx context.Context, code string) (*ent.Offer, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	key, ok := codeKey(code)
	if !ok {
		return nil, nil
	}
	o, err := s.db.Offer.Query().Where(offer.CodeKey(key)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up offer code: %w", err)
	}
	return o, nil
}

// merged moves a merged duplicate's offer uses to the survivor, in the
// merge's transaction.
func merged(ctx context.Context, tx *ent.Tx, _, from, to pulid.ID) error {
	if _, err := tx.OfferRedemption.Update().Where(offerredemption.CustomerID(from)).SetCustomerID(to).Save(ctx); err != nil {
		return fmt.Errorf("moving offer redemptions: %w", err)
	}
	return nil
}

// exported is the offers a customer redeemed, oldest first, for their
// data export.
func exported(ctx context.Context, client *ent.Client, id pulid.ID) (any, error) {
	uses, err := client.OfferRedemption.Query().
		Where(offerredemption.CustomerID(id)).
		WithOffer().
		Order(ent.Asc(offerredemption.FieldAt), ent.Asc(offerredemption.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading offer redemptions: %w", err)
	}
	out := make([]map[string]any, 0, len(uses))
	for _, u := range uses {
		out = append(out, map[string]any{
			"offer": u.OfferID, "name": u.Edges.Offer.Name, "sale": u.SaleID,
			"amount": u.Amount, "at": u.At, "voidedAt": u.VoidedAt,
		})
	}
	return out, nil
}
