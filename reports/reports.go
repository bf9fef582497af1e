// Package reports serves the dashboard: sales Totals, trends, a weekday ×
// hour heatmap, breakdowns by tender, staff and device, and product
// performance, for a store or all stores and a period of local days.
//
// Nothing here reads sales. Every sale, refund and void adds itself to
// rollup rows inside its own transaction (SaleHooks): per store, local day
// and hour (SalesHour), per day and tender type, cashier or terminal
// (SalesFacetDay), and per day and product (ProductDay). A report reads the
// rows of its days through the rollups' (merchant, store, date) key, so it
// costs the same for a merchant with a thousand sales as with millions.
//
// Who may: owners see every store, managers the stores they work at;
// cashiers are FORBIDDEN.
package reports

import (
	"time"

	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/sales"
)

// Service keeps the rollups and answers reports from them.
type Service struct {
	db  *ent.Client
	now func() time.Time
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock presets such as TODAY resolve against.
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = now }
}

// New returns a Service.
func New(client *ent.Client, opts ...Option) *Service {
	s := &Service{db: client, now: db.Now}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// SaleHooks keep the rollups in every sale's and refund's transaction.
func (s *Service) SaleHooks() sales.Hooks {
	return sales.Hooks{
		Recorded: []sales.SaleFunc{recorded},
		Refunded: []sales.RefundFunc{refunded},
	}
}
