// Package sales records sales and everything that follows from them:
// checkout with server-computed totals and split tenders, idempotent
// retries and offline uploads, gapless receipt numbers per store, refunds,
// voids and exchanges, freezing disputed sales, merchant limits and risk
// rules.
//
// A sale and everything it implies (lines, tenders, customer aggregates,
// the store's counters, the cashier's day, the outbox event, the audit
// entry) commit in one transaction.
//
// Who may do what: staff sell, refund and void at the stores they work at
// (the owner at all of them), within the merchant's limits; the owner (or a
// platform operator) freezes, unfreezes and reviews sales; the owner sets
// the limits and risk rules; owners and managers keep the risk list.
package sales

import (
	"context"
	sqldb "database/sql"
	"errors"
	"log/slog"
	"time"

	"github.com/tillpos/till/customers"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/ent/tender"
	"github.com/tillpos/till/errs"
)

// Service records and refunds sales.
type Service struct {
	db    *ent.Client
	hooks Hooks
	log   *slog.Logger
	now   func() time.Time
}

// Hooks are what other domains do inside a sale's or refund's
// transaction: loyalty points and rewards, stored value, offers. Each
// domain brings its own, and WithHooks adds them up. A balance tender
// whose type no domain pays is refused.
type Hooks struct {
	// Tenders pay balance tenders (STORED_VALUE, LOYALTY) from the sale's
	// customer's balance, by tender type, refusing to take it below zero.
	Tenders map[tender.Type]TenderFunc
	// Discounters grant the discounts a sale asks for (rewards, offers).
	Discounters []Discounter
	// Recorded run once a sale, its lines and its tenders are written
	// (points are earned).
	Recorded []SaleFunc
	// Refunded run once a refund, void or exchange return and its refund
	// tenders are written: points reversed, balances paid back, an
	// offer's use given back.
	Refunded []RefundFunc
	// DayClosed reports whether a store's business day (YYYY-MM-DD) has
	// been closed (settled), after which its sales are refunded, not
	// voided. It runs in the void's transaction, so that it can lock the
	// day against a close running at the same time. The end-of-day close
	// sets it; until then a day is open until the store's midnight.
	DayClosed func(ctx context.Context, tx *ent.Tx, storeID pulid.ID, date string) (bool, error)
}

// TenderFunc pays a balance tender t of sale.
type TenderFunc func(ctx context.Context, tx *ent.Tx, sale *ent.Sale, t *ent.Tender) error

// SaleFunc follows a sale written in tx, with the tenders written for it.
type SaleFunc func(ctx context.Context, tx *ent.Tx, sale *ent.Sale, tenders []*ent.Tender) error

// RefundFunc follows a refund r of sale written in tx.
type RefundFunc func(ctx context.Context, tx *ent.Tx, sale *ent.Sale, r *ent.Refund) error

// add adds o's hooks to h's.
func (h *Hooks) add(o Hooks) {
	for typ, pay := range o.Tenders {
		if h.Tenders == nil {
			h.Tenders = map[tender.Type]TenderFunc{}
		}
		h.Tenders[typ] = pay
	}
	h.Discounters = append(h.Discounters, o.Discounters...)
	h.Recorded = append(h.Recorded, o.Recorded...)
	h.Refunded = append(h.Refunded, o.Refunded...)
	if o.DayClosed != nil {
		h.DayClosed = o.DayClosed
	}
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock (tests move it across business days).
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = func() time.Time { return now().Truncate(time.Microsecond) } }
}

// WithLogger sets where failures that do not fail a request are logged.
func WithLogger(log *slog.Logger) Option {
	return func(s *Service) { s.log = log }
}

// WithHooks adds what a domain does inside sales and refunds.
func WithHooks(h Hooks) Option {
	return func(s *Service) { s.hooks.add(h) }
}

// New returns a Service.
func New(client *ent.Client, opts ...Option) *Service {
	s := &Service{db: client, log: slog.Default(), now: db.Now}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// customerByID loads a customer for a sale, following merges to the
// survivor, or NOT_FOUND naming field.
func customerByID(ctx context.Context, client *ent.Client, id pulid.ID, field string) (*ent.Customer, error) {
	c, err := customers.Resolve(ctx, client, id)
	if ent.IsNotFound(err) {
		return nil, &errs.Error{Code: errs.NotFound, Field: field, Message: "customer not found"}
	}
	return c, err
}

// businessDate is the store's local date of t, YYYY-MM-DD.
func businessDate(st *ent.Store, t time.Time) string {
	loc, err := time.LoadLocation(st.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format(time.DateOnly)
}

// isNoRows reports whether err is an upsert that did nothing.
func isNoRows(err error) bool { return errors.Is(err, sqldb.ErrNoRows) }
