package customers

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect/sql"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/customer"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/pii"
)

// LookupKey is how a cashier recognises a customer: exactly one of these.
type LookupKey struct {
	Phone, Email, MemberCode *string
}

// Lookup finds the customer with exactly this phone, email or member code
// in one index lookup, or returns nil. A merged customer's old card finds
// the customer it was merged into; erased customers are never found.
func (s *Service) Lookup(ctx context.Context, key LookupKey) (*ent.Customer, error) {
	v, err := staffViewer(ctx)
	if err != nil {
		return nil, err
	}
	given := 0
	for _, k := range []*string{key.Phone, key.Email, key.MemberCode} {
		if k != nil && strings.TrimSpace(*k) != "" {
			given++
		}
	}
	if given != 1 {
		return nil, errs.Invalid("phone", "give exactly one of phone, email and memberCode")
	}
	q := s.db.Customer.Query().Where(customer.StatusNEQ(customer.StatusERASED))
	switch {
	case key.Phone != nil && strings.TrimSpace(*key.Phone) != "":
		_, index, err := s.phoneKey(ctx, v.MerchantID, *key.Phone)
		if err != nil {
			return nil, err
		}
		q.Where(customer.PhoneIndex(index))
	case key.Email != nil && strings.TrimSpace(*key.Email) != "":
		_, index, err := s.emailKey(v.MerchantID, *key.Email)
		if err != nil {
			return nil, err
		}
		q.Where(customer.EmailIndex(index))
	default:
		q.Where(customer.MemberCode(strings.TrimSpace(*key.MemberCode)))
	}
	c, err := q.Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up customer: %w", err)
	}
	if c, err = followMerges(c, func(id pulid.ID) (*ent.Customer, error) { return s.db.Customer.Get(ctx, id) }); err != nil {
		return nil, err
	}
	if c.Status == customer.StatusERASED {
		return nil, nil
	}
	return c, nil
}

// Search finds active customers with a name or tag word starting with each
// word of query, best first: the name itself, then names starting with the
// query, then names with a word starting with it, then tag matches; by
// name within each. It scans the merchant's customers (through its
// merchant_id index) with the same LIKE on both engines; recognition by
// phone, email or card goes through Lookup instead. When nothing matches
// so, it returns the names near the query instead (nearNames), for typos.
// Ranked results page by position: the cursor carries the offset.
func (s *Service) Search(ctx context.Context, query string, after *entgql.Cursor[pulid.ID], first *int) (*ent.CustomerConnection, error) {
	if _, err := staffViewer(ctx); err != nil {
		return nil, err
	}
	words := strings.Fields(strings.ToLower(query))
	if len(words) == 0 {
		return nil, errs.Invalid("query", "must not be empty")
	}
	offset := 0
	if after != nil {
		n, err := strconv.Atoi(fmt.Sprint(after.Value))
		if err != nil || n < 0 {
			return nil, errs.Invalid("after", "is not a cursor from searchCustomers")
		}
		offset = n
	}
	limit := 20
	if first != nil {
		limit = *first
	}
	q := s.db.Customer.Query().Where(customer.StatusEQ(customer.StatusACTIVE))
	for _, w := range words {
		q.Where(customer.SearchTextContains(" " + w))
	}
	total, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("counting customers: %w", err)
	}
	var rows []*ent.Customer
	if total > 0 {
		rows, err = q.Order(rankByName(strings.Join(words, " ")), customer.ByName(), customer.ByID()).
			Offset(offset).Limit(limit + 1).All(ctx)
	} else {
		// Nothing starts with the query: perhaps it has a typo.
		rows, err = s.nearNames(ctx, strings.Join(words, " "))
		total = len(rows)
		rows = rows[min(offset, total):min(offset+limit+1, total)]
	}
	if err != nil {
		return nil, fmt.Errorf("searching customers: %w", err)
	}
	conn := &ent.CustomerConnection{TotalCount: total, Edges: []*ent.CustomerEdge{}}
	conn.PageInfo.HasPreviousPage = offset > 0
	if len(rows) > limit {
		conn.PageInfo.HasNextPage, rows = true, rows[:limit]
	}
	for i, c := range rows {
		conn.Edges = append(conn.Edges, &ent.CustomerEdge{Node: c, Cursor: ent.Cursor{ID: c.ID, Value: offset + i + 1}})
	}
	if len(conn.Edges) > 0 {
		conn.PageInfo.StartCursor = &conn.Edges[0].Cursor
		conn.PageInfo.EndCursor = &conn.Edges[len(conn.Edges)-1].Cursor
	}
	return conn, nil
}

// rankByName orders customers by how well their name matches phrase (see
// Search). Both sides are lower-case, so LIKE behaves the same on SQLite
// (case-insensitive) and PostgreSQL (case-sensitive).
func rankByName(phrase string) customer.OrderOption {
	pattern := likeEscaper.Replace(phrase)
	return func(s *sql.Selector) {
		col := s.C(customer.FieldNameKey)
		// A predicate, not OrderExprFunc: only a predicate carries its
		// arguments into the query.
		s.OrderExpr(sql.P(func(b *sql.Builder) {
			b.WriteString("CASE WHEN " + col + " = ").Arg(phrase).
				WriteString(" THEN 0 WHEN " + col + " LIKE ").Arg(pattern + "%").WriteString(` ESCAPE '\' THEN 1`).
				WriteString(" WHEN ' ' || " + col + " LIKE ").Arg("% " + pattern + "%").WriteString(` ESCAPE '\' THEN 2`).
				WriteString(" ELSE 3 END")
		}))
	}
}

// likeEscaper makes a LIKE pattern match its text literally.
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// pageByName pages through q's customers in name order.
func pageByName(ctx context.Context, q *ent.CustomerQuery, after *entgql.Cursor[pulid.ID], first *int) (*ent.CustomerConnection, error) {
	return q.Paginate(ctx, after, first, nil, nil,
		ent.WithCustomerOrder([]*ent.CustomerOrder{{Field: ent.CustomerOrderFieldName, Direction: entgql.OrderDirectionAsc}}))
}

// View is how the caller may see a customer's contact details.
type View struct {
	Contact
	// Masked says phone and email are masked and address withheld, as
	// they are for cashiers and operators.
	Masked bool
}

// ContactMasked reports whether the caller sees contact details masked:
// everyone but the merchant's owner and managers (and system jobs), that
// is cashiers and platform operators.
func ContactMasked(ctx context.Context) bool {
	v := viewer.FromContext(ctx)
	return !(v != nil && v.Kind == viewer.KindSystem || v.IsStaff() && v.HasRole(viewer.RoleOwner, viewer.RoleManager))
}

// ContactDetail decrypts one of c's contact details as the caller may see
// it: whole, or masked (phone, email) or withheld (address). Only that
// detail is decrypted, so a list showing phones opens nothing else.
func (s *Service) ContactDetail(ctx context.Context, c *ent.Customer, d Detail) (*string, error) {
	masked := ContactMasked(ctx)
	if masked && d == Address {
		return nil, nil
	}
	plain, err := s.openDetail(c, d)
	if err != nil || plain == nil || !masked {
		return plain, err
	}
	shown := pii.MaskEmail(*plain)
	if d == Phone {
		shown = pii.MaskPhone(*plain)
	}
	return &shown, nil
}

// ContactView decrypts c's contact details as the caller may see them.
func (s *Service) ContactView(ctx context.Context, c *ent.Customer) (View, error) {
	view := View{Masked: ContactMasked(ctx)}
	for _, d := range []Detail{Phone, Email, Address} {
		shown, err := s.ContactDetail(ctx, c, d)
		if err != nil {
			return View{}, err
		}
		*d.in(&view.Contact) = shown
	}
	return view, nil
}

// Reveal returns a customer's full contact details and audits it: OWNER
// and MANAGER always, CASHIER when the owner allows it for the merchant.
func (s *Service) Reveal(ctx context.Context, id pulid.ID) (Contact, error) {
	v, err := staffViewer(ctx)
	if err != nil {
		return Contact{}, err
	}
	if v.Role == viewer.RoleCashier {
		m, err := s.db.Merchant.Get(ctx, v.MerchantID)
		if err != nil {
			return Contact{}, fmt.Errorf("loading merchant: %w", err)
		}
		if !m.CashiersSeeFullContact {
			return Contact{}, errs.Newf(errs.Forbidden, "the owner has not allowed cashiers to see full contact details")
		}
	}
	c, err := get(ctx, s.db, id)
	if err != nil {
		return Contact{}, err
	}
	contact, err := s.open(c)
	if err != nil {
		return Contact{}, err
	}
	return contact, audit.Record(ctx, s.db, audit.Entry{Action: "customer.contact_revealed", TargetType: "Customer", TargetID: c.ID})
}

// AverageTicket is what c spends per visit, in minor units, a half rounded
// away from zero; nil before the first visit.
func AverageTicket(c *ent.Customer) *int64 {
	if c.VisitsCount <= 0 {
		return nil
	}
	visits := int64(c.VisitsCount)
	avg, rem := c.TotalSpent/visits, c.TotalSpent%visits
	switch {
	case 2*rem >= visits:
		avg++
	case -2*rem >= visits:
		avg--
	}
	return &avg
}
