// Package feed tells a till's offline cache what changed in the catalog
// and the customers since it last asked: every product and customer
// updated after a cursor, oldest first, inactive, archived, merged and
// erased ones included so that the cache drops them.
//
// The classic race of such feeds is a transaction that commits after a
// reader has moved past its rows' updated_at: the reader never sees them.
// Rows are stamped when written, not when committed, so the feed returns
// only rows stamped at least SettleLag ago; a transaction that commits
// within SettleLag of stamping its rows is never missed. Every staff
// member reads the feed; tenant filtering is the ent client's.
package feed

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/predicate"
	"github.com/tillpos/till/ent/product"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
)

// SettleLag is how old a change must be before the feed returns it: longer
// than any catalog or customer transaction takes from stamping a row to
// committing it, plus the clock skew between replicas.
const SettleLag = 2 * time.Second

// Page sizes: how many of each kind of change one call returns.
const (
	DefaultFirst = 100
	MaxFirst     = 500
)

// Service reads the change feed.
type Service struct {
	db  *ent.Client
	now func() time.Time
}

// New returns a Service reading client (tenant-filtered by its privacy
// rules) with the time from now (time.Now when nil).
func New(client *ent.Client, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: client, now: now}
}

// Page is one answer of the feed.
type Page struct {
	Products  []*ent.Product
	Customers []*ent.Customer
	// Cursor is where the next call starts.
	Cursor string
	// HasMore says more changes have settled than this page holds.
	HasMore bool
}

// Changes returns up to first (DefaultFirst when nil) products and as many
// customers changed after since (from the beginning when nil or empty),
// ordered by (updated_at, id), and only those changed at least SettleLag
// ago.
//
// Errors: FORBIDDEN (not a merchant's staff member), BAD_USER_INPUT (first
// outside 1..MaxFirst, a since that is not a cursor of this feed).
func (s *Service) Changes(ctx context.Context, since *string, first *int) (*Page, error) {
	if !viewer.FromContext(ctx).IsStaff() {
		return nil, errs.Newf(errs.Forbidden, "only a merchant's staff read its changes")
	}
	n := DefaultFirst
	if first != nil {
		n = *first
	}
	if n < 1 || n > MaxFirst {
		return nil, errs.Invalid("first", "must be 1 to %d", MaxFirst)
	}
	var from cursor
	if since != nil && *since != "" {
		var err error
		if from, err = decode(*since); err != nil {
			return nil, err
		}
	}
	settled := s.now().Add(-SettleLag).Truncate(time.Microsecond)
	products, err := s.db.Product.Query().
		Where(predicate.Product(window(from.Products, settled))).
		Order(product.ByUpdatedAt(), product.ByID()).Limit(n + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading changed products: %w", err)
	}
	customers, err := s.db.Customer.Query().
		Where(predicate.Customer(window(from.Customers, settled))).
		Order(customer.ByUpdatedAt(), customer.ByID()).Limit(n + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading changed customers: %w", err)
	}
	page := &Page{}
	var moreProducts, moreCustomers bool
	page.Products, from.Products, moreProducts = upTo(products, n, from.Products, func(p *ent.Product) position {
		return position{At: p.UpdatedAt.UTC(), ID: p.ID}
	})
	page.Customers, from.Customers, moreCustomers = upTo(customers, n, from.Customers, func(c *ent.Customer) position {
		return position{At: c.UpdatedAt.UTC(), ID: c.ID}
	})
	page.HasMore = moreProducts || moreCustomers
	page.Cursor = from.encode()
	return page, nil
}

// position is the last change of one kind a reader has seen.
type position struct {
	At time.Time `json:"t"`
	ID pulid.ID  `json:"id"`
}

// cursor is where a reader stands in each kind of change; the zero
// position is the beginning.
type cursor struct {
	Products  position `json:"p"`
	Customers position `json:"c"`
}

// encode makes c opaque: base64url of its JSON.
func (c cursor) encode() string {
	raw, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decode(s string) (cursor, error) {
	var c cursor
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return cursor{}, errs.Invalid("since", "is not a cursor from changes")
	}
	return c, nil
}

// window selects rows after from (every row when from is zero) stamped no
// later than settled. Products and customers share the column names.
func window(from position, settled time.Time) func(*sql.Selector) {
	return func(s *sql.Selector) {
		at, id := s.C(product.FieldUpdatedAt), s.C(product.FieldID)
		s.Where(sql.LTE(at, settled))
		if !from.At.IsZero() {
			s.Where(sql.Or(sql.GT(at, from.At), sql.And(sql.EQ(at, from.At), sql.GT(id, string(from.ID)))))
		}
	}
}

// upTo returns the first n rows, the position of the last one returned
// (from when none) and whether there were more.
func upTo[T any](rows []T, n int, from position, pos func(T) position) ([]T, position, bool) {
	more := len(rows) > n
	if more {
		rows = rows[:n]
	}
	if len(rows) > 0 {
		from = pos(rows[len(rows)-1])
	}
	return rows, from, more
}
